//! Rule tables written from PRODUCT.md by hand: every expected amount is worked out in the
//! comment beside it, never by the code under test.

use super::*;
use crate::domain::policy::PerDayClass;
use chrono::Weekday;
use chrono_tz::{America::New_York, Europe::London, Tz};
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn gbp() -> Currency {
    "GBP".parse().unwrap()
}

fn person_in(zone: Tz) -> Payee {
    Payee {
        id: "ana".into(),
        currency: gbp(),
        calendar: WorkingCalendar::new(zone).with_holidays([date("2026-12-25")]),
    }
}

fn ana() -> Payee {
    person_in(London)
}

fn policy() -> PayPolicy {
    PayPolicy::with_defaults("standard", 1, date("2020-01-01"), gbp())
}

fn history(policy: PayPolicy) -> PolicyHistory {
    PolicyHistory::new(vec![policy]).unwrap()
}

fn page(id: &str, triggered: &str) -> PageFact {
    PageFact {
        id: id.into(),
        triggered_at: utc(triggered),
        acknowledged_at: None,
        resolved_at: None,
        acknowledged_by: None,
    }
}

fn acked_page(id: &str, by: &str, acknowledged: &str, resolved: &str) -> PageFact {
    PageFact {
        id: id.into(),
        triggered_at: utc(acknowledged),
        acknowledged_at: Some(utc(acknowledged)),
        resolved_at: Some(utc(resolved)),
        acknowledged_by: Some(by.into()),
    }
}

fn response(id: &str, page_id: &str, person: &str, start: &str, end: &str) -> ResponseFact {
    ResponseFact {
        id: id.into(),
        page_id: page_id.into(),
        person_id: person.into(),
        started_at: utc(start),
        ended_at: utc(end),
        actionable: true,
    }
}

fn shift(id: &str, role: &str, start: &str, end: &str) -> ShiftFact {
    ShiftFact { id: id.into(), person_id: "ana".into(), role: role.into(), start: utc(start), end: utc(end) }
}

fn all_time() -> (DateTime<Utc>, DateTime<Utc>) {
    (utc("2000-01-01T00:00:00Z"), utc("2100-01-01T00:00:00Z"))
}

fn price(person: &Payee, facts: &Facts, policy: PayPolicy) -> Vec<PricedLine> {
    let (from, to) = all_time();
    price_period(person, facts, &history(policy), from, to).unwrap()
}

/// (component, amount) of every line, in order.
fn amounts(lines: &[PricedLine]) -> Vec<(Component, Decimal)> {
    lines.iter().map(|line| (line.component, line.amount)).collect()
}

fn total(lines: &[PricedLine]) -> Decimal {
    lines.iter().map(|line| line.amount).sum()
}

fn one_response(page_at: &str, start: &str, end: &str) -> Facts {
    Facts { pages: vec![page("p1", page_at)], responses: vec![response("r1", "p1", "ana", start, end)], shifts: vec![] }
}

#[test]
fn the_example_of_the_issue() {
    // Sat 17 Jan 2026 02:14 in London (GMT = UTC): night and weekend.
    // callout: night 50.00, weekend 50.00 → 50.00.
    // response 02:14–03:05 = 51 min, all night/weekend (× 2.0) → rounded up to 60 min;
    //   30.00/h × 2.0 × 1 h = 60.00.
    // recovery: 51 night min → 1 h, at least 2 h → 2 h.
    let facts = one_response("2026-01-17T02:14:00Z", "2026-01-17T02:14:00Z", "2026-01-17T03:05:00Z");
    let lines = price(&ana(), &facts, policy());
    assert_eq!(
        amounts(&lines),
        vec![(Component::Callout, dec!(50.00)), (Component::Response, dec!(60.00)), (Component::Recovery, dec!(0.00)),]
    );
    let [callout, response, recovery] = &lines[..] else { panic!("{lines:#?}") };
    assert_eq!(
        callout.explanation,
        "Sat 02:14 Europe/London (night, weekend): callout 50.00 × 1 (weekend fee) = 50.00"
    );
    assert_eq!(
        response.explanation,
        "Sat 02:14 Europe/London (night, weekend): response 02:14–03:05 = 51 min → 60 min billable at 30.00/h × 2.0 = 60.00"
    );
    assert_eq!((response.quantity, response.unit), (dec!(60), QuantityUnit::Minutes));
    assert_eq!(response.multiplier, dec!(2.0));
    assert_eq!(response.fact, FactRef { kind: FactKind::Response, id: "r1".into() });
    assert_eq!(callout.fact, FactRef { kind: FactKind::Page, id: "p1".into() });
    assert_eq!((recovery.quantity, recovery.unit), (dec!(2), QuantityUnit::Hours));
    assert!(recovery.explanation.ends_with("recovery 2 h (51 min at night, rounded up to whole hours, at least 2 h)"));
    assert_eq!(
        explain_page(&lines, "p1").unwrap(),
        "Sat 02:14 Europe/London (night, weekend): callout 50.00 × 1 (weekend fee) = 50.00 · response 02:14–03:05 = 51 min → 60 min billable at 30.00/h × 2.0 = 60.00 · recovery 2 h (51 min at night, rounded up to whole hours, at least 2 h)"
    );
    assert_eq!(explain_page(&lines, "p2"), None);
    for line in &lines {
        assert_eq!(line.page_id.as_deref(), Some("p1"));
    }
    for line in &lines {
        assert_eq!(line.policy, PolicyRef { id: "standard".into(), version: 1 });
        assert_eq!(line.currency, gbp());
        assert_eq!(line.person_id, "ana");
    }
}

/// Expected `(component, amount)` lines of one case.
type Expected = Vec<(Component, Decimal)>;

