//! The engineer statement of a period as one self-contained HTML page.
//!
//! The page is printable (a print stylesheet: black on white, repeated table headers, rows
//! not split across pages) and readable on a phone (the totals are a three-column table
//! that fits a 320 px screen; below 40 rem the line table turns each line into a labelled
//! block, so nothing needs horizontal scrolling). It has inline CSS only: no scripts, no
//! fonts, no images, no links to fetch, so it renders the same offline, in a mail client or
//! from an archive years later. Every dynamic value goes through `escape_html`.
//!
//! Times are shown in UTC (`2026-10-03 02:14 UTC`), and the page says so: the ledger stores
//! UTC, and a statement mixing zones across a DST change would be harder to check than one
//! that states its zone once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::input::{PayrollInput, PersonInfo};
use super::terms::Component;
use crate::domain::currency::Currency;

/// One paid line of the statement: a page, a response or a shift, with the pay engine's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// When the paid event happened.
    pub occurred_at: DateTime<Utc>,
    /// The pay component.
    pub component: String,
    /// Signed quantity in `unit`.
    pub quantity: Decimal,
    /// `count`, `minutes`, `hours` or `nights`.
    pub unit: String,
    /// Signed amount in `currency`.
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// The pay engine's explanation line.
    pub explanation: String,
    /// The pay policy that produced the amount.
    pub policy_id: String,
    /// Its version.
    pub policy_version: i32,
}

/// The total of one component in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementTotal {
    /// The pay component.
    pub component: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The sum of the lines' amounts.
    pub amount: Decimal,
    /// How many lines it sums.
    pub line_count: usize,
}

/// Everything the statement shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementInput {
    /// Whose statement it is.
    pub person: PersonInfo,
    /// The first day covered.
    pub from: NaiveDate,
    /// The first day *not* covered (exclusive, like `PeriodInfo::ends_on`).
    pub to: NaiveDate,
    /// Whether the period is still open (the page then says PROVISIONAL).
    pub provisional: bool,
    /// The lines, in the order shown.
    pub lines: Vec<StatementLine>,
    /// Totals per component and currency, in the order shown.
    pub totals: Vec<StatementTotal>,
}

/// (unknown component?, known component, component name, currency): the order of totals.
type TotalKey<'a> = (bool, Option<Component>, &'a str, &'a str);

/// Sums lines per component and currency, in component order (unknown names last,
/// alphabetically), then currency code. Amounts are summed exactly, never re-rounded.
pub fn totals_from_lines(lines: &[StatementLine]) -> Vec<StatementTotal> {
    // Keyed (unknown?, component, name, currency): known components first in report order,
    // then unknown names alphabetically, so a component the ledger adds later still shows.
    let mut sums: BTreeMap<TotalKey<'_>, (Decimal, usize)> = BTreeMap::new();
    for line in lines {
        let known = Component::parse(&line.component);
        let key = (known.is_none(), known, line.component.as_str(), line.currency.as_str());
        let sum = sums.entry(key).or_default();
        // Saturation needs ~7.9e28 of a currency; a statement has no error path to report it.
        sum.0 = sum.0.saturating_add(line.amount);
        sum.1 += 1;
    }
    sums.into_iter()
        .map(|((_, _, component, currency), (amount, line_count))| StatementTotal {
            component: component.to_owned(),
            currency: currency.to_owned(),
            amount,
            line_count,
        })
        .collect()
}

/// The statement of one person in a payroll period: their entries in time order (then by
/// entry id, so equal times are stable) and their totals. `None` if the person is unknown.
pub fn statement_input(input: &PayrollInput, person_id: &str) -> Option<StatementInput> {
    let person = input.people.iter().find(|person| person.id == person_id)?.clone();
    let mut entries: Vec<_> = input.entries.iter().filter(|entry| entry.person == person_id).collect();
    entries.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then_with(|| a.id.cmp(&b.id)));
    let lines: Vec<StatementLine> = entries
        .into_iter()
        .map(|entry| StatementLine {
            occurred_at: entry.occurred_at,
            component: entry.component.clone(),
            quantity: entry.quantity,
            unit: entry.unit.clone(),
            amount: entry.amount,
            currency: entry.currency.clone(),
            explanation: entry.explanation.clone(),
            policy_id: entry.policy_id.clone(),
            policy_version: entry.policy_version,
        })
        .collect();
    let totals = totals_from_lines(&lines);
    Some(StatementInput {
        person,
        from: input.period.starts_on,
        to: input.period.ends_on,
        provisional: !input.period.closed,
        lines,
        totals,
    })
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An amount with its currency's decimals when the currency is known (padding only; the
/// ledger's amounts are already at the minor unit).
fn amount_text(amount: Decimal, currency: &str) -> String {
    let mut shown = amount;
    if let Ok(known) = Currency::from_str(currency)
        && shown.scale() < known.minor_unit_exponent()
    {
        shown.rescale(known.minor_unit_exponent());
    }
    format!("{shown} {}", escape_html(currency))
}

