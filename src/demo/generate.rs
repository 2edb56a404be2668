//! The demo data set, generated from a seed: pure, no database, no clock.
//!
//! Shape (what a real organisation's on-call looks like): 4 teams in 5 time zones (two
//! with DST changes inside the window), 24 people, weekly primary and secondary
//! rotations over 13 weeks, alerts that repeat (noisy ones mostly non-actionable),
//! nightly batch jobs that page at night, bursts of related pages, pages nobody
//! acknowledged, a service nobody owns and one paydown does not know, and deliveries
//! that arrive repeated and out of order.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::domain::page::{Delivery, Lane, PageState};
use crate::domain::rng::SplitMix64;
use crate::domain::shift::ShiftRole;

/// The first Monday of the window; 13 weeks follow (2026-08-03 to 2026-11-02), which
/// covers the end of summer time in Europe (25 Oct) and in the US (1 Nov).
pub fn window_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 8, 3).unwrap_or_default()
}
pub const WINDOW_WEEKS: i64 = 13;

pub struct DemoTeam {
    pub id: &'static str,
    pub name: &'static str,
    pub cost_centre: &'static str,
    /// The zone the rota hands over in (Monday 09:00 local).
    pub rota_zone: Tz,
    pub source: &'static str,
}

pub struct DemoPerson {
    pub id: String,
    pub name: &'static str,
    pub email: String,
    pub payroll_id: String,
    pub team: &'static str,
    pub timezone: Tz,
    pub currency: &'static str,
    pub loaded_hourly_cost: Decimal,
}

pub struct DemoService {
    pub id: &'static str,
    pub name: &'static str,
    pub team: Option<&'static str>,
}