#[test]
fn response_rules_table() {
    // (case, page and response start, response end, expected [(component, amount)])
    let table: [(&str, &str, &str, Expected); 6] = [
        (
            // Wed 14 Jan 10:00–10:20, business: no fee; 20 min → 30 min (increment 15 → 30,
            // minimum 30) × 30.00/h × 1.0 = 15.00.
            "business hours",
            "2026-01-14T10:00:00Z",
            "2026-01-14T10:20:00Z",
            vec![(Component::Response, dec!(15.00))],
        ),
        (
            // Wed 14 Jan 18:00–19:01, off_hours: fee 25.00; 61 min → 75 min × 30.00/h × 1.5
            // = 1.25 h × 45.00 = 56.25.
            "evening, rounded up to the increment",
            "2026-01-14T18:00:00Z",
            "2026-01-14T19:01:00Z",
            vec![(Component::Callout, dec!(25.00)), (Component::Response, dec!(56.25))],
        ),
        (
            // Wed 14 Jan 23:00–23:05, night (× 2.0, fee 50.00): 5 min → 15 → minimum 30 min;
            // 0.5 h × 60.00 = 30.00; recovery 5 night min → 1 h → at least 2 h.
            "minimum billable time",
            "2026-01-14T23:00:00Z",
            "2026-01-14T23:05:00Z",
            vec![
                (Component::Callout, dec!(50.00)),
                (Component::Response, dec!(30.00)),
                (Component::Recovery, dec!(0.00)),
            ],
        ),
        (
            // Wed 14 Jan 21:30–22:40: 30 min off_hours × 1.5 + 40 min night × 2.0 = 70 min
            // → 75 min, the 5 added min at the start's × 1.5.
            // 30.00/h = 0.50/min: 0.50 × (30 × 1.5 + 40 × 2.0 + 5 × 1.5) = 0.50 × 132.5 = 66.25.
            // Fee at 21:30 off_hours 25.00. Recovery 40 night min → 1 h → 2 h.
            "across the start of the sleep window",
            "2026-01-14T21:30:00Z",
            "2026-01-14T22:40:00Z",
            vec![
                (Component::Callout, dec!(25.00)),
                (Component::Response, dec!(66.25)),
                (Component::Recovery, dec!(0.00)),
            ],
        ),
        (
            // Fri 25 Dec 2026 14:00–14:30, holiday: fee 75.00; 30 min × 30.00/h × 2.0 = 30.00.
            "holiday",
            "2026-12-25T14:00:00Z",
            "2026-12-25T14:30:00Z",
            vec![(Component::Callout, dec!(75.00)), (Component::Response, dec!(30.00))],
        ),
        (
            // Wed 14 Jan 01:00–04:10 night: 190 min → 195 min × 1.00/min = 195.00.
            // Recovery: 190 night min → 3 h 10 → 4 h (more than the minimum of 2).
            "long night",
            "2026-01-14T01:00:00Z",
            "2026-01-14T04:10:00Z",
            vec![
                (Component::Callout, dec!(50.00)),
                (Component::Response, dec!(195.00)),
                (Component::Recovery, dec!(0.00)),
            ],
        ),
    ];
    for (case, start, end, expected) in table {
        let lines = price(&ana(), &one_response(start, start, end), policy());
        assert_eq!(amounts(&lines), expected, "{case}");
    }
    // The long night grants 4 recovery hours.
    let lines =
        price(&ana(), &one_response("2026-01-14T01:00:00Z", "2026-01-14T01:00:00Z", "2026-01-14T04:10:00Z"), policy());
    let recovery = lines.iter().find(|l| l.component == Component::Recovery).unwrap();
    assert_eq!(recovery.quantity, dec!(4));
}

#[test]
fn a_mixed_response_lists_its_parts() {
    let lines =
        price(&ana(), &one_response("2026-01-14T21:30:00Z", "2026-01-14T21:30:00Z", "2026-01-14T22:40:00Z"), policy());
    let response = lines.iter().find(|l| l.component == Component::Response).unwrap();
    assert_eq!(
        response.explanation,
        "Wed 21:30 Europe/London (off_hours): response 21:30–22:40 = 70 min (30 min off_hours × 1.5, 40 min night × 2.0) → 75 min billable at 30.00/h, the 5 min added × 1.5 = 66.25"
    );
}

#[test]
fn each_line_is_rounded_once_half_away_from_zero() {
    // Rate 10.01/h, 30 business minutes: 10.01 × 0.5 = 5.005 → 5.01 (not banker's 5.00).
    let mut policy = policy();
    policy.response_rate_per_hour = dec!(10.01);
    let lines = price(
        &ana(),
        &one_response("2026-01-14T10:00:00Z", "2026-01-14T10:00:00Z", "2026-01-14T10:30:00Z"),
        policy.clone(),
    );
    assert_eq!(amounts(&lines), vec![(Component::Response, dec!(5.01))]);
    // Seconds count: 10:00:00–10:44:59 is 44 min 59 s → 45 min billable:
    // 10.01 × 0.75 = 7.5075 → 7.51.
    let lines =
        price(&ana(), &one_response("2026-01-14T10:00:00Z", "2026-01-14T10:00:00Z", "2026-01-14T10:44:59Z"), policy);
    assert_eq!(amounts(&lines), vec![(Component::Response, dec!(7.51))]);
    assert!(lines[0].explanation.contains("= 44 min 59 s → 45 min billable"), "{}", lines[0].explanation);
}

#[test]
fn the_acknowledger_gets_the_default_response_when_nobody_logged_one() {
    // Sun 18 Jan 03:00–03:40 acknowledged → resolved by ana, nobody logged a response:
    // callout 50.00; 40 min → 45 min × 30.00/h × 2.0 = 0.75 × 60.00 = 45.00; recovery 2 h.
    let facts = Facts {
        pages: vec![acked_page("p1", "ana", "2026-01-18T03:00:00Z", "2026-01-18T03:40:00Z")],
        ..Facts::default()
    };
    let lines = price(&ana(), &facts, policy());
    assert_eq!(
        amounts(&lines),
        vec![(Component::Callout, dec!(50.00)), (Component::Response, dec!(45.00)), (Component::Recovery, dec!(0.00)),]
    );
    assert_eq!(lines[1].fact, FactRef { kind: FactKind::Page, id: "p1".into() });
    assert!(
        lines[1].explanation.contains("default response (acknowledged → resolved) 03:00–03:40 = 40 min → 45 min"),
        "{}",
        lines[1].explanation
    );

    // Once bob logs a response, ana's default response goes (she still acknowledged the
    // page, so her callout stays) and bob's work is not hers to be paid.
    let mut facts = facts;
    facts.responses.push(response("r-bob", "p1", "bob", "2026-01-18T03:05:00Z", "2026-01-18T03:30:00Z"));
    let lines = price(&ana(), &facts, policy());
    assert_eq!(amounts(&lines), vec![(Component::Callout, dec!(50.00))]);

    // A page someone else acknowledged and ana never touched costs her nothing.
    let other = Facts {
        pages: vec![acked_page("p2", "bob", "2026-01-18T03:00:00Z", "2026-01-18T03:40:00Z")],
        ..Facts::default()
    };
    assert!(price(&ana(), &other, policy()).is_empty());
}

#[test]
fn night_pages_across_dst_changes_are_paid_for_real_minutes() {
    // (zone, page/response start, end, wall clock shown, real minutes, expected response)
    // All are Sunday nights: night + weekend, × 2.0 = 1.00/min; callout 50.00.
    let table = [
        // London spring forward, 29 Mar 2026 01:00 UTC: 00:50 GMT → 02:20 BST reads 90 min
        // on the wall but 30 min elapsed → 30 billable = 30.00.
        (London, "2026-03-29T00:50:00Z", "2026-03-29T01:20:00Z", "00:50–02:20", 30, dec!(30.00)),
        // London fall back, 25 Oct 2026 01:00 UTC: 01:40 BST → 01:25 GMT reads −15 min but
        // 45 min elapsed → 45 billable = 45.00.
        (London, "2026-10-25T00:40:00Z", "2026-10-25T01:25:00Z", "01:40–01:25", 45, dec!(45.00)),
        // New York spring forward, 8 Mar 2026 07:00 UTC: 01:30 EST → 03:45 EDT reads 135 min,
        // 75 elapsed → 75 billable = 75.00.
        (New_York, "2026-03-08T06:30:00Z", "2026-03-08T07:45:00Z", "01:30–03:45", 75, dec!(75.00)),
        // New York fall back, 1 Nov 2026 06:00 UTC: 01:10 EDT → 01:20 EST reads 10 min,
        // 70 elapsed → 75 billable = 75.00.
        (New_York, "2026-11-01T05:10:00Z", "2026-11-01T06:20:00Z", "01:10–01:20", 70, dec!(75.00)),
    ];
    for (zone, start, end, wall, minutes, expected) in table {
        let person = person_in(zone);
        let mut policy = policy();
        policy.currency = gbp();
        let lines = price(&person, &one_response(start, start, end), policy);
        assert_eq!(
            amounts(&lines),
            vec![(Component::Callout, dec!(50.00)), (Component::Response, expected), (Component::Recovery, dec!(0.00)),],
            "{zone} {start}"
        );
        let response = &lines[1].explanation;
        assert!(response.contains(&format!("response {wall} = {minutes} min")), "{response}");
        assert!(response.starts_with("Sun "), "{response}");
    }
}

