//! Everything a use case needs, built once at start-up and shared (cheap to clone).

use std::sync::Arc;

use crate::accounts::Hasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::PasswordPolicy;

/// Shared application state: no HTTP types, so the CLI and both web adapters use it alike.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The database pool.
    pub db: Db,
    /// Bounded password hashing.
    pub hasher: Hasher,
    /// Source of "now".
    pub clock: Clock,
    /// Password rules for new passwords.
    pub policy: Arc<PasswordPolicy>,
}

impl AppState {
    /// Connects to the database and prepares the hasher; does not run migrations.
    pub fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database_url, settings.db_pool_size)?;
        let hasher = Hasher::new(settings.hash_workers)?;
        Ok(Self {
            settings: Arc::new(settings),
            db,
            hasher,
            clock,
            policy: Arc::new(PasswordPolicy::default()),
        })
    }
}
