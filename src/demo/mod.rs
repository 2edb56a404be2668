//! The demo data set: generated (`generate`), then loaded through the same storage
//! functions the API uses, so the demo exercises the real ingest path, out-of-order
//! and repeated deliveries included.

mod generate;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::currency::Currency;
use crate::domain::person::WorkingHours;
use crate::domain::timestamp::truncate_to_micros;
use crate::storage::{StorageError, Store, pages, people, responses, services, shifts, teams};

pub use generate::{DemoData, generate};

/// The seed `paydown demo` uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 2026;

/// What was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub teams: usize,
    pub policies: usize,
    pub people: usize,
    pub services: usize,
    pub shifts: usize,
    pub pages: usize,
    pub deliveries: usize,
    pub responses: usize,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} teams, {} people, {} pay policies, {} services, {} shifts, {} pages from {} deliveries, {} responses",
            self.teams,
            self.people,
            self.policies,
            self.services,
            self.shifts,
            self.pages,
            self.deliveries,
            self.responses
        )
    }
}

/// Issues a fresh token per role for trying the demo (revoking earlier demo tokens),
/// returned as (role, scope, secret).
pub fn issue_tokens(store: &Store) -> Result<Vec<(String, String, String)>, StorageError> {
    use crate::domain::role::Role;
    use crate::storage::tokens::{self, NewToken};
    let mut conn = store.conn()?;
    let now = crate::clock::now();
    let stamp = crate::storage::Stamp::new("demo", now);
    for token in tokens::list(&mut conn)? {
        if token.name.starts_with("demo ") && token.revoked_at.is_none() {
            tokens::revoke(&mut conn, &token.id, &stamp)?;
        }
    }
    let expires_at = Some(now + chrono::Duration::days(30));
    let wanted = [
        (Role::Admin, None, Vec::new(), "all directory data"),
        (Role::Finance, None, Vec::new(), "all pay"),
        (Role::Manager, None, vec!["payments".to_owned()], "team payments"),
        (Role::Engineer, Some("alice".to_owned()), Vec::new(), "person alice"),
        (Role::Ingest, None, Vec::new(), "deliver pages, shifts"),
    ];
    let mut issued = Vec::new();
    for (role, person, teams, scope) in wanted {
        let new = NewToken { name: format!("demo {}", role.as_str()), role, person, teams, expires_at };
        let (_, secret) = tokens::create(&mut conn, &new, &stamp)?;
        issued.push((role.as_str().to_owned(), scope.to_owned(), secret));
    }
    Ok(issued)
}

/// Loads the demo data set when the database holds no teams, people or pages yet.
pub fn load_if_empty(store: &Store, seed: u64) -> Result<Option<DemoSummary>, StorageError> {
    let mut conn = store.conn()?;
    let empty = teams::list(&mut conn)?.is_empty()
        && people::list(&mut conn, None)?.is_empty()
        && pages::list(&mut conn, &pages::PageFilter { limit: 1, ..Default::default() })?.is_empty();
    if !empty {
        return Ok(None);
    }
    load(store, &generate(seed)).map(Some)
}

/// Writes a generated data set through the storage layer.
pub fn load(store: &Store, data: &DemoData) -> Result<DemoSummary, StorageError> {
    let mut conn = store.conn()?;
    // Facts are stamped as recorded at the end of the window, not at load time, so that
    // two loads of one seed are identical.
    let recorded_at: DateTime<Utc> = truncate_to_micros(
        generate::window_start().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            + chrono::Duration::weeks(generate::WINDOW_WEEKS),
    );
    let stamp = crate::storage::Stamp::new("demo", recorded_at);
    for team in &data.teams {
        let new = teams::NewTeam {
            id: team.id.into(),
            name: team.name.into(),
            cost_centre: team.cost_centre.into(),
            default_loaded_hourly_cost: None,
        };
        teams::create(&mut conn, &new, &stamp)?;
    }
    for person in &data.people {
        let currency: Currency =
            person.currency.parse().map_err(|error: crate::domain::currency::UnknownCurrency| {
                StorageError::Invalid(crate::domain::field_error::FieldError::new("currency", error.to_string()))
            })?;
        let new = people::NewPerson {
            id: person.id.clone(),
            name: person.name.into(),
            email: person.email.clone(),
            payroll_id: person.payroll_id.clone(),
            team: Some(person.team.into()),
            timezone: person.timezone,
            currency,
            loaded_hourly_cost: Some(person.loaded_hourly_cost),
            working_hours: WorkingHours::default(),
            holiday_calendar: Some(generate::holiday_calendar(person.timezone).to_owned()),
        };
        people::create(&mut conn, &new, &stamp)?;
    }
    for policy in generate::policies() {
        crate::storage::policies::create_version(&mut conn, &policy, &stamp)?;
    }
    for person in &data.people {
        let policy = generate::policy_id(person.currency);
        crate::storage::policies::assign(&mut conn, &person.id, &policy, generate::policies_effective_from(), &stamp)?;
    }
    for service in &data.services {
        let new = services::NewService {
            id: service.id.into(),
            name: service.name.into(),
            team: service.team.map(Into::into),
        };
        services::create(&mut conn, &new, &stamp)?;
    }
    let new_shifts: Vec<shifts::NewShift> = data
        .shifts
        .iter()
        .map(|shift| shifts::NewShift {
            person: shift.person.clone(),
            role: shift.role,
            schedule: Some(shift.schedule.clone()),
            start: shift.start,
            end: shift.end,
            source: "demo".into(),
            external_id: crate::domain::shift::derived_external_id(&shift.person, shift.role, shift.start, shift.end),
        })
        .collect();
    shifts::record_all(&mut conn, &new_shifts, &stamp, Some("shifts"))?;
    let mut page_ids: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for delivery in &data.deliveries {
        let (page, _) =
            pages::record_delivery(&mut conn, delivery.source, &delivery.external_id, &delivery.state, &stamp)?;
        page_ids.insert((delivery.source, delivery.external_id.as_str()), page.id);
    }
    for response in &data.responses {
        let Some(page_id) = page_ids.get(&(response.source, response.external_id.as_str())) else {
            continue;
        };
        let new = responses::NewResponse {
            id: Some(response.id.to_string()),
            page_id: page_id.clone(),
            person: response.person.clone(),
            started_at: response.started_at,
            ended_at: response.ended_at,
            notes: Some(response.notes.clone()),
            actionable: response.actionable,
        };
        responses::record(&mut conn, &new, &stamp)?;
    }
    Ok(DemoSummary {
        teams: data.teams.len(),
        policies: generate::policies().len(),
        people: data.people.len(),
        services: data.services.len(),
        shifts: data.shifts.len(),
        pages: page_ids.len(),
        deliveries: data.deliveries.len(),
        responses: data.responses.len(),
    })
}