#[test]
fn the_fourth_out_of_hours_page_in_a_year_is_escalated() {
    // Weekday nights at 03:00 UTC (03:00 GMT / 04:00 BST): night fee 50.00 each.
    // Allowance 3 → page 4 in a trailing 365 days gets 50.00 × (2 − 1) = 50.00 more.
    let mut facts = Facts::default();
    let times = [
        ("p1", "2026-01-05T03:00:00Z"), // Mon: 1st
        ("p2", "2026-06-01T03:00:00Z"), // Mon: 2nd
        ("b1", "2026-06-01T10:00:00Z"), // Mon 11:00 BST, business: not counted
        ("p3", "2026-06-02T03:00:00Z"), // Tue: 3rd, not escalated
        ("p4", "2026-06-03T03:00:00Z"), // Wed: 4th → escalated
        // Wed 6 Jan 2027: p1 left the window (2026-01-06, 2027-01-06]; p2, p3, p4, p5 → 4th.
        ("p5", "2027-01-06T03:00:00Z"),
        // Wed 2 Jun 2027: window (2026-06-02 03:00, …] holds p4, p5, p6 only: p2 and p3 left,
        // so p6 is the 3rd and is not escalated.
        ("p6", "2027-06-02T03:00:00Z"),
    ];
    for (id, at) in times {
        facts.pages.push(PageFact { acknowledged_by: Some("ana".into()), ..page(id, at) });
    }
    let lines = price(&ana(), &facts, policy());
    let escalated: Vec<&str> =
        lines.iter().filter(|l| l.component == Component::Escalation).map(|l| l.fact.id.as_str()).collect();
    assert_eq!(escalated, vec!["p4", "p5"]);
    let p4 = lines.iter().find(|l| l.component == Component::Escalation).unwrap();
    assert_eq!(p4.amount, dec!(50.00));
    assert_eq!(p4.multiplier, dec!(1), "the premium is fee × (factor − 1)");
    assert!(
        p4.explanation.contains("out-of-hours page 4 in 365 days (3 free): callout 50.00 × (2 − 1) = 50.00"),
        "{}",
        p4.explanation
    );

    // Pricing only 2027 still counts 2026's pages: p5 is escalated, p6 is not.
    let lines =
        price_period(&ana(), &facts, &history(policy()), utc("2027-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z"))
            .unwrap();
    assert_eq!(
        amounts(&lines),
        vec![
            (Component::Callout, dec!(50.00)),
            (Component::Escalation, dec!(50.00)),
            (Component::Callout, dec!(50.00)),
        ]
    );
}

#[test]
fn a_weekly_shift_across_dst_is_paid_for_the_hours_that_elapsed() {
    // Mon 23 Mar 2026 09:00 GMT → Mon 30 Mar 09:00 BST: 7 × 24 − 1 = 167 real hours.
    let week = Facts {
        shifts: vec![shift("s1", "primary", "2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z")],
        ..Facts::default()
    };
    // Per day (weekday 25.00, weekend 50.00), pro-rated over each day's real length:
    // Mon 15/24 × 25 = 15.625 → 15.63; Tue–Fri 4 × 25 = 100; Sat 50; Sun (23 h, all
    // covered) 50; Mon 30 00:00–09:00 BST 9/24 × 25 = 9.375 → 9.38. Sum 225.01.
    let lines = price(&ana(), &week, policy());
    assert_eq!(
        lines.iter().map(|l| l.amount).collect::<Vec<_>>(),
        vec![dec!(15.63), dec!(25), dec!(25), dec!(25), dec!(25), dec!(50), dec!(50), dec!(9.38)]
    );
    assert_eq!(total(&lines), dec!(225.01));
    assert!(lines[6].explanation.contains("1380 min on call at 50.00/day of 1380 min"), "{}", lines[6].explanation);

    // Per hour (weekday 2.00, weekend 4.00): Mon 15 h × 2 = 30; Tue–Fri 96 h × 2 = 192;
    // Sat 24 h × 4 = 96; Sun 23 h × 4 = 92; Mon 9 h × 2 = 18. Sum 428.00 for 167 h.
    let mut hourly = policy();
    hourly.standby.mode = StandbyMode::PerHour;
    hourly.standby.rates = PerDayClass { weekday: dec!(2.00), weekend: dec!(4.00), holiday: dec!(6.00) };
    let lines = price(&ana(), &week, hourly);
    assert_eq!(total(&lines), dec!(428.00));
    let minutes: Decimal = lines.iter().map(|l| l.quantity).sum();
    assert_eq!(minutes, dec!(167) * dec!(60));

    // Per night (weekday 20.00, weekend 40.00, cut-off 06:00): nights of Mon–Thu 4 × 20 = 80,
    // Fri, Sat, Sun 3 × 40 = 120; the night of Mon 30 is not covered to Tue 06:00. 200.00.
    let mut nightly = policy();
    nightly.standby.mode = StandbyMode::PerNight;
    nightly.standby.rates = PerDayClass { weekday: dec!(20.00), weekend: dec!(40.00), holiday: dec!(60.00) };
    let lines = price(&ana(), &week, nightly);
    assert_eq!(lines.len(), 7);
    assert_eq!(total(&lines), dec!(200.00));
}

#[test]
fn a_night_shift_on_dst_nights_lasts_what_really_elapsed() {
    let mut hourly = policy();
    hourly.standby.mode = StandbyMode::PerHour;
    hourly.standby.rates = PerDayClass { weekday: dec!(2.00), weekend: dec!(4.00), holiday: dec!(6.00) };
    // (zone, local 00:00 → 06:00 on a Sunday, real hours, amount at 4.00/h)
    let table = [
        // London, Sun 29 Mar 2026: 00:00 GMT → 06:00 BST = 5 h → 20.00.
        (London, "2026-03-29T00:00:00Z", "2026-03-29T05:00:00Z", 5, dec!(20.00)),
        // London, Sun 25 Oct 2026: 00:00 BST → 06:00 GMT = 7 h → 28.00.
        (London, "2026-10-24T23:00:00Z", "2026-10-25T06:00:00Z", 7, dec!(28.00)),
        // New York, Sun 8 Mar 2026: 00:00 EST → 06:00 EDT = 5 h → 20.00.
        (New_York, "2026-03-08T05:00:00Z", "2026-03-08T10:00:00Z", 5, dec!(20.00)),
        // New York, Sun 1 Nov 2026: 00:00 EDT → 06:00 EST = 7 h → 28.00.
        (New_York, "2026-11-01T04:00:00Z", "2026-11-01T11:00:00Z", 7, dec!(28.00)),
    ];
    for (zone, start, end, hours, expected) in table {
        let facts = Facts { shifts: vec![shift("s1", "primary", start, end)], ..Facts::default() };
        let lines = price(&person_in(zone), &facts, hourly.clone());
        assert_eq!(lines.len(), 1, "{zone} {start}");
        assert_eq!(lines[0].quantity, Decimal::from(hours * 60), "{zone} {start}");
        assert_eq!(lines[0].amount, expected, "{zone} {start}");
        assert_eq!(lines[0].day_class, Some(DayClass::Weekend));
    }
}

