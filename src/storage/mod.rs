//! Storage: one diesel `MultiConnection` over SQLite (embedded default) and PostgreSQL.
//!
//! Policy:
//! - The rest of the code sees `Store` and the functions of the table modules; which
//!   backend is in use is decided once, from the database URL, and is invisible above
//!   this module except where SQL itself differs (upserts, row locks), which is written
//!   once per backend here and nowhere else (`with_backend!`).
//! - Times are stored as naive UTC `Timestamp`s truncated to microseconds; money as
//!   integer minor units (`BIGINT`), never `REAL`.
//! - Every write that reads before it writes runs in `write_transaction`, which on SQLite
//!   takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`): a deferred transaction that
//!   upgrades from read to write can fail with `SQLITE_BUSY` however long it waits.

/// Pushes one `(?, ?, …)` row of a multi-row `VALUES` onto a diesel `AstPass`, each value
/// bound with its SQL type (the hand-written statements that diesel caches per row count).
macro_rules! push_values_row {
    ($out:ident, $first_type:ty => $first:expr $(, $sql_type:ty => $value:expr)* $(,)?) => {{
        $out.push_sql("(");
        $out.push_bind_param::<$first_type, _>($first)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$sql_type, _>($value)?;
        )*
        $out.push_sql(")");
    }};
}

pub mod audit;
mod connection;
pub mod cost_settings;
pub mod exchange_rates;
pub mod exports;
pub mod facts;
pub mod import;
pub mod journal;
pub mod ledger;
pub mod mappings;
pub mod pages;
pub mod pay_runs;
pub mod people;
pub mod person_versions;
pub mod policies;
pub mod report_input;
pub mod responses;
pub mod rollup;
pub mod schema;
pub mod services;
pub mod shifts;
mod sqlite_list;
mod sqlite_text;
pub mod sync;
pub mod teams;
pub mod tokens;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use audit::Stamp;
pub use connection::{AnyConnection, Backend, DatabaseUrl, Manager};

use crate::domain::field_error::FieldError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Connections kept open per server process.
pub const POOL_SIZE_MAX: u32 = 16;
/// How long a request waits for a free connection before the server answers 503.
pub const POOL_WAIT_MAX: Duration = Duration::from_secs(10);
/// Advisory lock key that serialises migrations of several servers on one PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x0070_6179_646f_776e;

/// What the storage layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{entity} `{id}` does not exist")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(FieldError),
    #[error("{0}")]
    Invalid(FieldError),
}

/// A pooled connection.
pub type Conn = PooledConnection<Manager>;

/// The database behind paydown, with its pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    backend: Backend,
}

impl Store {
    /// Opens the database at `url`, creating an SQLite file if needed, and applies
    /// pending migrations.
    pub fn open(url: &str) -> Result<Store, StorageError> {
        Store::open_with_pool_size(url, POOL_SIZE_MAX)
    }

    /// As `open`, with a chosen pool size (the import and test tools want fewer).
    pub fn open_with_pool_size(url: &str, pool_size_max: u32) -> Result<Store, StorageError> {
        Store::open_with_pool(url, pool_size_max, POOL_WAIT_MAX)
    }

