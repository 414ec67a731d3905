//! `writ completions SHELL` and `writ man DIR`: generated from the clap
//! definitions, so they never drift from the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

/// Print a shell completion script (e.g. `writ completions bash > /etc/bash_completion.d/writ`).
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Write man pages (`writ.1`, `writ-<command>.1`) into DIR.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The directory (created when missing).
    pub dir: PathBuf,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "writ", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

fn write_page(dir: &std::path::Path, name: &str, cmd: clap::Command) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf).context("render the man page")?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).with_context(|| format!("cannot write `{}`", path.display()))
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create `{}`", args.dir.display()))?;
    let cmd = crate::Cli::command();
    let mut n = 1;
    for sub in cmd.get_subcommands() {
        let name = format!("writ-{}", sub.get_name());
        write_page(
            &args.dir,
            &name,
            sub.clone().display_name(name.clone()).bin_name(format!("writ {}", sub.get_name())),
        )?;
        n += 1;
    }
    write_page(&args.dir, "writ", cmd)?;
    eprintln!("wrote {n} man pages to {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}
