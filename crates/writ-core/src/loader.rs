//! Loader and interpreter variables: environment variables that choose *how*
//! a program loads or what code its runtime runs before (or instead of) the
//! program's own — `LD_PRELOAD`, `PYTHONSTARTUP`, `BASH_ENV`, `NODE_OPTIONS`
//! and the like.
//!
//! A writ binds a program by its digest; any of these variables can make that
//! program run other code (a preloaded library's constructor, a startup
//! script, an extra module path), so a requester who may set one can run what
//! nobody approved. writ therefore refuses them at request intake unless a
//! policy permits that exact name (and the approver sees it flagged), and the
//! gate refuses to launch with one in the environment unless the writ gives it
//! a fixed value.
//!
//! The list is the glibc dynamic loader's own list of variables it drops for
//! set-user-ID programs (`elf/unsecvars.h`, plus `LD_*` as a whole, since the
//! loader reads every `LD_` variable it knows and new ones get added), and
//! the startup variables documented by the common shells and interpreters.
//! It is deliberately wide: a false positive costs a policy annotation, a
//! false negative costs code execution. Names are case-sensitive, as they are
//! on Linux.
//!
//! Not listed: `PATH` (it chooses which program a name resolves to, and the
//! gate never searches it for the governed program; writs that allow it fix
//! or constrain it like any other variable), `TMPDIR` (in glibc's list only
//! because it steers where set-user-ID programs create files; it loads no
//! code) and `TZ`.
//!
//! ```
//! use writ_core::loader::{is_loader_variable, lookup};
//! assert!(is_loader_variable("LD_PRELOAD"));
//! assert!(is_loader_variable("PYTHONSTARTUP"));
//! assert!(is_loader_variable("BASH_FUNC_echo%%"));
//! assert!(!is_loader_variable("HOME"));
//! assert!(!is_loader_variable("ld_preload"), "names are case-sensitive");
//! assert_eq!(lookup("GCONV_PATH").map(|v| v.honoured_by), Some("glibc iconv (loads gconv modules)"));
//! ```

/// One entry of the list: an exact name, or a prefix that covers a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderVariable {
    /// The variable's name, or the prefix of the family when `prefix` is set.
    pub name: &'static str,
    /// Whether `name` is a prefix (`LD_` covers `LD_PRELOAD`, `LD_AUDIT`, …).
    pub prefix: bool,
    /// Who honours it and what it does (shown to approvers).
    pub honoured_by: &'static str,
}

const fn exact(name: &'static str, honoured_by: &'static str) -> LoaderVariable {
    LoaderVariable { name, prefix: false, honoured_by }
}

const fn prefix(name: &'static str, honoured_by: &'static str) -> LoaderVariable {
    LoaderVariable { name, prefix: true, honoured_by }
}

