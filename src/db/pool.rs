use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::{Connection, PgConnection, SqliteConnection};

use super::{DbConn, DbError};

/// Which backend a `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A PostgreSQL connection string, passed to libpq as given.
    Postgres(String),
    /// A SQLite file path.
    Sqlite(String),
}

impl Backend {
    /// Picks the backend from the URL scheme: `postgres://`/`postgresql://`, else SQLite
    /// (`sqlite://path`, `sqlite:path` or a bare path).
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err(DbError::InvalidUrl("no SQLite path given".to_owned()));
        }
        if path.contains("://") {
            return Err(DbError::InvalidUrl(format!(
                "unsupported scheme in {:?}: use postgres:// or sqlite://",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// A short name for logs: "postgres" or "sqlite".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

/// r2d2 manager that dispatches on the URL scheme, so a failed PostgreSQL connection reports
/// libpq's own error rather than diesel's generic "invalid connection url".
#[derive(Debug, Clone)]
pub struct DbManager {
    backend: Backend,
}

impl DbManager {
    /// A manager for `backend`.
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Pg)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; foreign keys are off by default in
                // SQLite; the busy timeout makes concurrent writers wait instead of failing.
                // A 256 KiB page cache per connection (SQLite's default is 2 MiB) keeps a full
                // pool small; the OS page cache holds the file anyway.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -256;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// The pool plus the one way to use it: [`Db::run`].
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<DbManager>,
    backend: Backend,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend.name())
            .finish()
    }
}

impl Db {
    /// Opens a pool of up to `size` connections keeping `min_idle` open, failing with the
    /// driver's own error when the database cannot be reached. A checkout that finds no
    /// connection within `checkout_timeout` fails with [`DbError::Pool`], which callers answer
    /// as "unavailable" rather than letting requests pile up behind a lost database.
    ///
    /// Short-lived commands pass `min_idle = 0`: r2d2 replenishes idle connections on a
    /// background thread, and a process that exits while libpq is mid-connect there can crash
    /// in its exit handlers.
    pub fn connect(
        url: &str,
        size: u32,
        min_idle: u32,
        checkout_timeout: Duration,
    ) -> Result<Self, DbError> {
        let backend = Backend::from_url(url)?;
        let manager = DbManager::new(backend.clone());
        // One direct attempt first: it fails at once with the driver's message, where the
        // pool would retry until its timeout.
        r2d2::ManageConnection::connect(&manager)?;
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(min_idle.min(size)))
            .connection_timeout(checkout_timeout)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build(manager)?;
        Ok(Self { pool, backend })
    }

    /// Which backend this pool talks to.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The underlying pool (tests hold its connections to simulate an exhausted pool).
    pub fn pool(&self) -> &r2d2::Pool<DbManager> {
        &self.pool
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, never on an async worker.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(DbError::from)?
    }

    /// True when a connection can be had within `timeout` and answers `SELECT 1`.
    pub async fn is_ready(&self, timeout: Duration) -> bool {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            pool.get_timeout(timeout)
                .map(|mut conn| conn.ping().is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_backend_from_scheme() {
        assert_eq!(
            Backend::from_url("postgres://u@h/db").ok(),
            Some(Backend::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db")
                .map(|b| b.name())
                .ok(),
            Some("postgres")
        );
        assert_eq!(
            Backend::from_url("sqlite://a/b.db").ok(),
            Some(Backend::Sqlite("a/b.db".into()))
        );
        assert_eq!(
            Backend::from_url("sqlite:x.db").ok(),
            Some(Backend::Sqlite("x.db".into()))
        );
        assert_eq!(
            Backend::from_url("/tmp/x.sqlite3").ok(),
            Some(Backend::Sqlite("/tmp/x.sqlite3".into()))
        );
        assert!(Backend::from_url("mysql://h/db").is_err());
        assert!(Backend::from_url("sqlite://").is_err());
    }
}