    /// As `open`, with a chosen pool size and wait for a free connection (the server's
    /// configuration, `[database]`).
    pub fn open_with_pool(url: &str, pool_size_max: u32, wait: Duration) -> Result<Store, StorageError> {
        let url: DatabaseUrl = url.parse().map_err(StorageError::Unavailable)?;
        let backend = url.backend();
        let pool = Pool::builder()
            .max_size(pool_size_max)
            // No idle connections kept warm: r2d2 opens those on a background thread, and
            // one still opening as a CLI command exits races libpq's TLS setup against
            // OpenSSL's exit handlers (SIGSEGV). Every connection is then opened on demand,
            // while the caller waits for it.
            .min_idle(Some(0))
            .connection_timeout(wait)
            .build(Manager::new(url))
            .map_err(|error| StorageError::Unavailable(error.to_string()))?;
        let store = Store { pool, backend };
        store.migrate()?;
        Ok(store)
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool's connections now, for `/metrics`.
    pub fn pool_sample(&self) -> crate::metrics::PoolSample {
        let state = self.pool.state();
        crate::metrics::PoolSample {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Takes a connection from the pool.
    pub fn conn(&self) -> Result<Conn, StorageError> {
        self.pool.get().map_err(|error| StorageError::Unavailable(error.to_string()))
    }

    /// A second connection for work that helps but is not needed (the import's
    /// checkpoints): `None` when the pool has none to spare within `wait`.
    pub fn spare_conn(&self, wait: Duration) -> Option<Conn> {
        self.pool.get_timeout(wait).ok()
    }

    /// An idle connection of the pool if there is one, without waiting: for background
    /// work that must not take a connection a request is waiting for.
    pub fn idle_conn(&self) -> Option<Conn> {
        self.pool.try_get()
    }

    /// Applies every pending migration of this backend's folder; returns their names.
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn()?;
        run_migrations(&mut conn)
    }

    /// Reverts every applied migration (newest first); returns their names. For the
    /// up → down → up check of the migration folders, never for a database in use.
    pub fn revert_all_migrations(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn()?;
        let to_names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
            versions.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let reverted = match &mut *conn {
            AnyConnection::Sqlite(conn) => conn.revert_all_migrations(SQLITE_MIGRATIONS).map(to_names),
            AnyConnection::Postgresql(conn) => conn.revert_all_migrations(POSTGRES_MIGRATIONS).map(to_names),
        };
        reverted.map_err(|error| StorageError::Migration(error.to_string()))
    }

    /// Reverts the newest applied migration; returns its name. For checking that a down
    /// migration keeps what the data holds, never for a database in use.
    pub fn revert_last_migration(&self) -> Result<String, StorageError> {
        let mut conn = self.conn()?;
        let reverted = match &mut *conn {
            AnyConnection::Sqlite(conn) => conn.revert_last_migration(SQLITE_MIGRATIONS).map(|v| v.to_string()),
            AnyConnection::Postgresql(conn) => conn.revert_last_migration(POSTGRES_MIGRATIONS).map(|v| v.to_string()),
        };
        reverted.map_err(|error| StorageError::Migration(error.to_string()))
    }

    /// Checks that the database answers.
    pub fn ping(&self) -> Result<(), StorageError> {
        use diesel::connection::SimpleConnection;
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }
}

fn run_migrations(conn: &mut AnyConnection) -> Result<Vec<String>, StorageError> {
    use diesel::connection::SimpleConnection;
    let to_names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
        versions.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    match conn {
        AnyConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(to_names)
            .map_err(|error| StorageError::Migration(error.to_string())),
        AnyConnection::Postgresql(conn) => {
            // An up-to-date database is left alone, so the application role (no CREATE right,
            // see `deploy/postgres/roles.sql`) starts; the owner role applies new migrations.
            if postgres_up_to_date(conn) {
                return Ok(Vec::new());
            }
            conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let applied = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(to_names)
                .map_err(|error| StorageError::Migration(error.to_string()));
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            applied
        }
    }
}

/// Runs `work` in a transaction that holds the write lock from its first statement on
/// SQLite (`BEGIN IMMEDIATE`) and is an ordinary transaction on PostgreSQL. Commits on
/// `Ok`, rolls back on `Err`.
pub fn write_transaction<T, E>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        AnyConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        AnyConnection::Postgresql(inner) => {
            <diesel::PgConnection as Connection>::TransactionManager::begin_transaction(inner)?
        }
    }
    match work(conn) {
        Ok(value) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The work's error is the one worth reporting; a failed rollback leaves the
            // connection broken, and the pool discards it.
            let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// Compiles one body per backend, for SQL that diesel cannot express through
/// `AnyConnection` (upserts, `FOR UPDATE`). Inside, `$conn` is the concrete connection.
#[macro_export]
macro_rules! with_backend {
    ($any:expr, |$conn:ident| $body:expr) => {
        match $any {
            $crate::storage::AnyConnection::Sqlite($conn) => $body,
            $crate::storage::AnyConnection::Postgresql($conn) => $body,
        }
    };
}

/// One value of the key-value `settings` table (pay run, period scheme, standby horizon).
pub(crate) fn setting(conn: &mut AnyConnection, key: &str) -> Result<Option<String>, StorageError> {
    use diesel::prelude::*;
    use schema::settings;
    Ok(settings::table.find(key).select(settings::value).first(conn).optional()?)
}

/// Sets (or, with `None`, removes) one setting. An upsert, not delete-then-insert: two
/// writers on one PostgreSQL that both found the key missing would otherwise both insert.
pub(crate) fn put_setting(
    conn: &mut AnyConnection,
    key: &str,
    value: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StorageError> {
    use diesel::prelude::*;
    use diesel::upsert::excluded;
    use schema::settings;
    let Some(value) = value else {
        diesel::delete(settings::table.find(key)).execute(conn)?;
        return Ok(());
    };
    let values = (
        settings::key.eq(key),
        settings::value.eq(value),
        settings::updated_at.eq(crate::domain::timestamp::to_naive(at)),
    );
    crate::with_backend!(conn, |c| diesel::insert_into(settings::table)
        .values(values.clone())
        .on_conflict(settings::key)
        .do_update()
        .set((settings::value.eq(excluded(settings::value)), settings::updated_at.eq(excluded(settings::updated_at))))
        .execute(c))?;
    Ok(())
}

/// Maps a unique-constraint violation to a conflict naming `field`.
pub(crate) fn conflict_on_unique(
    error: diesel::result::Error,
    field: &str,
    message: impl FnOnce() -> String,
) -> StorageError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StorageError::Conflict(FieldError::new(field, message()))
        }
        other => StorageError::Database(other),
    }
}