pub struct DemoShift {
    pub person: String,
    pub role: ShiftRole,
    pub schedule: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub struct DemoDelivery {
    pub source: &'static str,
    pub external_id: String,
    pub state: PageState,
}

pub struct DemoResponse {
    pub id: uuid::Uuid,
    pub source: &'static str,
    pub external_id: String,
    pub person: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub notes: String,
    pub actionable: bool,
}

pub struct DemoData {
    pub teams: Vec<DemoTeam>,
    pub people: Vec<DemoPerson>,
    pub services: Vec<DemoService>,
    pub shifts: Vec<DemoShift>,
    pub deliveries: Vec<DemoDelivery>,
    pub responses: Vec<DemoResponse>,
    pub page_count: usize,
}

struct Alert {
    key: &'static str,
    title: &'static str,
    service: &'static str,
    team: Option<&'static str>,
    /// Chance in 1,000 of firing on a given day.
    daily_per_mille: u64,
    /// Local hour it prefers (nightly jobs); `None` fires at any hour.
    hour: Option<u32>,
    noisy: bool,
    lane: Lane,
}

const TEAMS: [(&str, &str, &str, Tz, &str); 4] = [
    ("payments", "Payments", "CC-4100", chrono_tz::Europe::London, "pagerduty"),
    ("platform", "Platform", "CC-4200", chrono_tz::America::New_York, "alertmanager"),
    ("search", "Search", "CC-4300", chrono_tz::Asia::Kolkata, "opsgenie"),
    ("data", "Data", "CC-4400", chrono_tz::Europe::Berlin, "grafana_oncall"),
];

// Names include a comma, an apostrophe and non-Latin scripts on purpose: exports must
// carry them intact.
const PEOPLE: [(&str, &str, &str, Tz, &str, i64); 24] = [
    ("alice", "Alice Thornton", "payments", chrono_tz::Europe::London, "GBP", 7800),
    ("ben", "Ben Okafor", "payments", chrono_tz::Europe::London, "GBP", 7200),
    ("zoe", "Zoë O'Brien", "payments", chrono_tz::Europe::London, "GBP", 8100),
    ("tomas", "Tomás Ruiz, Jr.", "payments", chrono_tz::Europe::London, "GBP", 6900),
    ("hannah", "Hannah Schmidt", "payments", chrono_tz::Europe::Berlin, "EUR", 8400),
    ("lukas", "Lukas Becker", "payments", chrono_tz::Europe::Berlin, "EUR", 7900),
    ("marcus", "Marcus Reed", "platform", chrono_tz::America::New_York, "USD", 11000),
    ("dana", "Dana Kowalski", "platform", chrono_tz::America::New_York, "USD", 10500),
    ("jamal", "Jamal Wright", "platform", chrono_tz::America::New_York, "USD", 9800),
    ("sofia", "Sofía Hernández", "platform", chrono_tz::America::New_York, "USD", 10200),
    ("kenji", "田中 健二", "platform", chrono_tz::America::New_York, "USD", 9900),
    ("olivia", "Olivia Chen", "platform", chrono_tz::America::New_York, "USD", 11500),
    ("rahul", "Rahul Sharma", "search", chrono_tz::Asia::Kolkata, "INR", 320000),
    ("ananya", "अनन्या अय्यर", "search", chrono_tz::Asia::Kolkata, "INR", 295000),
    ("vikram", "Vikram Patel", "search", chrono_tz::Asia::Kolkata, "INR", 310000),
    ("grace", "Grace Liu", "search", chrono_tz::Australia::Sydney, "AUD", 12500),
    ("felix", "Felix Wagner", "data", chrono_tz::Europe::Berlin, "EUR", 8200),
    ("lea", "Léa Dubois", "data", chrono_tz::Europe::Berlin, "EUR", 7700),
    ("mats", "Mats Lindqvist", "data", chrono_tz::Europe::Berlin, "EUR", 8000),
    ("irina", "Ирина Волкова", "data", chrono_tz::Europe::Berlin, "EUR", 7600),
    ("omar", "Omar Haddad", "data", chrono_tz::Europe::Berlin, "EUR", 7500),
    ("nina", "Nina Petrović", "data", chrono_tz::Europe::Berlin, "EUR", 7800),
    ("sam", "Sam Taylor", "payments", chrono_tz::Europe::London, "GBP", 7000),
    ("yara", "Yara Costa", "platform", chrono_tz::America::New_York, "USD", 9700),
];

const SERVICES: [(&str, &str, Option<&str>); 11] = [
    ("checkout", "Checkout API", Some("payments")),
    ("ledger-db", "Ledger database", Some("payments")),
    ("fraud-scoring", "Fraud scoring", Some("payments")),
    ("k8s-cluster", "Kubernetes cluster", Some("platform")),
    ("ingress", "Ingress", Some("platform")),
    ("ci-runners", "CI runners", Some("platform")),
    ("search-api", "Search API", Some("search")),
    ("indexer", "Search indexer", Some("search")),
    ("warehouse", "Data warehouse", Some("data")),
    ("kafka", "Kafka", Some("data")),
    ("legacy-cron", "Legacy cron host", None),
];

fn alerts() -> Vec<Alert> {
    let alert = |key, title, service, team, daily_per_mille, hour, noisy, lane| Alert {
        key,
        title,
        service,
        team,
        daily_per_mille,
        hour,
        noisy,
        lane,
    };
    vec![
        alert(
            "checkout-5xx-rate",
            "Checkout 5xx rate above 2%",
            "checkout",
            Some("payments"),
            120,
            None,
            false,
            Lane::Wake,
        ),
        alert(
            "payment-gateway-timeout",
            "Payment gateway timeouts",
            "checkout",
            Some("payments"),
            60,
            None,
            false,
            Lane::Wake,
        ),
        alert("disk-full-db-7", "Disk 90% full on db-7", "ledger-db", Some("payments"), 380, Some(2), true, Lane::Wake),
        alert("replication-lag", "Replica lag above 60 s", "ledger-db", Some("payments"), 50, None, false, Lane::Wake),
        alert(
            "model-latency-p99",
            "Fraud model p99 above 300 ms",
            "fraud-scoring",
            Some("payments"),
            90,
            None,
            true,
            Lane::Later,
        ),
        alert("node-not-ready", "Node NotReady", "k8s-cluster", Some("platform"), 140, None, false, Lane::Wake),
        alert("pod-crashloop", "Pod in CrashLoopBackOff", "k8s-cluster", Some("platform"), 420, None, true, Lane::Wake),
        alert(
            "cert-expiry",
            "TLS certificate expires in 14 days",
            "ingress",
            Some("platform"),
            25,
            None,
            false,
            Lane::Later,
        ),
        alert("ingress-5xx", "Ingress 5xx above 1%", "ingress", Some("platform"), 80, None, false, Lane::Wake),
        alert(
            "runner-queue-backlog",
            "CI queue backlog above 50 jobs",
            "ci-runners",
            Some("platform"),
            150,
            Some(10),
            true,
            Lane::Later,
        ),
        alert(
            "search-latency-p99",
            "Search p99 above 800 ms",
            "search-api",
            Some("search"),
            130,
            None,
            false,
            Lane::Wake,
        ),
        alert("index-lag", "Index lag above 30 min", "indexer", Some("search"), 260, Some(2), true, Lane::Wake),
        alert("etl-job-failed", "Nightly ETL job failed", "warehouse", Some("data"), 330, Some(3), true, Lane::Wake),
        alert("consumer-lag", "Kafka consumer lag above 100k", "kafka", Some("data"), 110, None, false, Lane::Wake),
        alert("cron-missed", "Cron job did not run", "legacy-cron", None, 90, Some(4), true, Lane::Wake),
        alert("billing-v1-down", "billing-v1 health check failing", "billing-v1", None, 30, None, false, Lane::Wake),
    ]
}

/// The built-in holiday calendar of each demo zone.
pub fn holiday_calendar(zone: Tz) -> &'static str {
    match zone {
        chrono_tz::Europe::London => "GB-ENG",
        chrono_tz::America::New_York => "US",
        chrono_tz::Europe::Berlin => "DE",
        chrono_tz::Asia::Kolkata => "IN",
        _ => "AU-NSW",
    }
}