/// The documented list, grouped by who honours the variable.
pub const LOADER_VARIABLES: &[LoaderVariable] = &[
    // The dynamic loader (glibc ld.so, musl): every LD_ variable.
    prefix("LD_", "the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, …)"),
    // glibc elf/unsecvars.h, beyond LD_*.
    exact("GCONV_PATH", "glibc iconv (loads gconv modules)"),
    exact("GETCONF_DIR", "glibc getconf"),
    exact("GLIBC_TUNABLES", "glibc tunables"),
    exact("HOSTALIASES", "glibc resolver"),
    exact("LOCALDOMAIN", "glibc resolver"),
    exact("LOCPATH", "glibc locale loading"),
    prefix("MALLOC_", "glibc malloc (MALLOC_TRACE, MALLOC_CHECK_, …) and jemalloc (MALLOC_CONF)"),
    exact("NIS_PATH", "glibc NIS"),
    exact("NLSPATH", "glibc message catalogs"),
    exact("RESOLV_HOST_CONF", "glibc resolver"),
    exact("RES_OPTIONS", "glibc resolver"),
    exact("TZDIR", "glibc time zone loading"),
    // Shells.
    exact("BASH_ENV", "bash (a file sourced by every non-interactive shell)"),
    exact("ENV", "sh, dash, ksh, bash in POSIX mode (a file sourced at startup)"),
    prefix("BASH_FUNC_", "bash (exported function definitions)"),
    exact("SHELLOPTS", "bash (shell options, e.g. xtrace)"),
    exact("BASHOPTS", "bash (shopt options)"),
    exact("PS4", "bash, dash (expanded, with command substitution, under xtrace)"),
    exact("PROMPT_COMMAND", "bash (run before each prompt)"),
    exact("IFS", "POSIX shells (word splitting)"),
    exact("CDPATH", "POSIX shells (cd search path)"),
    exact("ZDOTDIR", "zsh (directory of startup files)"),
    // Interpreters and runtimes.
    prefix("PYTHON", "CPython (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, PYTHONINSPECT, …)"),
    exact("NODE_OPTIONS", "Node.js (--require and other flags)"),
    exact("NODE_PATH", "Node.js (module search path)"),
    exact("NODE_REPL_EXTERNAL_MODULE", "Node.js (a module run instead of the REPL)"),
    exact("PERL5OPT", "perl (command-line switches, e.g. -M)"),
    exact("PERL5LIB", "perl (module search path)"),
    exact("PERLLIB", "perl (module search path)"),
    exact("PERL5DB", "perl (debugger code)"),
    exact("RUBYOPT", "ruby (command-line options, e.g. -r)"),
    exact("RUBYLIB", "ruby (library search path)"),
    exact("GEM_HOME", "rubygems (where gems load from)"),
    exact("GEM_PATH", "rubygems (where gems load from)"),
    exact("BUNDLE_GEMFILE", "bundler (which Gemfile loads)"),
    exact("JAVA_TOOL_OPTIONS", "the JVM (options incl. -javaagent)"),
    exact("_JAVA_OPTIONS", "the JVM (options incl. -javaagent)"),
    exact("JDK_JAVA_OPTIONS", "the java launcher (options incl. -javaagent)"),
    exact("JAVA_OPTS", "java launcher scripts (options)"),
    exact("JAVA_HOME", "java launcher scripts (which JVM runs)"),
    exact("CLASSPATH", "the JVM (class search path)"),
    exact("LUA_INIT", "lua (code run at startup)"),
    prefix("LUA_PATH", "lua (module search path)"),
    prefix("LUA_CPATH", "lua (C module search path)"),
    exact("TCLLIBPATH", "tcl (package search path)"),
    exact("PHPRC", "php (php.ini location, auto_prepend_file)"),
    exact("PHP_INI_SCAN_DIR", "php (extra ini files)"),
    exact("DOTNET_STARTUP_HOOKS", ".NET (assemblies run at startup)"),
    prefix("CORECLR_", ".NET (profiler libraries loaded at startup)"),
    prefix("COR_PROFILER", ".NET Framework (profiler libraries)"),
    exact("GOFLAGS", "the go command (build flags, e.g. -toolexec)"),
    exact("GOTOOLCHAIN", "the go command (which toolchain runs)"),
    // Libraries that load code or run commands from configuration.
    exact("OPENSSL_CONF", "OpenSSL (configuration, which can load engines and providers)"),
    exact("OPENSSL_ENGINES", "OpenSSL (engine directory)"),
    exact("OPENSSL_MODULES", "OpenSSL (provider directory)"),
    exact("GTK_MODULES", "GTK (modules loaded at startup)"),
    exact("GIO_EXTRA_MODULES", "GLib (extra modules)"),
    exact("GST_PLUGIN_PATH", "GStreamer (plugin search path)"),
    exact("QT_PLUGIN_PATH", "Qt (plugin search path)"),
    exact("LESSOPEN", "less (input preprocessor command)"),
    exact("LESSCLOSE", "less (post-processor command)"),
    // git: variables that run commands or choose the configuration (which can
    // set core.fsmonitor, core.sshCommand, hooks, …).
    exact("GIT_EXEC_PATH", "git (where git subcommands load from)"),
    exact("GIT_SSH", "git (ssh command)"),
    exact("GIT_SSH_COMMAND", "git (ssh command)"),
    exact("GIT_ASKPASS", "git (credential prompt command)"),
    exact("GIT_PROXY_COMMAND", "git (proxy command)"),
    exact("GIT_EXTERNAL_DIFF", "git (diff command)"),
    exact("GIT_PAGER", "git (pager command)"),
    exact("GIT_EDITOR", "git (editor command)"),
    exact("GIT_SEQUENCE_EDITOR", "git (rebase editor command)"),
    exact("GIT_TEMPLATE_DIR", "git (templates, including hooks)"),
    exact("GIT_DIR", "git (which repository, and so which config and hooks)"),
    exact("GIT_COMMON_DIR", "git (which repository, and so which config and hooks)"),
    prefix("GIT_CONFIG", "git (GIT_CONFIG, GIT_CONFIG_GLOBAL, GIT_CONFIG_COUNT, GIT_CONFIG_KEY_n, …)"),
    exact("SSH_ASKPASS", "ssh (password prompt command)"),
];

/// The list entry that covers `name`, if any.
pub fn lookup(name: &str) -> Option<&'static LoaderVariable> {
    LOADER_VARIABLES.iter().find(|v| if v.prefix { name.starts_with(v.name) } else { name == v.name })
}

/// Whether `name` is a loader or interpreter variable (see the module docs):
/// one whose value can make a program load or run code other than its own.
pub fn is_loader_variable(name: &str) -> bool {
    lookup(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_attack_and_each_family_is_listed() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "LD_SOME_FUTURE_VARIABLE",
            "GCONV_PATH",
            "GETCONF_DIR",
            "HOSTALIASES",
            "LOCALDOMAIN",
            "RES_OPTIONS",
            "MALLOC_CHECK_",
            "MALLOC_CONF",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PYTHONHOME",
            "NODE_OPTIONS",
            "NODE_PATH",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_ls%%",
            "PERL5OPT",
            "PERL5LIB",
            "PERLLIB",
            "RUBYOPT",
            "RUBYLIB",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "CLASSPATH",
            "GIT_EXEC_PATH",
            "GIT_SSH_COMMAND",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_PARAMETERS",
            "LUA_PATH_5_4",
            "OPENSSL_CONF",
            "GLIBC_TUNABLES",
        ] {
            assert!(is_loader_variable(name), "{name} must be listed");
        }
    }

    #[test]
    fn ordinary_variables_are_not() {
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "TERM",
            "USER",
            "TMPDIR",
            "TZ",
            "NODE_ENV",
            "GIT_AUTHOR_NAME",
            "",
            "L",
            "LD",
            "ld_preload",
        ] {
            assert!(!is_loader_variable(name), "{name} must not be listed");
        }
    }

    #[test]
    fn every_entry_is_well_formed_and_unique() {
        for (i, v) in LOADER_VARIABLES.iter().enumerate() {
            assert!(!v.name.is_empty() && !v.honoured_by.is_empty());
            assert!(v.name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'), "{}", v.name);
            for w in LOADER_VARIABLES.iter().skip(i + 1) {
                assert_ne!(v.name, w.name);
                // No exact entry is already covered by an earlier prefix.
                assert!(!(v.prefix && !w.prefix && w.name.starts_with(v.name)), "{} covers {}", v.name, w.name);
            }
        }
        assert_eq!(lookup("LD_PRELOAD").map(|v| v.name), Some("LD_"));
    }
}
