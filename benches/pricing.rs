//! Prices one month for 2,000 people: 200,000 pages with a response each and 60,000
//! shifts, through the pure pay engine. Prints lines/s and the peak memory.
//!
//! Run: `cargo bench --bench pricing`

use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use paydown::domain::pay::{self, Facts, PageFact, ResponseFact, ShiftFact};
use paydown::domain::policy::{PayPolicy, PolicyHistory};
use paydown::domain::time_class::WorkingCalendar;

const PEOPLE: usize = 2_000;
const PAGES: usize = 200_000;
const SHIFTS: usize = 60_000;

fn main() {
    let zones: [Tz; 5] = [
        chrono_tz::Europe::London,
        chrono_tz::America::New_York,
        chrono_tz::Europe::Berlin,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Australia::Sydney,
    ];
    let from = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let month_seconds = (to - from).num_seconds();
    let currency = "EUR".parse().unwrap();
    let policy = PayPolicy::with_defaults("bench", 1, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), currency);
    let history = PolicyHistory::new(vec![policy]).unwrap();

    // Deterministic spread: page k goes to person k % PEOPLE at a pseudo-random instant.
    let mut state: u64 = 0x5EED;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut facts: Vec<Facts> = vec![Facts::default(); PEOPLE];
    for page in 0..PAGES {
        let person = page % PEOPLE;
        let offset = i64::try_from(next()).unwrap() % month_seconds;
        let triggered_at: DateTime<Utc> = from + Duration::seconds(offset);
        let acknowledged_at = triggered_at + Duration::minutes(3);
        let id = format!("page-{page}");
        facts[person].pages.push(PageFact {
            id: id.clone(),
            triggered_at,
            acknowledged_at: Some(acknowledged_at),
            resolved_at: Some(acknowledged_at + Duration::minutes(40)),
            acknowledged_by: Some(format!("person-{person}")),
        });
        facts[person].responses.push(ResponseFact {
            id: format!("response-{page}"),
            page_id: id,
            person_id: format!("person-{person}"),
            started_at: acknowledged_at,
            ended_at: acknowledged_at + Duration::minutes(20 + i64::try_from(next() % 90).unwrap()),
            actionable: true,
        });
    }
    for shift in 0..SHIFTS {
        let person = shift % PEOPLE;
        let day = i64::try_from(shift / PEOPLE).unwrap();
        let start = from + Duration::days(day) + Duration::hours(17);
        facts[person].shifts.push(ShiftFact {
            id: format!("shift-{shift}"),
            person_id: format!("person-{person}"),
            role: "primary".into(),
            start,
            end: start + Duration::hours(16),
        });
    }
    let people: Vec<pay::Payee> = (0..PEOPLE)
        .map(|person| pay::Payee {
            id: format!("person-{person}"),
            currency,
            calendar: WorkingCalendar::new(zones[person % zones.len()]),
        })
        .collect();

    let started = Instant::now();
    let mut lines = 0_usize;
    for (person, person_facts) in people.iter().zip(&facts) {
        lines += pay::price_period(person, person_facts, &history, from, to).unwrap().len();
    }
    let elapsed = started.elapsed();
    let seconds = elapsed.as_secs_f64();
    println!("pricing: {PEOPLE} people, {PAGES} pages with responses, {SHIFTS} shifts, one month");
    println!("pricing: {lines} lines in {:.3} s = {:.0} lines/s", seconds, lines as f64 / seconds);
    println!("pricing: peak memory {} (VmHWM, whole process including the generated facts)", peak_memory());
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM"))
                .map(|line| line.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}
