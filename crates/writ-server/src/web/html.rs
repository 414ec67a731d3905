//! HTML building blocks: one strict escaping helper and the page layout.
//!
//! Every value that did not come from this file goes through [`esc`] (text
//! and attribute values alike: it escapes `&`, `<`, `>`, `"` and `'`), so a
//! requester's reason containing markup renders as text. Pages carry no
//! inline script or style: the CSP (see `super::SECURITY_HEADERS`) forbids
//! both.

use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query parameter value.
pub fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Which top-level page is shown (for the navigation's `aria-current`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Proofs,
    Lineage,
    Health,
    Demo,
    Console,
}

/// A whole page: `title` (escaped here), `main` (already-built HTML) and the
/// ES modules to load (paths under `/web/assets/`, constants of this crate).
pub fn page(title: &str, nav: Nav, main: &str, scripts: &[&str]) -> String {
    page_with_head(title, nav, "", main, scripts)
}

/// [`page`] with `head` (already-built HTML, e.g. a refresh `<meta>`)
/// added to the document's head.
pub fn page_with_head(title: &str, nav: Nav, head: &str, main: &str, scripts: &[&str]) -> String {
    let cur = |n: Nav| if n == nav { " aria-current=\"page\"" } else { "" };
    let mut s = String::with_capacity(main.len() + 2048);
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · writ</title>\n<link rel=\"stylesheet\" href=\"/web/assets/style.css\">\n\
         <link rel=\"icon\" href=\"data:,\">\n{head}",
        esc(title)
    );
    for src in scripts {
        let _ = writeln!(s, "<script type=\"module\" src=\"/web/assets/{}\"></script>", esc(src));
    }
    let _ = write!(
        s,
        "</head>\n<body>\n<a class=\"skip-link\" href=\"#main\">Skip to content</a>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/proofs\">writ</a>\n\
         <nav aria-label=\"Main\"><a href=\"/proofs\"{}>Proof Viewer</a> \
         <a href=\"/lineage\"{}>Lineage Explorer</a> <a href=\"/lineage/gaps\">Gap report</a> \
         <a href=\"/health\"{}>Health</a> <a href=\"/demo\"{}>Demo</a> <a href=\"/console\"{}>Console</a></nav></header>\n\
         <main id=\"main\">\n{main}\n</main>\n\
         <footer><p>Served by <code>writ serve</code>. Every check on these pages runs in your browser with \
         writ-core compiled to WebAssembly, against the trust root you pinned; the server is not trusted.</p></footer>\n\
         </body>\n</html>\n",
        cur(Nav::Proofs),
        cur(Nav::Lineage),
        cur(Nav::Health),
        cur(Nav::Demo),
        cur(Nav::Console),
    );
    s
}

/// The notice every verifying page shows when scripts do not run.
pub const NOSCRIPT: &str = "<noscript><p class=\"notice warn\">Verification needs JavaScript: \
the checks run in this page with writ-core compiled to WebAssembly. Everything below is readable \
without it, but nothing below has been verified.</p></noscript>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
        assert_eq!(url("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
