//! API tokens: a random secret shown once, stored only as its SHA-256.
//!
//! The secrets are 256 random bits, so a fast hash is the right tool (a slow KDF is for
//! low-entropy human passwords); lookups go by the hash, which is unique.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::schema::api_tokens;
use super::{AnyConnection, Stamp, StorageError, write_transaction};
use crate::domain::field_error::FieldError;
use crate::domain::role::{Caller, Role};
use crate::domain::timestamp::{from_naive, to_naive};

/// Every secret starts with this, so a leaked one is recognisable (secret scanners).
pub const SECRET_PREFIX: &str = "pdt_";

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub person: Option<String>,
    pub teams: Vec<String>,
    #[serde(with = "crate::domain::timestamp::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::domain::timestamp::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Queryable)]
struct TokenRow {
    id: String,
    name: String,
    role: String,
    person_id: Option<String>,
    teams: Option<String>,
    _secret_sha256: String,
    created_at: NaiveDateTime,
    created_by: String,
    expires_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

impl TryFrom<TokenRow> for Token {
    type Error = StorageError;

    fn try_from(row: TokenRow) -> Result<Token, StorageError> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| StorageError::Unavailable(format!("token `{}` has an unknown role", row.id)))?;
        let teams = match &row.teams {
            Some(json) => serde_json::from_str(json)
                .map_err(|_| StorageError::Unavailable(format!("token `{}` has unreadable teams", row.id)))?,
            None => Vec::new(),
        };
        Ok(Token {
            id: row.id,
            name: row.name,
            role,
            person: row.person_id,
            teams,
            created_at: from_naive(row.created_at),
            created_by: row.created_by,
            expires_at: row.expires_at.map(from_naive),
            revoked_at: row.revoked_at.map(from_naive),
        })
    }
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub person: Option<String>,
    pub teams: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The SHA-256 of a secret, in hex.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    // Two v4 UUIDs carry 244 bits from the operating system's CSPRNG.
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    format!("{SECRET_PREFIX}{}{}", a.simple(), b.simple())
}

/// Creates a token; returns it with its secret, which is never retrievable again.
pub fn create(conn: &mut AnyConnection, token: &NewToken, stamp: &Stamp) -> Result<(Token, String), StorageError> {
    crate::domain::field_error::require_text("name", &token.name, 200).map_err(StorageError::Invalid)?;
    match (token.role, &token.person, token.teams.is_empty()) {
        (Role::Engineer, None, _) => {
            return Err(StorageError::Invalid(FieldError::new("person", "an engineer token is bound to one person")));
        }
        (Role::Manager, _, true) => {
            return Err(StorageError::Invalid(FieldError::new(
                "teams",
                "a manager token is bound to one or more teams",
            )));
        }
        (Role::Engineer, Some(_), false) | (Role::Finance | Role::Admin | Role::Ingest, _, false) => {
            return Err(StorageError::Invalid(FieldError::new("teams", "only manager tokens are bound to teams")));
        }
        (Role::Manager | Role::Finance | Role::Admin | Role::Ingest, Some(_), _) => {
            return Err(StorageError::Invalid(FieldError::new("person", "only engineer tokens are bound to a person")));
        }
        _ => {}
    }
    if token.expires_at.is_some_and(|at| at <= stamp.at) {
        return Err(StorageError::Invalid(FieldError::new("expires_at", "must be in the future")));
    }
    write_transaction(conn, |conn| {
        if let Some(person) = &token.person {
            super::people::find(conn, person)?.ok_or_else(|| {
                StorageError::Invalid(FieldError::new("person", format!("unknown person `{person}`")))
            })?;
        }
        for team in &token.teams {
            super::teams::find(conn, team)?
                .ok_or_else(|| StorageError::Invalid(FieldError::new("teams", format!("unknown team `{team}`"))))?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let secret = new_secret();
        let teams = if token.teams.is_empty() { None } else { serde_json::to_string(&token.teams).ok() };
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::id.eq(&id),
                api_tokens::name.eq(&token.name),
                api_tokens::role.eq(token.role.as_str()),
                api_tokens::person_id.eq(&token.person),
                api_tokens::teams.eq(teams),
                api_tokens::secret_sha256.eq(secret_hash(&secret)),
                api_tokens::created_at.eq(to_naive(stamp.at)),
                api_tokens::created_by.eq(&stamp.actor),
                api_tokens::expires_at.eq(token.expires_at.map(to_naive)),
            ))
            .execute(conn)?;
        super::audit::record(
            conn,
            stamp,
            "create",
            "api_token",
            &id,
            Some(format!("{} ({})", token.name, token.role.as_str())),
        )?;
        Ok((get(conn, &id)?, secret))
    })
}

pub fn get(conn: &mut AnyConnection, id: &str) -> Result<Token, StorageError> {
    let row = api_tokens::table.find(id).first::<TokenRow>(conn).optional()?;
    row.map(Token::try_from).transpose()?.ok_or_else(|| StorageError::NotFound { entity: "token", id: id.to_owned() })
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<Token>, StorageError> {
    api_tokens::table.order(api_tokens::id).load::<TokenRow>(conn)?.into_iter().map(Token::try_from).collect()
}

/// How many tokens exist (revoked ones included): zero means a fresh install.
pub fn count(conn: &mut AnyConnection) -> Result<i64, StorageError> {
    Ok(api_tokens::table.count().get_result(conn)?)
}

/// Revokes a token at once.
pub fn revoke(conn: &mut AnyConnection, id: &str, stamp: &Stamp) -> Result<Token, StorageError> {
    write_transaction(conn, |conn| {
        let token = get(conn, id)?;
        if token.revoked_at.is_some() {
            return Ok(token);
        }
        diesel::update(api_tokens::table.find(id))
            .set(api_tokens::revoked_at.eq(Some(to_naive(stamp.at))))
            .execute(conn)?;
        super::audit::record(conn, stamp, "revoke", "api_token", id, Some(token.name.clone()))?;
        get(conn, id)
    })
}

/// Why a presented secret does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Revoked,
    Expired,
}

/// The caller a secret authenticates, if it is valid now.
pub fn authenticate(
    conn: &mut AnyConnection,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Result<Caller, Rejection>, StorageError> {
    // The comparison happens in the database on a hash of a 256-bit secret, so its timing
    // tells an attacker nothing useful about any stored secret.
    let row = api_tokens::table
        .filter(api_tokens::secret_sha256.eq(secret_hash(secret)))
        .first::<TokenRow>(conn)
        .optional()?;
    let Some(token) = row.map(Token::try_from).transpose()? else {
        return Ok(Err(Rejection::Unknown));
    };
    if token.revoked_at.is_some() {
        return Ok(Err(Rejection::Revoked));
    }
    if token.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(Rejection::Expired));
    }
    Ok(Ok(Caller {
        token_id: token.id,
        token_name: token.name,
        role: token.role,
        person: token.person,
        teams: token.teams,
    }))
}