#[test]
fn overlapping_schedules_are_paid_once_at_the_higher_rate() {
    let mut policy = policy();
    policy.standby.role_multipliers.insert("secondary".into(), dec!(0.5));
    // Primary Mon 12 → Wed 14 Jan, secondary Tue 13 → Thu 15 (per day, weekday 25.00):
    // Mon: primary 25.00; Tue: both on call, primary wins 25.00; Wed: secondary 25 × 0.5
    // = 12.50. Total 62.50, not 87.50.
    let facts = Facts {
        shifts: vec![
            shift("b", "secondary", "2026-01-13T00:00:00Z", "2026-01-15T00:00:00Z"),
            shift("a", "primary", "2026-01-12T00:00:00Z", "2026-01-14T00:00:00Z"),
        ],
        ..Facts::default()
    };
    let lines = price(&ana(), &facts, policy.clone());
    let paid: Vec<(&str, Decimal)> = lines.iter().map(|l| (l.fact.id.as_str(), l.amount)).collect();
    assert_eq!(paid, vec![("a", dec!(25.00)), ("a", dec!(25.00)), ("b", dec!(12.50))]);

    // The same schedule imported twice pays one day once.
    let twice = Facts {
        shifts: vec![
            shift("x", "primary", "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z"),
            shift("y", "primary", "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z"),
        ],
        ..Facts::default()
    };
    let lines = price(&ana(), &twice, policy.clone());
    assert_eq!(amounts(&lines), vec![(Component::Standby, dec!(25.00))]);

    // Per night too: Mon 12 night covered by both → one night at the primary rate 20.00.
    policy.standby.mode = StandbyMode::PerNight;
    policy.standby.rates = PerDayClass { weekday: dec!(20.00), weekend: dec!(40.00), holiday: dec!(60.00) };
    let both_nights = Facts {
        shifts: vec![
            shift("n2", "secondary", "2026-01-12T17:00:00Z", "2026-01-13T09:00:00Z"),
            shift("n1", "primary", "2026-01-12T18:00:00Z", "2026-01-13T08:00:00Z"),
        ],
        ..Facts::default()
    };
    let lines = price(&ana(), &both_nights, policy);
    let paid: Vec<(&str, Decimal)> = lines.iter().map(|l| (l.fact.id.as_str(), l.amount)).collect();
    assert_eq!(paid, vec![("n1", dec!(20.00))]);
}

#[test]
fn a_night_is_paid_only_when_the_shift_reaches_the_cut_off() {
    let mut policy = policy();
    policy.standby.mode = StandbyMode::PerNight;
    policy.standby.rates = PerDayClass { weekday: dec!(20.00), weekend: dec!(40.00), holiday: dec!(60.00) };
    // Mon 12 Jan 18:00 → Wed 14 Jan 05:59: night of Mon (to Tue 06:00) only → 20.00.
    // Ending Wed 06:00 also pays the night of Tue → 40.00.
    let table = [("2026-01-14T05:59:00Z", 1, dec!(20.00)), ("2026-01-14T06:00:00Z", 2, dec!(40.00))];
    for (end, nights, expected) in table {
        let facts = Facts { shifts: vec![shift("s1", "primary", "2026-01-12T18:00:00Z", end)], ..Facts::default() };
        let lines = price(&ana(), &facts, policy.clone());
        assert_eq!(lines.len(), nights, "{end}");
        assert_eq!(total(&lines), expected, "{end}");
    }
    // Weekend nights are Fri, Sat, Sun by default; Thu is a weekday night.
    // Thu 15 Jan 20:00 → Mon 19 Jan 06:00: Thu 20 + Fri 40 + Sat 40 + Sun 40 = 140.00.
    let facts = Facts {
        shifts: vec![shift("s1", "primary", "2026-01-15T20:00:00Z", "2026-01-19T06:00:00Z")],
        ..Facts::default()
    };
    let lines = price(&ana(), &facts, policy.clone());
    assert_eq!(total(&lines), dec!(140.00));
    assert_eq!(
        lines[0].explanation,
        "night of Thu 2026-01-15 Europe/London (weekday night): standby (primary) on call until at least Fri 06:00 at 20.00/night × 1 = 20.00"
    );
    // A different cut-off and weekend: cut-off 07:00 and only Sat is a weekend night.
    policy.standby.night_cutoff = chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap();
    policy.standby.weekend_nights = vec![Weekday::Sat];
    let lines = price(&ana(), &facts, policy);
    // Thu 20 + Fri 20 + Sat 40; Sun's night is not covered to Mon 07:00. 80.00.
    assert_eq!(total(&lines), dec!(80.00));
}

#[test]
fn standby_can_exclude_working_hours() {
    // Wed 14 Jan 00:00 → Thu 00:00 at 2.00/h, minus working hours 09:00–17:00:
    // 16 h × 2.00 = 32.00. On Sat 17 Jan there are no working hours: 24 h × 4.00 = 96.00.
    let mut policy = policy();
    policy.standby.mode = StandbyMode::PerHour;
    policy.standby.exclude_working_hours = true;
    policy.standby.rates = PerDayClass { weekday: dec!(2.00), weekend: dec!(4.00), holiday: dec!(6.00) };
    let facts = Facts {
        shifts: vec![
            shift("wed", "primary", "2026-01-14T00:00:00Z", "2026-01-15T00:00:00Z"),
            shift("sat", "primary", "2026-01-17T00:00:00Z", "2026-01-18T00:00:00Z"),
        ],
        ..Facts::default()
    };
    let lines = price(&ana(), &facts, policy);
    assert_eq!(amounts(&lines), vec![(Component::Standby, dec!(32.00)), (Component::Standby, dec!(96.00))]);
}

#[test]
fn each_fact_is_priced_by_the_version_in_force_on_its_local_date() {
    // v1 until 30 Jun 2026, v2 (night fee 80.00) from 1 Jul 2026. A page at 23:30 UTC on
    // 30 Jun is 00:30 BST on Wed 1 Jul in London: v2, 80.00.
    let mut v2 = PayPolicy::with_defaults("standard", 2, date("2026-07-01"), gbp());
    v2.callout_fee.night = dec!(80.00);
    let policies = PolicyHistory::new(vec![policy(), v2]).unwrap();
    let facts = Facts {
        pages: vec![
            PageFact { acknowledged_by: Some("ana".into()), ..page("june", "2026-06-29T23:30:00Z") },
            PageFact { acknowledged_by: Some("ana".into()), ..page("july", "2026-06-30T23:30:00Z") },
        ],
        ..Facts::default()
    };
    let (from, to) = all_time();
    let lines = price_period(&ana(), &facts, &policies, from, to).unwrap();
    let priced: Vec<(&str, u32, Decimal)> =
        lines.iter().map(|l| (l.fact.id.as_str(), l.policy.version, l.amount)).collect();
    assert_eq!(priced, vec![("june", 1, dec!(50.00)), ("july", 2, dec!(80.00))]);

    // Before the first version nothing can be priced, and the error says so.
    let early = Facts {
        pages: vec![PageFact { acknowledged_by: Some("ana".into()), ..page("old", "2019-06-01T21:30:00Z") }],
        ..Facts::default()
    };
    let error = price_period(&ana(), &early, &policies, from, to).unwrap_err();
    assert!(matches!(error, PricingError::NoPolicyInForce { .. }), "{error}");
    assert!(error.to_string().contains("2019-06-01"), "{error}");
}

