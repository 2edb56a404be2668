//! Reports: what paydown exports for people to read and systems to import.
//!
//! Policy: every text cell written to CSV goes through `neutralise_cell`, so a value a
//! source or a person chose (a name, a title, notes) can never run as a spreadsheet
//! formula (OWASP "CSV injection").
//!
//! Everything here is pure: plain input structs (`input`) in, bytes out. No database, no
//! HTTP, no clock, so a closed period's files are reproducible byte for byte.

pub mod accruals;
pub mod changes;
pub mod charts;
pub mod export;
pub mod input;
pub mod layout;
pub mod payroll;
pub mod statement_csv;
pub mod statement_html;
pub mod terms;
pub mod xlsx;

#[cfg(test)]
mod fixture;
/// Characters a spreadsheet skips before it looks for a formula: any Unicode white space
/// (space, TAB, CR, LF, NBSP, U+3000…) and the invisible joiners and byte-order mark.
fn skipped_before_formula(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Characters that start a formula, a DDE call or a command (OWASP's CSV injection list:
/// `= + - @`, TAB, CR, LF, and `|`), with their full-width and small look-alikes and the
/// Unicode minus sign, which spreadsheets may fold to them.
fn starts_formula(c: char) -> bool {
    matches!(
        c,
        '=' | '+'
            | '-'
            | '@'
            | '|'
            | '\t'
            | '\r'
            | '\n'
            | '\u{FF1D}' // ＝
            | '\u{FF0B}' // ＋
            | '\u{FF0D}' // －
            | '\u{FF20}' // ＠
            | '\u{FF5C}' // ｜
            | '\u{FE66}' // ﹦
            | '\u{FE62}' // ﹢
            | '\u{FE63}' // ﹣
            | '\u{FE6B}' // ﹫
            | '\u{2212}' // −
    )
}

/// Prefixes a text cell a spreadsheet could run (its first visible character starts a
/// formula, whatever white space comes before it; or it starts with TAB, CR or LF) with `'`,
/// so it is shown as text. Numbers paydown writes itself do not go through here.
pub fn neutralise_cell(value: &str) -> std::borrow::Cow<'_, str> {
    let first = value.chars().find(|c| !skipped_before_formula(*c));
    let starts_with_control = value.starts_with(['\t', '\r', '\n']);
    if starts_with_control || first.is_some_and(starts_formula) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formula_triggers_are_neutralised() {
        for dangerous in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"] {
            assert!(neutralise_cell(dangerous).starts_with('\''), "{dangerous:?}");
        }
        for safe in ["Alice", "Tomás Ruiz, Jr.", "田中 健二", "", "1-2", " Alice", "a=b"] {
            assert_eq!(neutralise_cell(safe), safe);
        }
    }

    /// Issue 17's findings: a leading space, LF, NBSP, full-width `＝` and `|`.
    #[test]
    fn the_issues_look_alikes_are_neutralised() {
        for dangerous in [
            " =1+1",
            "\n=1+1",
            "\u{A0}=1+1",
            "\u{FF1D}1+1",
            "|calc",
            "cmd|' /C calc'!A0".replacen("cmd", "=cmd", 1).as_str(),
            "\u{3000}+1",
            "\u{FEFF}=1",
            "\u{200B}@SUM(A1)",
            "\u{2212}1+2",
            "\n",
        ] {
            assert!(neutralise_cell(dangerous).starts_with('\''), "{dangerous:?}");
        }
    }

    fn skipped() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(' '),
                Just('\u{A0}'),
                Just('\u{3000}'),
                Just('\u{2007}'),
                Just('\u{202F}'),
                Just('\u{200B}'),
                Just('\u{FEFF}'),
                Just('\t'),
                Just('\r'),
                Just('\n'),
            ],
            0..4,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn trigger() -> impl Strategy<Value = char> {
        prop_oneof![
            Just('='),
            Just('+'),
            Just('-'),
            Just('@'),
            Just('|'),
            Just('\u{FF1D}'),
            Just('\u{FF0B}'),
            Just('\u{FF0D}'),
            Just('\u{FF20}'),
            Just('\u{FF5C}'),
            Just('\u{FE66}'),
            Just('\u{FE62}'),
            Just('\u{FE63}'),
            Just('\u{FE6B}'),
            Just('\u{2212}'),
        ]
    }

    proptest! {
        /// Any text whose first visible character starts a formula is neutralised, whatever
        /// white space precedes it and whatever follows.
        #[test]
        fn every_runnable_cell_is_neutralised(pad in skipped(), start in trigger(), rest in ".{0,20}") {
            let cell = format!("{pad}{start}{rest}");
            let out = neutralise_cell(&cell);
            prop_assert!(out.starts_with('\''), "{:?}", cell);
            prop_assert_eq!(&out[1..], cell.as_str(), "only a quote is added");
        }

        /// Text that starts with a letter or digit is left as it is, and neutralising twice
        /// adds nothing more.
        #[test]
        fn plain_text_is_left_alone(first in "[A-Za-z0-9À-ÿ]", rest in ".{0,20}") {
            let cell = format!("{first}{rest}");
            prop_assert_eq!(neutralise_cell(&cell), cell.as_str());
            let once = neutralise_cell(&cell).into_owned();
            prop_assert_eq!(neutralise_cell(&once), once.as_str());
        }

        /// Numbers paydown writes (decimal strings, negative ones included) stay numbers in the
        /// payroll layouts: they are written raw, not as quoted text.
        #[test]
        fn numbers_stay_numbers(minor in any::<i64>(), scale in 0u32..4) {
            let amount = rust_decimal::Decimal::new(minor, scale);
            for (name, text) in crate::reports::layout::builtin_layouts() {
                let layout = crate::reports::layout::load_layout(text).expect("a shipped layout");
                let written = layout.number.amount(amount, scale).expect("exact");
                prop_assert!(layout.number.is_plain_number(&written), "{} {}", name, written);
            }
        }
    }
}