/// Whether every embedded migration is recorded as applied (read without creating diesel's
/// bookkeeping table, which needs a right the application role lacks).
fn postgres_up_to_date(conn: &mut diesel::PgConnection) -> bool {
    use diesel::RunQueryDsl;
    use diesel::migration::MigrationSource;
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let Ok(applied) = diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(conn) else {
        return false;
    };
    let applied: std::collections::BTreeSet<String> = applied.into_iter().map(|row| row.version).collect();
    MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
        .is_ok_and(|all| all.iter().all(|migration| applied.contains(&migration.name().version().to_string())))
}

/// Whether the connection's role is a PostgreSQL superuser (it could switch every trigger
/// off with `session_replication_role`); `false` on SQLite.
pub fn connected_as_superuser(conn: &mut AnyConnection) -> Result<bool, StorageError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Super {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        superuser: bool,
    }
    match conn {
        AnyConnection::Sqlite(_) => Ok(false),
        AnyConnection::Postgresql(c) => {
            let row: Super = diesel::sql_query(
                "SELECT (rolsuper OR rolreplication OR rolbypassrls) AS superuser FROM pg_roles WHERE rolname = current_user",
            )
            .get_result(c)?;
            Ok(row.superuser)
        }
    }
}

/// SQLite's default: a commit that leaves the WAL longer than this many pages (4 MB)
/// checkpoints it on the committing connection.
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: u32 = 1_000;
/// While another connection checkpoints for a bulk writer, the writer's own fallback
/// (256 MB of WAL).
pub(crate) const WAL_AUTOCHECKPOINT_DEFERRED_PAGES: u32 = 65_536;

/// On SQLite, sets how long the WAL grows before a commit on this connection checkpoints
/// it; nothing on PostgreSQL.
pub(crate) fn set_wal_autocheckpoint(conn: &mut AnyConnection, pages: u32) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute(&format!("PRAGMA wal_autocheckpoint = {pages}"))?;
    }
    Ok(())
}

/// On SQLite, copies what other connections committed from the WAL into the database file
/// without blocking them (a passive checkpoint); nothing on PostgreSQL.
pub(crate) fn checkpoint_passive(conn: &mut AnyConnection) -> Result<(), StorageError> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?;
    }
    Ok(())
}