/// The demo's pay policy for a currency: `standard-gbp`, …
pub fn policy_id(currency: &str) -> String {
    format!("standard-{}", currency.to_ascii_lowercase())
}

pub fn policies_effective_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// One policy per currency of the demo: PRODUCT.md's defaults scaled to the currency
/// (INR amounts 90 times the GBP ones, USD and AUD 1.3 times), so each reads realistic.
pub fn policies() -> Vec<crate::domain::policy::PayPolicy> {
    let scale = |currency: &str| match currency {
        "INR" => Decimal::new(90, 0),
        "AUD" | "USD" => Decimal::new(13, 1),
        _ => Decimal::ONE,
    };
    ["GBP", "USD", "EUR", "INR", "AUD"]
        .into_iter()
        .filter_map(|code| {
            let currency = code.parse().ok()?;
            let mut policy = crate::domain::policy::PayPolicy::with_defaults(
                policy_id(code),
                1,
                policies_effective_from(),
                currency,
            );
            let factor = scale(code);
            for amount in [
                &mut policy.callout_fee.business,
                &mut policy.callout_fee.off_hours,
                &mut policy.callout_fee.night,
                &mut policy.callout_fee.weekend,
                &mut policy.callout_fee.holiday,
                &mut policy.response_rate_per_hour,
                &mut policy.standby.rates.weekday,
                &mut policy.standby.rates.weekend,
                &mut policy.standby.rates.holiday,
            ] {
                *amount = (*amount * factor).round_dp(2);
            }
            Some(policy)
        })
        .collect()
}

