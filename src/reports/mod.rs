//! Reports: what paydown exports for people to read and systems to import.
//!
//! Policy: every text cell written to CSV goes through `neutralise_cell`, so a value a
//! source or a person chose (a name, a title, notes) can never run as a spreadsheet
//! formula (OWASP "CSV injection").
//!
//! Everything here is pure: plain input structs (`input`) in, bytes out. No database, no
//! HTTP, no clock, so a closed period's files are reproducible byte for byte.

pub mod accruals;
pub mod charts;
pub mod export;
pub mod input;
pub mod layout;
pub mod payroll;
pub mod statement_csv;
pub mod statement_html;
pub mod terms;

#[cfg(test)]
mod fixture;
/// Prefixes a cell that a spreadsheet would read as a formula with `'`, so it is shown
/// as text. Numbers paydown writes itself do not go through here.
pub fn neutralise_cell(value: &str) -> std::borrow::Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{value}")),
        _ => std::borrow::Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_triggers_are_neutralised() {
        for dangerous in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"] {
            assert!(neutralise_cell(dangerous).starts_with('\''), "{dangerous:?}");
        }
        for safe in ["Alice", "Tomás Ruiz, Jr.", "田中 健二", "", "1-2"] {
            assert_eq!(neutralise_cell(safe), safe);
        }
    }
}
