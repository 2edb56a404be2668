//! Identity mappings (tool identity → paydown person or service) and what is still
//! unmatched. Pages are folded through the mappings, so a mapping added later
//! re-attributes every page that named the identity.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{identity_mappings, pages, people, services};
use super::{AnyConnection, Stamp, StorageError, write_transaction};
use crate::domain::field_error::FieldError;
use crate::domain::page::PageState;
use crate::domain::timestamp::{from_naive, to_naive};

/// What a mapping maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappingKind {
    /// An acknowledger identity (`pagerduty:PXPGF42`, an email) → a person id.
    Person,
    /// A tool's service name or id → a paydown service id.
    Service,
}

impl MappingKind {
    fn as_str(self) -> &'static str {
        match self {
            MappingKind::Person => "person",
            MappingKind::Service => "service",
        }
    }
}

/// A stored mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mapping {
    pub kind: MappingKind,
    pub external: String,
    pub target: String,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// Pages re-attributed when the mapping was created (0 when listed).
    pub pages_reattributed: usize,
}

/// The mappings that concern a set of deliveries.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    person: BTreeMap<String, String>,
    service: BTreeMap<String, String>,
}

impl Mappings {
    /// Loads the mappings of every identity the states name.
    pub fn for_states<'a>(
        conn: &mut AnyConnection,
        states: impl IntoIterator<Item = &'a PageState>,
    ) -> Result<Mappings, StorageError> {
        // Borrowed and deduplicated as they come: an import batch names a few identities
        // thousands of times.
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for state in states {
            names.insert(&state.service_key);
            names.extend(state.acknowledged_by.as_deref());
        }
        let names: Vec<&str> = names.into_iter().collect();
        let mut mappings = Mappings::default();
        for chunk in names.chunks(500) {
            let rows: Vec<(String, String, String)> = identity_mappings::table
                .filter(identity_mappings::external.eq_any(chunk))
                .select((identity_mappings::kind, identity_mappings::external, identity_mappings::target))
                .load(conn)?;
            for (kind, external, target) in rows {
                match kind.as_str() {
                    "person" => mappings.person.insert(external, target),
                    _ => mappings.service.insert(external, target),
                };
            }
        }
        Ok(mappings)
    }

    /// The state with mapped identities replaced by paydown's.
    pub fn apply(&self, state: &PageState) -> PageState {
        let mut mapped = state.clone();
        mapped.service_key = self.service(&state.service_key).to_owned();
        mapped.acknowledged_by = self.person(state.acknowledged_by.as_deref()).map(str::to_owned);
        mapped
    }

    /// The service a page naming `service_key` belongs to.
    pub fn service<'a>(&'a self, service_key: &'a str) -> &'a str {
        self.service.get(service_key).map_or(service_key, String::as_str)
    }

    /// The person a page's `acknowledged_by` names.
    pub fn person<'a>(&'a self, acknowledged_by: Option<&'a str>) -> Option<&'a str> {
        acknowledged_by.map(|who| self.person.get(who).map_or(who, String::as_str))
    }
}

/// Adds a mapping and re-attributes the pages that named the identity.
pub fn create(
    conn: &mut AnyConnection,
    kind: MappingKind,
    external: &str,
    target: &str,
    stamp: &Stamp,
) -> Result<Mapping, StorageError> {
    crate::domain::field_error::require_text("external", external, crate::domain::page::KEY_LENGTH_MAX)
        .map_err(StorageError::Invalid)?;
    write_transaction(conn, |conn| {
        let exists = match kind {
            MappingKind::Person => super::people::find(conn, target)?.is_some(),
            MappingKind::Service => super::services::find(conn, target)?.is_some(),
        };
        if !exists {
            return Err(StorageError::Invalid(FieldError::new(
                "target",
                format!("unknown {} `{target}`", kind.as_str()),
            )));
        }
        diesel::insert_into(identity_mappings::table)
            .values((
                identity_mappings::kind.eq(kind.as_str()),
                identity_mappings::external.eq(external),
                identity_mappings::target.eq(target),
                identity_mappings::created_at.eq(to_naive(stamp.at)),
                identity_mappings::created_by.eq(&stamp.actor),
            ))
            .execute(conn)
            .map_err(|error| {
                super::conflict_on_unique(error, "external", || format!("`{external}` is already mapped"))
            })?;
        let affected: Vec<String> = match kind {
            MappingKind::Person => {
                pages::table.filter(pages::acknowledged_by.eq(external)).select(pages::id).load(conn)?
            }
            MappingKind::Service => {
                pages::table.filter(pages::service_key.eq(external)).select(pages::id).load(conn)?
            }
        };
        for page_id in &affected {
            super::pages::refold(conn, page_id, to_naive(stamp.at))?;
        }
        super::audit::record(
            conn,
            stamp,
            "map",
            kind.as_str(),
            target,
            Some(format!("{external} → {target}, {} pages re-attributed", affected.len())),
        )?;
        Ok(Mapping {
            kind,
            external: external.to_owned(),
            target: target.to_owned(),
            created_at: stamp.at,
            created_by: stamp.actor.clone(),
            pages_reattributed: affected.len(),
        })
    })
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<Mapping>, StorageError> {
    let rows: Vec<(String, String, String, NaiveDateTime, String)> =
        identity_mappings::table.order((identity_mappings::kind, identity_mappings::external)).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(kind, external, target, created_at, created_by)| Mapping {
            kind: if kind == "person" { MappingKind::Person } else { MappingKind::Service },
            external,
            target,
            created_at: from_naive(created_at),
            created_by,
            pages_reattributed: 0,
        })
        .collect())
}

/// An identity paydown cannot attribute yet, with how many pages name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UnmatchedIdentity {
    pub name: String,
    pub pages: i64,
    /// For a service: `unknown` (no such service) or `unowned` (a service without a team).
    pub reason: String,
}

/// What is kept but not yet attributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Unmatched {
    pub services: Vec<UnmatchedIdentity>,
    pub people: Vec<UnmatchedIdentity>,
}

pub fn unmatched(conn: &mut AnyConnection) -> Result<Unmatched, StorageError> {
    let service_rows: Vec<(String, i64)> = pages::table
        .left_join(services::table.on(services::id.eq(pages::service_key)))
        .filter(services::id.nullable().is_null().or(services::team_id.is_null()))
        .group_by(pages::service_key)
        .select((pages::service_key, diesel::dsl::count_star()))
        .order(pages::service_key)
        .load(conn)?;
    let mut unmatched_services = Vec::with_capacity(service_rows.len());
    for (name, pages) in service_rows {
        let reason = if super::services::find(conn, &name)?.is_some() { "unowned" } else { "unknown" };
        unmatched_services.push(UnmatchedIdentity { name, pages, reason: reason.into() });
    }
    let people_rows: Vec<(Option<String>, i64)> = pages::table
        .left_join(people::table.on(people::id.nullable().eq(pages::acknowledged_by)))
        .filter(pages::acknowledged_by.is_not_null())
        .filter(people::id.nullable().is_null())
        .group_by(pages::acknowledged_by)
        .select((pages::acknowledged_by, diesel::dsl::count_star()))
        .order(pages::acknowledged_by)
        .load(conn)?;
    Ok(Unmatched {
        services: unmatched_services,
        people: people_rows
            .into_iter()
            .filter_map(|(name, pages)| Some(UnmatchedIdentity { name: name?, pages, reason: "unknown".into() }))
            .collect(),
    })
}