/// Generates the whole data set for a seed.
pub fn generate(seed: u64) -> DemoData {
    let mut rng = SplitMix64::new(seed);
    let teams: Vec<DemoTeam> = TEAMS
        .iter()
        .map(|&(id, name, cost_centre, rota_zone, source)| DemoTeam { id, name, cost_centre, rota_zone, source })
        .collect();
    let people: Vec<DemoPerson> = PEOPLE
        .iter()
        .enumerate()
        .map(|(index, &(id, name, team, timezone, currency, cost_minor))| DemoPerson {
            id: id.to_owned(),
            name,
            email: format!("{id}@example.com"),
            payroll_id: format!("E-{}", 1001 + index),
            team,
            timezone,
            currency,
            loaded_hourly_cost: Decimal::new(cost_minor, 2),
        })
        .collect();
    let services = SERVICES.iter().map(|&(id, name, team)| DemoService { id, name, team }).collect();
    let shifts = rota(&teams, &people);
    let mut data =
        DemoData { teams, people, services, shifts, deliveries: Vec::new(), responses: Vec::new(), page_count: 0 };
    pages(&mut rng, &mut data);
    data
}

fn members<'a>(people: &'a [DemoPerson], team: &str) -> Vec<&'a DemoPerson> {
    people.iter().filter(|person| person.team == team).collect()
}

