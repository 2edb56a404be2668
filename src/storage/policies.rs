//! Pay policies (versioned, immutable once stored) and their assignment to people.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{pay_policies, policy_assignments};
use super::{AnyConnection, StorageError, write_transaction};
use crate::domain::field_error::FieldError;
use crate::domain::policy::{PayPolicy, PolicyHistory};
use crate::domain::timestamp::{from_naive, to_naive};

fn unreadable(id: &str, error: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("pay policy `{id}` has an unreadable stored version: {error}"))
}

/// Stores a new version of a policy. The version must be new, its effective date later
/// than every earlier version's, and the whole history must still be priceable.
pub fn create_version(
    conn: &mut AnyConnection,
    policy: &PayPolicy,
    stamp: &super::Stamp,
) -> Result<PolicyHistory, StorageError> {
    policy
        .validate()
        .map_err(|error| StorageError::Invalid(FieldError::new(error.field.clone(), error.problem.clone())))?;
    write_transaction(conn, |conn| {
        let mut versions = history(conn, &policy.id)?.map(|history| history.versions().to_vec()).unwrap_or_default();
        if versions.iter().any(|stored| stored.version == policy.version) {
            return Err(StorageError::Conflict(FieldError::new(
                "version",
                format!(
                    "version {} of policy `{}` exists; versions are immutable, post a new version",
                    policy.version, policy.id
                ),
            )));
        }
        versions.push(policy.clone());
        let checked = PolicyHistory::new(versions)
            .map_err(|error| StorageError::Invalid(FieldError::new(error.field.clone(), error.problem.clone())))?;
        let document = serde_json::to_string(policy).map_err(|error| unreadable(&policy.id, error))?;
        let version = i32::try_from(policy.version)
            .map_err(|_| StorageError::Invalid(FieldError::new("version", "is too large")))?;
        diesel::insert_into(pay_policies::table)
            .values((
                pay_policies::id.eq(&policy.id),
                pay_policies::version.eq(version),
                pay_policies::effective_from.eq(policy.effective_from),
                pay_policies::currency.eq(policy.currency.code()),
                pay_policies::document.eq(document),
                pay_policies::created_at.eq(to_naive(stamp.at)),
            ))
            .execute(conn)?;
        super::audit::record(conn, stamp, "create", "pay_policy", &format!("{}@{}", policy.id, policy.version), None)?;
        Ok(checked)
    })
}

/// All versions of a policy, or `None` when no version exists.
pub fn history(conn: &mut AnyConnection, id: &str) -> Result<Option<PolicyHistory>, StorageError> {
    let documents: Vec<String> = pay_policies::table
        .filter(pay_policies::id.eq(id))
        .order(pay_policies::version)
        .select(pay_policies::document)
        .load(conn)?;
    if documents.is_empty() {
        return Ok(None);
    }
    let versions = documents
        .iter()
        .map(|document| serde_json::from_str::<PayPolicy>(document))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(id, error))?;
    PolicyHistory::new(versions).map(Some).map_err(|error| unreadable(id, error))
}

pub fn get_history(conn: &mut AnyConnection, id: &str) -> Result<PolicyHistory, StorageError> {
    history(conn, id)?.ok_or_else(|| StorageError::NotFound { entity: "pay policy", id: id.to_owned() })
}

/// The ids of all policies.
pub fn list_ids(conn: &mut AnyConnection) -> Result<Vec<String>, StorageError> {
    Ok(pay_policies::table.select(pay_policies::id).distinct().order(pay_policies::id).load(conn)?)
}

/// A person's policy from a local date on (until the next assignment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    pub person: String,
    pub policy: String,
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct AssignmentRow {
    person_id: String,
    policy_id: String,
    effective_from: NaiveDate,
    created_at: NaiveDateTime,
}

impl From<AssignmentRow> for Assignment {
    fn from(row: AssignmentRow) -> Assignment {
        Assignment {
            person: row.person_id,
            policy: row.policy_id,
            effective_from: row.effective_from,
            created_at: from_naive(row.created_at),
        }
    }
}

/// Assigns a policy to a person from a date on. The policy must exist and price in the
/// person's currency.
pub fn assign(
    conn: &mut AnyConnection,
    person: &str,
    policy: &str,
    effective_from: NaiveDate,
    stamp: &super::Stamp,
) -> Result<Assignment, StorageError> {
    write_transaction(conn, |conn| {
        let stored_person = super::people::get(conn, person)?;
        let Some(history) = history(conn, policy)? else {
            return Err(StorageError::Invalid(FieldError::new("policy", format!("unknown pay policy `{policy}`"))));
        };
        if let Some(version) =
            history.versions().iter().find(|version| version.currency.code() != stored_person.currency)
        {
            return Err(StorageError::Invalid(FieldError::new(
                "policy",
                format!(
                    "policy `{policy}` v{} prices in {}, but `{person}` is paid in {}",
                    version.version,
                    version.currency.code(),
                    stored_person.currency
                ),
            )));
        }
        diesel::insert_into(policy_assignments::table)
            .values((
                policy_assignments::person_id.eq(person),
                policy_assignments::policy_id.eq(policy),
                policy_assignments::effective_from.eq(effective_from),
                policy_assignments::created_at.eq(to_naive(stamp.at)),
            ))
            .execute(conn)
            .map_err(|error| {
                super::conflict_on_unique(error, "effective_from", || {
                    format!("`{person}` already has a policy assigned from {effective_from}")
                })
            })?;
        super::audit::record(
            conn,
            stamp,
            "assign",
            "person",
            person,
            Some(format!("policy {policy} from {effective_from}")),
        )?;
        Ok(Assignment { person: person.to_owned(), policy: policy.to_owned(), effective_from, created_at: stamp.at })
    })
}

/// A person's assignments, earliest first.
pub fn assignments(conn: &mut AnyConnection, person: &str) -> Result<Vec<Assignment>, StorageError> {
    let rows = policy_assignments::table
        .filter(policy_assignments::person_id.eq(person))
        .order(policy_assignments::effective_from)
        .load::<AssignmentRow>(conn)?;
    Ok(rows.into_iter().map(Assignment::from).collect())
}