const STYLE: &str = "
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; font: 16px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1a1a1a; background: #fff; }
main { max-width: 60rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.status { display: inline-block; padding: .1rem .5rem; border: 2px solid #b00020; color: #b00020; font-weight: bold; }
dl.who { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
dl.who dt { font-weight: 600; }
dl.who dd { margin: 0; overflow-wrap: anywhere; white-space: pre-line; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.totals { max-width: 30rem; }
tr.grand td { font-weight: bold; border-top: 2px solid #1a1a1a; }
td.explanation { overflow-wrap: anywhere; }
.note { color: #555; font-size: .9rem; }
@media (max-width: 40rem) {
  body { padding: .5rem; }
  table.lines thead { display: none; }
  table.lines tr { display: block; border-bottom: 1px solid #bbb; padding: .4rem 0; }
  table.lines td { display: block; border: 0; padding: .1rem 0; text-align: left; white-space: normal; }
  table.lines td::before { content: attr(data-label) ': '; font-weight: 600; }
}
@media print {
  @page { margin: 15mm; }
  body { padding: 0; font-size: 10pt; color: #000; }
  .status { border-color: #000; color: #000; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
";

/// Renders the statement as a complete, self-contained HTML document.
pub fn render(statement: &StatementInput) -> String {
    let person = &statement.person;
    // `to` is exclusive; people read a statement's range as inclusive.
    let last_day = statement.to.pred_opt().unwrap_or(statement.to);
    let mut html = String::with_capacity(4096 + statement.lines.len() * 512);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Writing to a String cannot fail, so the results of `write!` are ignored below.
    let _ = writeln!(
        html,
        "<title>On-call statement: {} ({} to {})</title>",
        escape_html(&person.name),
        statement.from,
        last_day
    );
    let _ = writeln!(html, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");
    html.push_str("<h1>On-call pay statement</h1>\n");
    if statement.provisional {
        html.push_str("<p class=\"status\">PROVISIONAL: the period is still open and may change</p>\n");
    }
    html.push_str("<dl class=\"who\">\n");
    let team = person.team.as_deref().unwrap_or("none");
    let cost_centre = person.cost_centre.as_deref().unwrap_or("none");
    let period = format!("{} to {} (inclusive)", statement.from, last_day);
    for (label, value) in [
        ("Name", person.name.as_str()),
        ("Payroll id", person.payroll_id.as_str()),
        ("Email", person.email.as_str()),
        ("Team", team),
        ("Cost centre", cost_centre),
        ("Period", period.as_str()),
        ("Pay currency", person.currency.as_str()),
    ] {
        let _ = writeln!(html, "<dt>{label}</dt><dd>{}</dd>", escape_html(value));
    }
    html.push_str("</dl>\n");

    render_totals(&mut html, &statement.totals);
    render_lines(&mut html, &statement.lines);

    html.push_str("<p class=\"note\">Times are in UTC. Amounts in different currencies are never added together; ");
    html.push_str(
        "each total is the exact sum of its lines. Reversals are negative lines that cancel earlier ones.</p>\n",
    );
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn render_totals(html: &mut String, totals: &[StatementTotal]) {
    html.push_str("<h2>Totals</h2>\n<table class=\"totals\">\n<thead><tr><th>Component</th><th class=\"num\">Lines</th><th class=\"num\">Amount</th></tr></thead>\n<tbody>\n");
    let mut per_currency: BTreeMap<&str, Decimal> = BTreeMap::new();
    for total in totals {
        let sum = per_currency.entry(total.currency.as_str()).or_default();
        *sum = sum.saturating_add(total.amount);
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape_html(&total.component),
            total.line_count,
            amount_text(total.amount, &total.currency)
        );
    }
    for (currency, amount) in per_currency {
        let _ = writeln!(
            html,
            "<tr class=\"grand\"><td>Total</td><td></td><td class=\"num\">{}</td></tr>",
            amount_text(amount, currency)
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

fn render_lines(html: &mut String, lines: &[StatementLine]) {
    html.push_str("<h2>Lines</h2>\n");
    if lines.is_empty() {
        html.push_str("<p>No pay lines in this period.</p>\n");
        return;
    }
    html.push_str("<table class=\"lines\">\n<thead><tr><th>When (UTC)</th><th>Component</th><th class=\"num\">Quantity</th><th class=\"num\">Amount</th><th>How it was computed</th><th>Policy</th></tr></thead>\n<tbody>\n");
    for line in lines {
        let _ = writeln!(
            html,
            "<tr><td data-label=\"When (UTC)\">{}</td><td data-label=\"Component\">{}</td><td class=\"num\" data-label=\"Quantity\">{} {}</td><td class=\"num\" data-label=\"Amount\">{}</td><td class=\"explanation\" data-label=\"How it was computed\">{}</td><td data-label=\"Policy\">{} v{}</td></tr>",
            line.occurred_at.format("%Y-%m-%d %H:%M"),
            escape_html(&line.component),
            line.quantity.normalize(),
            escape_html(&line.unit),
            amount_text(line.amount, &line.currency),
            escape_html(&line.explanation),
            escape_html(&line.policy_id),
            line.policy_version
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::reports::fixture;

    fn zoe() -> StatementInput {
        statement_input(&fixture::input(false), "zoe").unwrap()
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn script_in_a_name_is_inert() {
        let mut statement = zoe();
        statement.person.name = "<script>alert('pwned')</script>".into();
        statement.lines[0].explanation = "<img src=x onerror=alert(1)>".into();
        statement.lines[0].component = "\"><script>".into();
        let html = render(&statement);
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    }

    #[test]
    fn page_is_self_contained_printable_and_responsive() {
        let html = render(&zoe());
        for external in ["src=", "href=", "@import", "url(", "<link", "<script"] {
            assert!(!html.contains(external), "{external}");
        }
        assert!(html.contains("@media print"));
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("@media (max-width: 40rem)"));
        assert!(html.contains("PROVISIONAL"));
        assert!(html.contains("2026-10-01 to 2026-10-31 (inclusive)"));
        assert!(html.contains("Times are in UTC"));
    }

    #[test]
    fn totals_are_exact_sums_per_component_and_currency() {
        let statement = zoe();
        let callout = statement.totals.iter().find(|total| total.component == "callout").unwrap();
        assert_eq!((callout.amount, callout.line_count), (dec!(50.00), 3));
        let order: Vec<&str> = statement.totals.iter().map(|total| total.component.as_str()).collect();
        assert_eq!(order, ["callout", "escalation", "response", "recovery", "standby"]);
        let html = render(&statement);
        assert!(html.contains("1407.25 EUR"), "grand total");
        assert!(html.contains("0.00 EUR"), "zero amounts keep the minor unit");
    }

    #[test]
    fn unknown_components_sort_after_known_ones() {
        let mut lines = zoe().lines;
        lines[0].component = "bonus".into();
        let totals = totals_from_lines(&lines);
        assert_eq!(totals.last().map(|total| total.component.as_str()), Some("bonus"));
    }

    #[test]
    fn statement_matches_its_snapshot() {
        let html = render(&zoe());
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/statement-zoe.html");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &html).unwrap();
        }
        assert_eq!(html, std::fs::read_to_string(&path).unwrap());
    }

    #[test]
    fn every_person_of_the_fixture_renders() {
        let input = fixture::input(true);
        for person in &input.people {
            let html = render(&statement_input(&input, &person.id).unwrap());
            assert!(html.contains(&escape_html(&person.name)));
            assert!(!html.contains("PROVISIONAL"));
        }
        assert!(statement_input(&input, "nobody").is_none());
    }
}