fn local(zone: Tz, date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    // Earliest of an ambiguous local time; a non-existent one (spring forward) moves on an hour.
    zone.with_ymd_and_hms(date.year(), date.month(), date.day(), hour, minute, 0)
        .earliest()
        .or_else(|| zone.with_ymd_and_hms(date.year(), date.month(), date.day(), hour + 1, minute, 0).earliest())
        .map(|instant| instant.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Weekly handovers on Monday 09:00 in the team's zone: primary this week is
/// secondary next week.
fn rota(teams: &[DemoTeam], people: &[DemoPerson]) -> Vec<DemoShift> {
    let mut shifts = Vec::new();
    for team in teams {
        let members = members(people, team.id);
        for week in 0..WINDOW_WEEKS {
            let monday = window_start() + Duration::weeks(week);
            let start = local(team.rota_zone, monday, 9, 0);
            let end = local(team.rota_zone, monday + Duration::weeks(1), 9, 0);
            let index = usize::try_from(week).unwrap_or(0);
            for (role, offset) in [(ShiftRole::Primary, 0), (ShiftRole::Secondary, 1)] {
                let person = members[(index + offset) % members.len()];
                shifts.push(DemoShift {
                    person: person.id.clone(),
                    role,
                    schedule: format!("{}-weekly", team.id),
                    start,
                    end,
                });
            }
        }
    }
    shifts
}

fn on_call(shifts: &[DemoShift], team: &str, role: ShiftRole, at: DateTime<Utc>) -> Option<String> {
    let schedule = format!("{team}-weekly");
    shifts
        .iter()
        .find(|shift| shift.schedule == schedule && shift.role == role && shift.start <= at && at < shift.end)
        .map(|shift| shift.person.clone())
}

fn pages(rng: &mut SplitMix64, data: &mut DemoData) {
    let alerts = alerts();
    let days = WINDOW_WEEKS * 7;
    for day in 0..days {
        let date = window_start() + Duration::days(day);
        for alert in &alerts {
            let team = alert
                .team
                .and_then(|id| data.teams.iter().find(|team| team.id == id))
                .map(|team| (team.id, team.source, team.rota_zone));
            let zone = team.map_or(chrono_tz::UTC, |(_, _, zone)| zone);
            // Noisy alerts repeat: once they fire they often fire again the same day.
            let mut firings = u64::from(rng.below(1_000) < alert.daily_per_mille);
            while firings > 0 && alert.noisy && firings < 4 && rng.chance(35) {
                firings += 1;
            }
            for _ in 0..firings {
                let (hour, minute) = match alert.hour {
                    Some(hour) => (hour, u32::try_from(rng.below(50)).unwrap_or(0)),
                    None => (u32::try_from(rng.below(24)).unwrap_or(0), u32::try_from(rng.below(60)).unwrap_or(0)),
                };
                let triggered_at = local(zone, date, hour, minute);
                emit_page(rng, data, alert, team.map(|(id, source, _)| (id, source)), triggered_at);
            }
        }
        // About once a fortnight per team, an incident sets off a burst of related pages.
        for team_index in 0..data.teams.len() {
            if !rng.chance(7) {
                continue;
            }
            let (team_id, source, zone) = {
                let team = &data.teams[team_index];
                (team.id, team.source, team.rota_zone)
            };
            let team_alerts: Vec<&Alert> = alerts.iter().filter(|alert| alert.team == Some(team_id)).collect();
            let start =
                local(zone, date, u32::try_from(rng.below(24)).unwrap_or(0), u32::try_from(rng.below(60)).unwrap_or(0));
            for burst_index in 0..(3 + rng.below(4)) {
                let alert = *rng.pick(&team_alerts);
                let offset = Duration::minutes(i64::try_from(burst_index * 4 + rng.below(5)).unwrap_or(0));
                emit_page(rng, data, alert, Some((team_id, source)), start + offset);
            }
        }
    }
}

fn external_id(rng: &mut SplitMix64, source: &str) -> String {
    let value = rng.next_u64();
    match source {
        "pagerduty" => format!("Q{:012X}", value >> 16),
        "alertmanager" => format!("{value:016x}"),
        "opsgenie" => format!("{:08x}-{:04x}-{:04x}", value >> 32, (value >> 16) & 0xffff, value & 0xffff),
        "grafana_oncall" => format!("I{:010}", value % 10_000_000_000),
        _ => format!("INC-{}", value % 1_000_000),
    }
}

fn emit_page(
    rng: &mut SplitMix64,
    data: &mut DemoData,
    alert: &Alert,
    team: Option<(&'static str, &'static str)>,
    triggered_at: DateTime<Utc>,
) {
    let source = team.map_or("manual", |(_, source)| source);
    let external_id = external_id(rng, source);
    let minutes = |rng: &mut SplitMix64, low: u64, high: u64| {
        Duration::minutes(i64::try_from(low + rng.below(high - low + 1)).unwrap_or(0))
    };
    let primary = team.and_then(|(id, _)| on_call(&data.shifts, id, ShiftRole::Primary, triggered_at));
    let secondary = team.and_then(|(id, _)| on_call(&data.shifts, id, ShiftRole::Secondary, triggered_at));
    let fallback = data.people[usize::try_from(rng.below(6)).unwrap_or(0) + 6].id.clone();
    let roll = rng.below(100);
    // 82% acknowledged by the primary, 6% escalated to the secondary, 12% never acknowledged.
    let acknowledgement = match roll {
        0..82 => primary.clone().or(Some(fallback)).map(|person| (person, minutes(rng, 1, 18))),
        82..88 => secondary.or(primary).map(|person| (person, minutes(rng, 15, 28))),
        _ => None,
    };
    let acknowledged_at = acknowledgement.as_ref().map(|(_, delay)| triggered_at + *delay);
    let resolved_at = match &acknowledged_at {
        Some(at) => Some(*at + minutes(rng, 8, 150)),
        // Unacknowledged pages mostly resolve on their own; a few are still open.
        None if rng.chance(85) => Some(triggered_at + minutes(rng, 4, 90)),
        None => None,
    };
    let state = |acknowledged: bool, resolved: bool| {
        PageState::from_delivery(Delivery {
            service_key: alert.service.to_owned(),
            title: Some(alert.title.to_owned()),
            alert_key: Some(alert.key.to_owned()),
            lane: Some(alert.lane),
            triggered_at,
            acknowledged_at: acknowledged_at.filter(|_| acknowledged),
            acknowledged_by: acknowledgement.as_ref().map(|(person, _)| person.clone()).filter(|_| acknowledged),
            resolved_at: resolved_at.filter(|_| resolved),
        })
    };
    let mut page_deliveries: Vec<PageState> = Vec::new();
    page_deliveries.extend(state(false, false).ok());
    if acknowledged_at.is_some() {
        page_deliveries.extend(state(true, false).ok());
    }
    if resolved_at.is_some() {
        page_deliveries.extend(state(acknowledged_at.is_some(), true).ok());
    }
    // At-least-once, any order: 10% arrive reversed (resolve first), 8% repeat one.
    if rng.chance(10) {
        page_deliveries.reverse();
    }
    if rng.chance(8) {
        let repeated = page_deliveries
            [usize::try_from(rng.below(u64::try_from(page_deliveries.len()).unwrap_or(1))).unwrap_or(0)]
        .clone();
        page_deliveries.push(repeated);
    }
    for delivery in page_deliveries {
        data.deliveries.push(DemoDelivery { source, external_id: external_id.clone(), state: delivery });
    }
    data.page_count += 1;
    if let (Some((person, _)), Some(started_at)) = (&acknowledgement, acknowledged_at)
        && rng.chance(72)
    {
        let ended_at = resolved_at.unwrap_or(started_at) + minutes(rng, 0, 20);
        let actionable = if alert.noisy { rng.chance(25) } else { rng.chance(88) };
        let notes = if actionable {
            format!("{}: investigated and mitigated", alert.title)
        } else {
            format!("{}: self-healed, no action needed", alert.title)
        };
        let id = uuid::Uuid::from_u64_pair(rng.next_u64(), rng.next_u64());
        data.responses.push(DemoResponse {
            id,
            source,
            external_id,
            person: person.clone(),
            started_at,
            ended_at,
            notes,
            actionable,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn the_data_set_is_deterministic() {
        let a = generate(42);
        let b = generate(42);
        assert_eq!(a.deliveries.len(), b.deliveries.len());
        assert!(
            a.deliveries.iter().zip(&b.deliveries).all(|(x, y)| x.external_id == y.external_id && x.state == y.state)
        );
        assert_ne!(generate(43).deliveries.len(), 0);
    }

    #[test]
    fn the_data_set_has_the_shape_of_real_on_call() {
        let data = generate(super::super::DEFAULT_SEED);
        assert!(data.teams.len() >= 3);
        assert!(data.people.len() >= 20);
        let zones: BTreeSet<&str> = data.people.iter().map(|person| person.timezone.name()).collect();
        assert!(zones.len() >= 3 && zones.contains("Europe/London") && zones.contains("America/New_York"));
        // 13 weekly handovers per team, a primary and a secondary each.
        assert_eq!(data.shifts.len(), data.teams.len() * 13 * 2);
        assert!(data.page_count > 300, "{} pages", data.page_count);
        // Repeats of the same alert.
        let mut per_alert: BTreeMap<String, usize> = BTreeMap::new();
        for delivery in &data.deliveries {
            *per_alert.entry(delivery.state.alert_key.clone().unwrap_or_default()).or_default() += 1;
        }
        assert!(per_alert.values().any(|count| *count > 50));
        // Nights (UTC 00-05 as a proxy) and weekends are present.
        assert!(data.deliveries.iter().any(|d| d.state.triggered_at.hour() < 5));
        assert!(data.deliveries.iter().any(|d| d.state.triggered_at.weekday().number_from_monday() >= 6));
        // Some pages were never acknowledged; some deliveries resolve before their trigger arrives.
        let keys: BTreeSet<&str> = data.deliveries.iter().map(|d| d.external_id.as_str()).collect();
        let acknowledged: BTreeSet<&str> = data
            .deliveries
            .iter()
            .filter(|d| d.state.acknowledged_at.is_some())
            .map(|d| d.external_id.as_str())
            .collect();
        assert!(keys.len() > acknowledged.len());
        // The autumn DST change moves the London handover from 08:00Z to 09:00Z.
        let london: Vec<_> =
            data.shifts.iter().filter(|s| s.schedule == "payments-weekly" && s.role == ShiftRole::Primary).collect();
        assert_eq!(london.first().map(|s| s.start.hour()), Some(8));
        assert_eq!(london.last().map(|s| s.start.hour()), Some(9));
    }
}