#[test]
fn bad_facts_and_currencies_are_refused() {
    let backwards = one_response("2026-01-14T10:00:00Z", "2026-01-14T10:30:00Z", "2026-01-14T10:00:00Z");
    let (from, to) = all_time();
    let error = price_period(&ana(), &backwards, &history(policy()), from, to).unwrap_err();
    assert_eq!(error, PricingError::EndsBeforeStart { fact: FactRef { kind: FactKind::Response, id: "r1".into() } });

    let mut euro = ana();
    euro.currency = "EUR".parse().unwrap();
    let facts = one_response("2026-01-14T10:00:00Z", "2026-01-14T10:00:00Z", "2026-01-14T10:30:00Z");
    let error = price_period(&euro, &facts, &history(policy()), from, to).unwrap_err();
    assert!(matches!(error, PricingError::CurrencyMismatch { .. }), "{error}");
}

#[test]
fn lines_belong_to_the_period_of_their_instant() {
    // A response starting 31 Jan 23:50 and ending 1 Feb 00:20 belongs to January.
    let facts = one_response("2026-01-31T23:45:00Z", "2026-01-31T23:50:00Z", "2026-02-01T00:20:00Z");
    let policies = history(policy());
    let january =
        price_period(&ana(), &facts, &policies, utc("2026-01-01T00:00:00Z"), utc("2026-02-01T00:00:00Z")).unwrap();
    let february =
        price_period(&ana(), &facts, &policies, utc("2026-02-01T00:00:00Z"), utc("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(january.len(), 3);
    assert!(february.is_empty());
    assert_eq!(totals_by_currency(&january).get(&gbp()), Some(&total(&january)));
}

#[test]
fn facts_delivered_twice_are_priced_once() {
    // The issue's Saturday night page, with the page, the response and a shift all
    // delivered twice: the same lines as once.
    let once = Facts {
        shifts: vec![shift("s1", "primary", "2026-01-17T00:00:00Z", "2026-01-18T00:00:00Z")],
        ..one_response("2026-01-17T02:14:00Z", "2026-01-17T02:14:00Z", "2026-01-17T03:05:00Z")
    };
    let mut twice = once.clone();
    twice.pages.extend(once.pages.clone());
    twice.responses.extend(once.responses.clone());
    twice.shifts.extend(once.shifts.clone());
    let lines = price(&ana(), &twice, policy());
    assert_eq!(lines, price(&ana(), &once, policy()));
    // callout 50.00 + response 60.00 + recovery 0.00 + Saturday standby 50.00 = 160.00.
    assert_eq!(total(&lines), dec!(160.00));
}

#[test]
fn currencies_without_minor_units_round_to_whole_amounts() {
    // JPY has no minor unit. Rate 1,001 JPY/h, 30 business minutes: 500.5 → 501 (half away
    // from zero); the night fee 5,000 is paid as is.
    let jpy: Currency = "JPY".parse().unwrap();
    let mut policy = PayPolicy::with_defaults("jp", 1, date("2020-01-01"), jpy);
    policy.response_rate_per_hour = dec!(1001);
    policy.callout_fee.night = dec!(5000);
    let person = Payee { currency: jpy, ..person_in(chrono_tz::Asia::Tokyo) };
    // Wed 14 Jan 2026 10:00 JST = 01:00 UTC.
    let lines = price(
        &person,
        &one_response("2026-01-14T01:00:00Z", "2026-01-14T01:00:00Z", "2026-01-14T01:30:00Z"),
        policy.clone(),
    );
    assert_eq!(amounts(&lines), vec![(Component::Response, dec!(501))]);
    assert_eq!(lines[0].amount.to_string(), "501");
    // Wed 14 Jan 23:00 JST = 14:00 UTC, night: 5,000 fee; 30 min × 1001 × 2.0 = 1,001.
    let lines =
        price(&person, &one_response("2026-01-14T14:00:00Z", "2026-01-14T14:00:00Z", "2026-01-14T14:30:00Z"), policy);
    assert_eq!(
        amounts(&lines),
        vec![(Component::Callout, dec!(5000)), (Component::Response, dec!(1001)), (Component::Recovery, dec!(0)),]
    );
}

// ---------------------------------------------------------------------------------------
// Properties

fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    // Any whole minute from 2026-01-01 to 2026-12-31, so DST changes are included.
    (0_i64..525_600).prop_map(|minute| utc("2026-01-01T00:00:00Z") + TimeDelta::minutes(minute))
}

fn modes() -> impl Strategy<Value = StandbyMode> {
    prop_oneof![Just(StandbyMode::PerHour), Just(StandbyMode::PerDay), Just(StandbyMode::PerNight)]
}

fn arbitrary_facts() -> impl Strategy<Value = Facts> {
    let shifts =
        proptest::collection::vec((instants(), 1_i64..20_000, prop_oneof![Just("primary"), Just("secondary")]), 0..4);
    let pages = proptest::collection::vec((instants(), 0_i64..300, proptest::bool::ANY), 0..6);
    (shifts, pages).prop_map(|(shifts, pages)| {
        let mut facts = Facts::default();
        for (index, (start, minutes, role)) in shifts.into_iter().enumerate() {
            facts.shifts.push(ShiftFact {
                id: format!("s{index}"),
                person_id: "ana".into(),
                role: role.into(),
                start,
                end: start + TimeDelta::minutes(minutes),
            });
        }
        for (index, (at, minutes, logged)) in pages.into_iter().enumerate() {
            let end = at + TimeDelta::minutes(minutes);
            facts.pages.push(PageFact {
                id: format!("p{index}"),
                triggered_at: at,
                acknowledged_at: Some(at),
                resolved_at: Some(end),
                acknowledged_by: Some("ana".into()),
            });
            if logged {
                facts.responses.push(ResponseFact {
                    id: format!("r{index}"),
                    page_id: format!("p{index}"),
                    person_id: "ana".into(),
                    started_at: at,
                    ended_at: end,
                    actionable: true,
                });
            }
        }
        facts
    })
}

fn zones() -> impl Strategy<Value = Tz> {
    prop_oneof![Just(London), Just(New_York)]
}

fn policy_with(mode: StandbyMode) -> PayPolicy {
    let mut policy = policy();
    policy.standby.mode = mode;
    policy.standby.role_multipliers.insert("secondary".into(), dec!(0.5));
    policy
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn standby_of_a_period_is_the_sum_of_its_days(
        zone in zones(),
        mode in modes(),
        facts in arbitrary_facts(),
        first_day in 0_i64..330,
        days in 1_i64..30,
    ) {
        let person = person_in(zone);
        let policies = history(policy_with(mode));
        let first = date("2026-01-01") + TimeDelta::days(first_day);
        let from = person.calendar.day_start(first);
        let to = person.calendar.day_start(first + TimeDelta::days(days));
        let whole = price_standby(&person, &facts.shifts, &policies, from, to).unwrap();
        let mut by_day = Vec::new();
        for offset in 0..days {
            let (start, end) = person.calendar.day_bounds(first + TimeDelta::days(offset));
            by_day.extend(price_standby(&person, &facts.shifts, &policies, start, end).unwrap());
        }
        prop_assert_eq!(total(&whole), total(&by_day));
        sort_lines(&mut by_day);
        prop_assert_eq!(whole, by_day);
    }

    #[test]
    fn no_line_is_negative_and_repricing_is_identical(
        zone in zones(),
        mode in modes(),
        facts in arbitrary_facts(),
    ) {
        let person = person_in(zone);
        let policies = history(policy_with(mode));
        let (from, to) = all_time();
        let lines = price_period(&person, &facts, &policies, from, to).unwrap();
        for line in &lines {
            prop_assert!(line.amount >= Decimal::ZERO, "{:?}", line);
            prop_assert!(line.quantity >= Decimal::ZERO, "{:?}", line);
            prop_assert_eq!(line.amount, gbp().round(line.amount));
        }
        // The same facts in another order price to the very same lines.
        let mut shuffled = facts.clone();
        shuffled.pages.reverse();
        shuffled.responses.reverse();
        shuffled.shifts.reverse();
        prop_assert_eq!(&price_period(&person, &facts, &policies, from, to).unwrap(), &lines);
        prop_assert_eq!(&price_period(&person, &shuffled, &policies, from, to).unwrap(), &lines);
    }

    #[test]
    fn overlapping_shifts_are_paid_for_their_union_once(
        zone in zones(),
        facts in arbitrary_facts(),
    ) {
        // Per hour with every role paid alike, the paid minutes are the minutes of the union
        // of the shifts, however they overlap.
        let person = person_in(zone);
        let mut policy = policy_with(StandbyMode::PerHour);
        policy.standby.role_multipliers.clear();
        let (from, to) = all_time();
        let lines = price_standby(&person, &facts.shifts, &history(policy), from, to).unwrap();
        let paid_minutes: Decimal = lines.iter().map(|l| l.quantity).sum();
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> =
            facts.shifts.iter().map(|s| (s.start, s.end)).collect();
        spans.sort();
        let mut union_minutes = 0_i64;
        let mut covered_to: Option<DateTime<Utc>> = None;
        for (start, end) in spans {
            let start = covered_to.map_or(start, |to| start.max(to));
            if end > start {
                union_minutes += (end - start).num_minutes();
            }
            covered_to = Some(covered_to.map_or(end, |to| to.max(end)));
        }
        prop_assert_eq!(paid_minutes, Decimal::from(union_minutes));
    }

    #[test]
    fn a_response_split_in_two_keeps_its_minutes_per_class(
        zone in zones(),
        start in instants(),
        minutes in 1_i64..2_000,
        cut in 0_i64..2_000,
    ) {
        // Splitting the work at any instant and classifying the halves gives the same
        // minutes per class as the whole (the pricing of each half then only differs by
        // the rounding each half gets).
        let calendar = person_in(zone).calendar;
        let end = start + TimeDelta::minutes(minutes);
        let middle = start + TimeDelta::minutes(cut % minutes);
        let per_class = |segments: Vec<crate::domain::time_class::ClassSegment>| {
            let mut seconds: BTreeMap<TimeClass, i64> = BTreeMap::new();
            for segment in segments {
                for class in segment.classes.iter() {
                    *seconds.entry(class).or_insert(0) += segment.seconds();
                }
            }
            seconds
        };
        let whole = per_class(calendar.split(start, end));
        let mut halves = per_class(calendar.split(start, middle));
        for (class, seconds) in per_class(calendar.split(middle, end)) {
            *halves.entry(class).or_insert(0) += seconds;
        }
        prop_assert_eq!(whole, halves);
    }
}

// ---------------------------------------------------------------------------------------
// Work is paid once; cooldown; no panics at the limits (issue #16)

fn response_minutes(lines: &[PricedLine]) -> Decimal {
    lines.iter().filter(|line| line.component == Component::Response).map(|line| line.quantity).sum()
}

#[test]
fn the_same_hour_posted_twice_and_a_half_hour_inside_it_is_paid_once() {
    // The issue's finding: one hour posted twice without an id, then a half hour inside it,
    // was paid as 3 response lines, 150 minutes. Wed 14 Oct 2026 10:00–11:00 BST (business):
    // the union is 60 min → one line, 60 min × 30.00/h × 1.0 = 30.00.
    let facts = Facts {
        pages: vec![page("p1", "2026-10-14T09:00:00Z")],
        responses: vec![
            response("r1", "p1", "ana", "2026-10-14T09:00:00Z", "2026-10-14T10:00:00Z"),
            response("r2", "p1", "ana", "2026-10-14T09:00:00Z", "2026-10-14T10:00:00Z"),
            response("r3", "p1", "ana", "2026-10-14T09:15:00Z", "2026-10-14T09:45:00Z"),
        ],
        shifts: vec![],
    };
    let lines = price(&ana(), &facts, policy());
    let responses: Vec<&PricedLine> = lines.iter().filter(|line| line.component == Component::Response).collect();
    assert_eq!(responses.len(), 1, "{lines:#?}");
    assert_eq!(responses[0].quantity, dec!(60));
    assert_eq!(responses[0].amount, dec!(30.00));
    assert_eq!(responses[0].fact.id, "r1", "the earliest (then lowest) work leads");
    assert!(
        responses[0].explanation.contains("paid once with the overlapping response r2, response r3"),
        "{}",
        responses[0].explanation
    );
}

#[test]
fn overlapping_work_on_two_pages_is_paid_for_its_union() {
    // Sat 17 Jan 2026 (GMT) 02:00–03:00 on p1 and 02:30–03:30 on p2: the union is
    // 02:00–03:30 = 90 min at night × 2.0 × 30.00/h = 90.00, on the line of r1 (page p1).
    // Two pages, two callouts (each 50.00): being called out twice is two interruptions.
    // Recovery once: 90 night min → 2 h.
    let facts = Facts {
        pages: vec![page("p1", "2026-01-17T02:00:00Z"), page("p2", "2026-01-17T02:30:00Z")],
        responses: vec![
            response("r1", "p1", "ana", "2026-01-17T02:00:00Z", "2026-01-17T03:00:00Z"),
            response("r2", "p2", "ana", "2026-01-17T02:30:00Z", "2026-01-17T03:30:00Z"),
        ],
        shifts: vec![],
    };
    let lines = price(&ana(), &facts, policy());
    assert_eq!(
        amounts(&lines),
        vec![
            (Component::Callout, dec!(50.00)),
            (Component::Response, dec!(90.00)),
            (Component::Recovery, dec!(0.00)),
            (Component::Callout, dec!(50.00)),
        ]
    );
    assert_eq!(response_minutes(&lines), dec!(90));
    let recovery: Vec<&PricedLine> = lines.iter().filter(|line| line.component == Component::Recovery).collect();
    assert_eq!(recovery.len(), 1);
    assert_eq!(recovery[0].quantity, dec!(2));
}

#[test]
fn touching_work_stays_apart_and_a_default_response_joins_the_union() {
    // 10:00–10:30 and 10:30–11:00 (Wed, business) only touch: two responses of 30 min.
    let touching = Facts {
        pages: vec![page("p1", "2026-10-14T09:00:00Z")],
        responses: vec![
            response("r1", "p1", "ana", "2026-10-14T09:00:00Z", "2026-10-14T09:30:00Z"),
            response("r2", "p1", "ana", "2026-10-14T09:30:00Z", "2026-10-14T10:00:00Z"),
        ],
        shifts: vec![],
    };
    let lines = price(&ana(), &touching, policy());
    assert_eq!(lines.iter().filter(|line| line.component == Component::Response).count(), 2);
    // p2 acknowledged by ana 09:10–09:50, nobody logged on it: its default response lies
    // inside r1 (09:00–10:00) on p1, so the minutes are paid once: 60.
    let mut facts = one_response("2026-10-14T09:00:00Z", "2026-10-14T09:00:00Z", "2026-10-14T10:00:00Z");
    facts.pages.push(acked_page("p2", "ana", "2026-10-14T09:10:00Z", "2026-10-14T09:50:00Z"));
    let lines = price(&ana(), &facts, policy());
    assert_eq!(response_minutes(&lines), dec!(60), "{lines:#?}");
}

#[test]
fn the_union_is_counted_in_real_minutes_across_dst() {
    // Sun 25 Oct 2026, London falls back at 02:00 BST → 01:00 GMT. r1 00:30Z–01:30Z and
    // r2 01:00Z–02:00Z (both 60 real min) overlap by 30 min: the union is 00:30Z–02:00Z =
    // 90 real minutes, though the wall clock shows 01:30 BST → 02:00 GMT.
    let facts = Facts {
        pages: vec![page("p1", "2026-10-25T00:30:00Z")],
        responses: vec![
            response("r1", "p1", "ana", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
            response("r2", "p1", "ana", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"),
        ],
        shifts: vec![],
    };
    let lines = price(&ana(), &facts, policy());
    assert_eq!(response_minutes(&lines), dec!(90));
    // Night and weekend × 2.0: 1.5 h × 30.00 × 2.0 = 90.00.
    let response = lines.iter().find(|line| line.component == Component::Response).unwrap();
    assert_eq!(response.amount, dec!(90.00));
}

#[test]
fn a_cooldown_pays_one_callout_for_pages_close_together() {
    // Sat 17 Jan 2026 night: pages at 02:00, 02:20, 02:50 and 03:40; cooldown 45 min.
    // 02:00 paid; 02:20 within 45 min of 02:00 → no fee; 02:50 is 50 min after the last
    // *paid* callout → paid; 03:40 is 50 min after 02:50 → paid. Three fees of 50.00.
    let pages = ["2026-01-17T02:00:00Z", "2026-01-17T02:20:00Z", "2026-01-17T02:50:00Z", "2026-01-17T03:40:00Z"];
    let facts = Facts {
        pages: pages.iter().enumerate().map(|(i, at)| page(&format!("p{i}"), at)).collect(),
        responses: pages
            .iter()
            .enumerate()
            .map(|(i, at)| response(&format!("r{i}"), &format!("p{i}"), "ana", at, at))
            .collect(),
        shifts: vec![],
    };
    let mut cooled = policy();
    cooled.callout_cooldown_minutes = 45;
    let callouts = |policy: PayPolicy| -> Vec<String> {
        price(&ana(), &facts, policy)
            .into_iter()
            .filter(|line| line.component == Component::Callout)
            .map(|line| line.fact.id)
            .collect()
    };
    assert_eq!(callouts(cooled), vec!["p0", "p2", "p3"]);
    // Off by default: four fees.
    assert_eq!(callouts(policy()), vec!["p0", "p1", "p2", "p3"]);
}

#[test]
fn a_cooled_page_does_not_count_towards_escalation() {
    // Four night pages within 10 minutes, cooldown 60: one paid callout, no escalation
    // (without the cooldown the 4th is escalated: 3 free).
    let at = ["2026-01-17T02:00:00Z", "2026-01-17T02:02:00Z", "2026-01-17T02:04:00Z", "2026-01-17T02:06:00Z"];
    let facts = Facts {
        pages: at.iter().enumerate().map(|(i, t)| page(&format!("p{i}"), t)).collect(),
        responses: at
            .iter()
            .enumerate()
            .map(|(i, t)| response(&format!("r{i}"), &format!("p{i}"), "ana", t, t))
            .collect(),
        shifts: vec![],
    };
    let mut cooled = policy();
    cooled.callout_cooldown_minutes = 60;
    let lines = price(&ana(), &facts, cooled);
    assert_eq!(lines.iter().filter(|l| l.component == Component::Callout).count(), 1);
    assert_eq!(lines.iter().filter(|l| l.component == Component::Escalation).count(), 0);
    let lines = price(&ana(), &facts, policy());
    assert_eq!(lines.iter().filter(|l| l.component == Component::Escalation).count(), 1);
}

#[test]
fn an_overflowing_policy_is_a_named_error_not_a_panic() {
    // The issue's finding: response_multiplier.night 10^27 panicked in price_work.
    let mut huge = policy();
    huge.response_multiplier.night = Decimal::from_i128_with_scale(1_000_000_000_000_000_000_000_000_000, 0);
    let facts = one_response("2026-01-17T02:14:00Z", "2026-01-17T02:14:00Z", "2026-01-17T03:05:00Z");
    let (from, to) = all_time();
    let error = price_period(&ana(), &facts, &PolicyHistory::unchecked(vec![huge]), from, to).unwrap_err();
    assert_eq!(
        error,
        PricingError::Overflow {
            person: "ana".into(),
            fact: FactRef { kind: FactKind::Response, id: "r1".into() },
            what: "response pay"
        }
    );
    assert!(error.to_string().contains("`ana`") && error.to_string().contains("`r1`"), "{error}");
    // Standby at an absurd rate and multiplier: an error, not a panic.
    let mut standby = policy();
    standby.standby.rates.weekday = Decimal::MAX;
    standby.standby.role_multipliers.insert("primary".into(), Decimal::MAX);
    let facts = Facts {
        shifts: vec![shift("s1", "primary", "2026-10-14T09:00:00Z", "2026-10-14T17:00:00Z")],
        ..Facts::default()
    };
    let error = price_period(&ana(), &facts, &PolicyHistory::unchecked(vec![standby]), from, to).unwrap_err();
    assert!(matches!(error, PricingError::Overflow { what: "standby", .. }), "{error}");
}

fn limit_amounts() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        Just(dec!(0.01)),
        Just(crate::domain::limits::AMOUNT_MAX),
        (0_i64..100_000_000_000).prop_map(|minor| Decimal::new(minor, 2)),
    ]
}

fn limit_multipliers() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        Just(crate::domain::limits::MULTIPLIER_MAX),
        (0_i64..100_000_000).prop_map(|micro| Decimal::new(micro, 6)),
    ]
}

