//! Text that people read: what the authority refuses at intake.
//!
//! Reasons, argv, environment, revoke reasons and every other field an
//! approver or operator sees are shown on terminals and web pages. A newline
//! there forges a second line in an approver's listing (a fake `reason:`),
//! an escape sequence rewrites the terminal, a bidirectional override
//! reorders what is read. So these fields refuse control characters (C0,
//! DEL, C1: newlines, tabs and `ESC` included) and the Unicode
//! bidirectional controls; NUL is refused in every field, shown or not.

use crate::error::{AuthorityError, Result};

/// Unicode bidirectional formatting characters (UAX #9) and the invisible
/// marks that reorder or hide text.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuse NUL (`unsafe_text`).
///
/// # Errors
/// [`AuthorityError::UnsafeText`].
pub fn check_no_nul(field: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(AuthorityError::UnsafeText(format!("`{field}` contains a NUL byte; remove it")));
    }
    Ok(())
}

/// Refuse what must not reach a person's screen (`unsafe_text`): NUL,
/// control characters (newlines, tabs, escape sequences) and bidirectional
/// controls.
///
/// # Errors
/// [`AuthorityError::UnsafeText`], naming the field and the character.
pub fn check_display(field: &str, s: &str) -> Result<()> {
    check_no_nul(field, s)?;
    if let Some(c) = s.chars().find(|c| c.is_control() || is_bidi_control(*c)) {
        return Err(AuthorityError::UnsafeText(format!(
            "`{field}` contains the control character U+{:04X}; newlines, tabs, escape sequences and bidirectional controls are refused in text shown to people",
            u32::from(c)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_forges_lines() {
        for bad in ["a\nreason: ok", "a\rb", "\u{1b}[2J", "tab\there", "\u{7f}", "\u{85}", "x\u{202E}y", "\0"] {
            let e = check_display("reason", bad).unwrap_err();
            assert_eq!(e.code(), "unsafe_text", "{bad:?}");
        }
        for ok in ["release 1.2.3", "ünïcödé ok", "quotes \"and\" 'these'", ""] {
            check_display("reason", ok).unwrap();
        }
        assert!(check_no_nul("evidence", "{\"a\":\n1}").is_ok());
        assert!(check_no_nul("evidence", "a\0").is_err());
    }
}
