//! The database.

use super::DEFAULT_DATABASE_URL;
use super::declare::{Number, Text, settings_area};

settings_area! {
    /// The database and its connection pool.
    #[derive(Debug, Clone)]
    pub struct DatabaseSettings {
        /// `sqlite://path`, a plain file path, or `postgres://user:password@host:port/db`.
        database_url: String = Text::url(DEFAULT_DATABASE_URL).env("DATABASE_URL");
        /// Most database connections the server keeps (1–512).
        db_pool_size: u32 = Number::new(|| 10, 1, 512);
        /// How long a request waits for a connection, in milliseconds. When none comes (the
        /// database is down or saturated) the answer is `503` with `Retry-After: 1` (JSON, or
        /// the HTML error page), not a pile-up of waiting requests.
        db_pool_timeout_ms: u64 = Number::new(|| 1000, 50, 60_000);
    }
}