fn extreme_decimals() -> impl Strategy<Value = Decimal> {
    prop_oneof![Just(Decimal::MAX), Just(Decimal::ZERO), Just(Decimal::ONE), limit_amounts()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn policies_at_their_limits_price_without_overflow(
        fee in limit_amounts(),
        rate in limit_amounts(),
        multiplier in limit_multipliers(),
        factor in (1_i64..=100).prop_map(Decimal::from),
        standby in limit_amounts(),
        mode in modes(),
        increment in 1_i64..=crate::domain::limits::POLICY_MINUTES_MAX,
        minimum in 0_i64..=crate::domain::limits::POLICY_MINUTES_MAX,
        facts in arbitrary_facts(),
    ) {
        // Any policy that validates prices every fact within the limits: lines, no error.
        let mut policy = policy_with(mode);
        policy.callout_fee = crate::domain::policy::PerTimeClass { business: fee, off_hours: fee, night: fee, weekend: fee, holiday: fee };
        policy.response_rate_per_hour = rate;
        policy.response_multiplier.night = multiplier;
        policy.response_multiplier.weekend = multiplier;
        policy.escalation.factor = factor;
        policy.escalation.free_pages = 0;
        policy.standby.rates = PerDayClass { weekday: standby, weekend: standby, holiday: standby };
        policy.standby.role_multipliers.insert("secondary".into(), crate::domain::limits::MULTIPLIER_MAX);
        policy.rounding_increment_minutes = increment;
        policy.minimum_billable_minutes = minimum;
        prop_assert_eq!(policy.validate(), Ok(()));
        let (from, to) = all_time();
        let lines = price_period(&ana(), &facts, &history(policy), from, to);
        prop_assert!(lines.is_ok(), "{:?}", lines);
    }

    #[test]
    fn any_values_give_lines_or_a_named_error_never_a_panic(
        fee in extreme_decimals(),
        rate in extreme_decimals(),
        multiplier in extreme_decimals(),
        factor in extreme_decimals(),
        standby in extreme_decimals(),
        mode in modes(),
        facts in arbitrary_facts(),
    ) {
        // Values beyond the limits (a policy stored before them, or built in code): pricing
        // returns lines or an error naming the person and a fact; it never panics.
        let mut policy = policy_with(mode);
        policy.callout_fee = crate::domain::policy::PerTimeClass { business: fee, off_hours: fee, night: fee, weekend: fee, holiday: fee };
        policy.response_rate_per_hour = rate;
        policy.response_multiplier.night = multiplier;
        policy.escalation.factor = factor.max(Decimal::ONE);
        policy.escalation.free_pages = 0;
        policy.standby.rates = PerDayClass { weekday: standby, weekend: standby, holiday: standby };
        policy.standby.role_multipliers.insert("secondary".into(), multiplier);
        let (from, to) = all_time();
        match price_period(&ana(), &facts, &PolicyHistory::unchecked(vec![policy]), from, to) {
            Ok(_) => {}
            Err(PricingError::Overflow { person, .. }) => prop_assert_eq!(person, "ana"),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    #[test]
    fn no_minute_is_paid_twice(
        zone in zones(),
        facts in arbitrary_facts(),
    ) {
        // With no rounding and no minimum, the response minutes paid are the minutes of the
        // union of the person's works (logged responses and default responses).
        let person = person_in(zone);
        let mut policy = policy();
        policy.rounding_increment_minutes = 1;
        policy.minimum_billable_minutes = 0;
        let (from, to) = all_time();
        let lines = price_responses(&person, &facts, &history(policy), from, to).unwrap();
        let logged: BTreeSet<&str> = facts.responses.iter().map(|r| r.page_id.as_str()).collect();
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = facts.responses.iter().map(|r| (r.started_at, r.ended_at)).collect();
        spans.extend(facts.pages.iter().filter(|p| !logged.contains(p.id.as_str())).map(|p| (p.acknowledged_at.unwrap(), p.resolved_at.unwrap())));
        spans.sort();
        let mut union_minutes = 0_i64;
        let mut covered_to: Option<DateTime<Utc>> = None;
        for (start, end) in spans {
            let start = covered_to.map_or(start, |to| start.max(to));
            if end > start {
                union_minutes += (end - start).num_minutes();
            }
            covered_to = Some(covered_to.map_or(end, |to| to.max(end)));
        }
        prop_assert_eq!(response_minutes(&lines), Decimal::from(union_minutes));
    }
}

#[test]
fn a_night_by_minimum_hours_counts_from_the_shift_start() {
    let mut policy = policy();
    policy.standby.mode = StandbyMode::PerNight;
    policy.standby.rates = PerDayClass { weekday: dec!(20.00), weekend: dec!(40.00), holiday: dec!(60.00) };
    policy.standby.night_minimum_hours = Some(6);
    // Mon 12 Jan 18:01 → 00:00: 5 h 59 min before midnight, no night (the cut-off rule with a
    // midnight cut-off would pay it); 17:00 → 23:30 covers 6 h 30 min: a weekday night.
    for (start, end, expected) in [
        ("2026-01-12T18:01:00Z", "2026-01-13T00:00:00Z", dec!(0)),
        ("2026-01-12T17:00:00Z", "2026-01-12T23:30:00Z", dec!(20.00)),
    ] {
        let facts = Facts { shifts: vec![shift("s1", "primary", start, end)], ..Facts::default() };
        assert_eq!(total(&price(&ana(), &facts, policy.clone())), expected, "{start}–{end}");
    }
    // Fri 16 Jan 12:00 → Mon 19 Jan 12:00: Fri 12 h (weekend 40) + Sat 24 h (40) + Sun 24 h
    // (40) + Mon 12 h (weekday 20) = 140.00; weekend nights as in the cut-off rule.
    let facts = Facts {
        shifts: vec![shift("s1", "primary", "2026-01-16T12:00:00Z", "2026-01-19T12:00:00Z")],
        ..Facts::default()
    };
    let lines = price(&ana(), &facts, policy.clone());
    assert_eq!(total(&lines), dec!(140.00));
    assert_eq!(
        lines[0].explanation,
        "night of Fri 2026-01-16 Europe/London (weekend night): standby (primary) on call at least 6 h between Fri 00:00 and Sat 00:00 at 40.00/night × 1 = 40.00"
    );
    // A night belongs to the period of its date's start, whatever the boundary: with a noon
    // boundary the night of Sat 31 Jan (covered Sat 12:00 → Sun 12:00) is January's.
    policy.standby.night_boundary = Some(chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap());
    let facts = Facts {
        shifts: vec![shift("s1", "primary", "2026-01-31T20:00:00Z", "2026-02-01T08:00:00Z")],
        ..Facts::default()
    };
    let january = price_period(
        &ana(),
        &facts,
        &history(policy.clone()),
        utc("2026-01-01T00:00:00Z"),
        utc("2026-02-01T00:00:00Z"),
    )
    .unwrap();
    let february =
        price_period(&ana(), &facts, &history(policy), utc("2026-02-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"))
            .unwrap();
    assert_eq!((total(&january), february.len()), (dec!(40.00), 0));
}

/// The ledger stores these names and reads them back by serde: the two must never differ.
#[test]
fn every_stored_name_is_the_serialised_name() {
    for component in Component::ALL {
        assert_eq!(component.as_str(), crate::domain::serde_name(&component));
    }
    for unit in [QuantityUnit::Count, QuantityUnit::Minutes, QuantityUnit::Hours, QuantityUnit::Nights] {
        assert_eq!(unit.as_str(), crate::domain::serde_name(&unit));
    }
    for kind in [FactKind::Page, FactKind::Response, FactKind::Shift] {
        assert_eq!(kind.as_str(), crate::domain::serde_name(&kind));
    }
}
