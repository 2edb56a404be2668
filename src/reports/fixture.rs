//! One fixed period of ledger data shared by the report tests and pinned by the snapshots.
//!
//! It covers what finance files break on: names with commas, quotes, a newline, non-Latin
//! scripts and a formula; a reversal; an adjustment of an earlier period; minutes that do
//! not divide into hours exactly; a currency without minor units (JPY); an amount with a
//! thousands separator; a person without a team.

use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::input::{EntryInfo, PayrollInput, PeriodInfo, PersonInfo};

pub fn period(closed: bool) -> PeriodInfo {
    PeriodInfo {
        id: "2026-10".into(),
        starts_on: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        ends_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        closed,
    }
}

pub fn person(id: &str, name: &str, payroll_id: &str, cost_centre: Option<&str>, currency: &str) -> PersonInfo {
    PersonInfo {
        id: id.into(),
        name: name.into(),
        payroll_id: payroll_id.into(),
        email: format!("{id}@example.com"),
        team: cost_centre.map(|centre| format!("team-{centre}")),
        cost_centre: cost_centre.map(Into::into),
        currency: currency.into(),
    }
}

#[expect(clippy::too_many_arguments, reason = "a test fixture mirrors EntryInfo positionally")]
pub fn entry(
    id: &str,
    person: &str,
    component: &str,
    quantity: Decimal,
    unit: &str,
    amount: Decimal,
    currency: &str,
    natural_period: &str,
) -> EntryInfo {
    EntryInfo {
        earning_code: None,
        id: id.into(),
        person: person.into(),
        component: component.into(),
        kind: if amount.is_sign_negative() || quantity.is_sign_negative() {
            crate::domain::posting::EntryKind::Reversal
        } else {
            crate::domain::posting::EntryKind::Line
        },
        quantity,
        unit: unit.into(),
        amount,
        currency: currency.into(),
        natural_period: natural_period.into(),
        occurred_at: Utc.with_ymd_and_hms(2026, 10, 3, 2, 14, 0).unwrap(),
        explanation: format!("{component} for {person}"),
        fact_kind: "page".into(),
        fact_id: format!("page-{id}"),
        policy_id: "uk-standard".into(),
        policy_version: 3,
        time_class: match component {
            "response" | "callout" | "escalation" => Some("night".into()),
            "recovery" => Some("night".into()),
            _ => None,
        },
        day_class: (component == "standby").then(|| "weekday".into()),
        posted_at: Utc.with_ymd_and_hms(2026, 10, 3, 2, 30, 0).unwrap(),
    }
}

pub fn input(closed: bool) -> PayrollInput {
    let mut input = input_of(closed);
    // Responses in several time classes, for the hours by class.
    input.entries[4].time_class = Some("off_hours".into());
    input.entries[9].time_class = Some("weekend".into());
    input
}

fn input_of(closed: bool) -> PayrollInput {
    let p = "2026-10";
    PayrollInput {
        period: period(closed),
        people: vec![
            person("zoe", "Zoë O'Brien", "E-1001", Some("CC-100"), "EUR"),
            person("kenji", "田中 健二", "E-1002", Some("CC-200"), "JPY"),
            person("tomas", "Tomás Ruiz, Jr.", "E-1003", None, "EUR"),
            person("ann", "Ann \"Nan\" Lee\nNight shift", "E-1004", Some("CC-100"), "GBP"),
            person("mallory", "=HYPERLINK(\"http://x.test\",\"pay\")", "E-1005", Some("CC-100"), "EUR"),
        ],
        entries: vec![
            entry("e01", "zoe", "callout", dec!(1), "count", dec!(50.00), "EUR", p),
            entry("e02", "zoe", "callout", dec!(1), "count", dec!(50.00), "EUR", p),
            entry("e03", "zoe", "escalation", dec!(1), "count", dec!(50.00), "EUR", p),
            entry("e04", "zoe", "response", dec!(90), "minutes", dec!(67.50), "EUR", p),
            entry("e05", "zoe", "response", dec!(7), "minutes", dec!(5.25), "EUR", p),
            entry("e06", "zoe", "recovery", dec!(2), "hours", dec!(0), "EUR", p),
            entry("e07", "zoe", "standby", dec!(7), "nights", dec!(1234.50), "EUR", p),
            // A late correction of September: a reversal of a callout paid twice.
            entry("e08", "zoe", "callout", dec!(-1), "count", dec!(-50.00), "EUR", "2026-09"),
            entry("e09", "kenji", "callout", dec!(1), "count", dec!(8000), "JPY", p),
            entry("e10", "kenji", "response", dec!(45), "minutes", dec!(3375), "JPY", p),
            entry("e11", "tomas", "standby", dec!(2), "nights", dec!(80.00), "EUR", p),
            entry("e12", "tomas", "callout", dec!(1), "count", dec!(50.00), "EUR", p),
            entry("e13", "tomas", "callout", dec!(-1), "count", dec!(-50.00), "EUR", p),
            entry("e14", "ann", "callout", dec!(1), "count", dec!(40.00), "GBP", p),
            entry("e15", "ann", "recovery", dec!(3), "hours", dec!(0), "GBP", p),
            entry("e16", "mallory", "callout", dec!(1), "count", dec!(50.00), "EUR", p),
        ],
    }
}
