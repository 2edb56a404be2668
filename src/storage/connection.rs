//! Choosing and opening the backend from a database URL.

use std::fmt;
use std::str::FromStr;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};

/// One connection to either backend; diesel generates the dispatch.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A database URL: `postgres://…` / `postgresql://…`, `sqlite://path`, or a plain file path.
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver is given: the full URL for PostgreSQL, the path for SQLite.
    target: String,
}

impl DatabaseUrl {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => match (self.target.find("://"), self.target.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let credentials = &self.target[scheme_end + 3..at];
                    let user = credentials.split(':').next().unwrap_or_default();
                    format!("{}{}:***{}", &self.target[..scheme_end + 3], user, &self.target[at..])
                }
                _ => self.target.clone(),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        if url.is_empty() {
            return Err("the database URL is empty".into());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl { backend: Backend::Postgres, target: url.to_owned() });
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.is_empty() {
            return Err(format!("`{url}` names no SQLite file"));
        }
        if path.contains("://") {
            return Err(format!(
                "unsupported database URL scheme in `{url}`: use postgres://, sqlite:// or a file path"
            ));
        }
        Ok(DatabaseUrl { backend: Backend::Sqlite, target: path.to_owned() })
    }
}

/// Opens connections of the backend the URL names, with SQLite's pragmas set.
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Manager {
        Manager { url }
    }
}

/// Per-connection SQLite settings: WAL so readers never block the writer, a busy
/// timeout so writers queue instead of failing (5 s: past it a request answers 503 with
/// `Retry-After`; the background writers hold the lock for milliseconds at a time), and
/// enforced foreign keys. Statement journals (every insert into a table whose triggers may
/// abort needs one) stay in memory rather than in a temporary file, and each connection
/// caches 16 MiB of pages (SQLite's default is 2 MiB), so a posting re-reads the index
/// pages it just wrote from memory. Recursive triggers make the delete of a `REPLACE`
/// fire DELETE triggers, so the append-only tables' no-delete triggers refuse a rewrite
/// by `INSERT OR REPLACE` too (issue 17; migration 000019 dropped the per-row insert
/// trigger that did it at a cost to every posting).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA recursive_triggers = ON;";
/// The part of [`SQLITE_PRAGMAS`] a bulk import changes for its own connection, and puts
/// back before the connection returns to the pool.
pub(crate) const SQLITE_POOL_CACHE: &str = "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;";

/// Process-wide SQLite settings, made once before the library's first use: no memory
/// statistics (their global mutex is taken on every allocation, and the accrual's two
/// threads, one pricing and one posting, contended on it) and multi-thread mode (a
/// connection is only ever used by the one thread that took it from the pool, so the
/// per-connection mutexes guard nothing). A setting the library refuses (it was already
/// initialised, say by a test) leaves the defaults, which are only slower.
fn configure_sqlite_once() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        // SAFETY: `sqlite3_config` is called before any connection of this process is
        // opened (the pool's first connect), with the argument types these options take.
        unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD);
        }
    });
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match self.url.backend {
            Backend::Sqlite => {
                configure_sqlite_once();
                let mut conn =
                    diesel::SqliteConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                conn.batch_execute(SQLITE_POOL_CACHE).map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
            Backend::Postgres => diesel::PgConnection::establish(&self.url.target)
                .map(AnyConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        use diesel::connection::TransactionManager;
        // A connection returned inside a failed transaction must not be reused.
        !matches!(
            <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
            Ok(None)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        let sqlite: DatabaseUrl = "paydown.db".parse().unwrap();
        assert_eq!(sqlite.backend(), Backend::Sqlite);
        let sqlite: DatabaseUrl = "sqlite:///var/lib/paydown.db".parse().unwrap();
        assert_eq!(sqlite.target, "/var/lib/paydown.db");
        let pg: DatabaseUrl = "postgres://paydown:secret@db:5432/pay".parse().unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.redacted(), "postgres://paydown:***@db:5432/pay");
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
        assert!("".parse::<DatabaseUrl>().is_err());
    }
}
