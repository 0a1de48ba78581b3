//! Everything a use case needs, built once at start-up and shared (cheap to clone).

use std::sync::Arc;

use crate::accounts::{HashLimits, Hasher};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::PasswordPolicy;
use crate::mail::{MailTemplates, Mailer};
use crate::throttle::IpLimiter;
use crate::tokens::JwtCodec;

/// A one-shot command may wait longer for a connection than a request should.
const COMMAND_CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// JWT signing and checking.
    pub jwt: JwtCodec,
    /// Per-IP token buckets for the login, refresh and registration endpoints.
    pub ip_limiter: Arc<IpLimiter>,
    /// The mail transport.
    pub mailer: Mailer,
    /// The mail templates.
    pub templates: Arc<MailTemplates>,
    /// Wakes the outbox worker when mail is queued.
    pub mail_queued: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// State for the server: a pool of `db_pool_size` keeping one connection warm. Does not
    /// run migrations.
    pub fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let timeout = std::time::Duration::from_millis(settings.database.db_pool_timeout_ms);
        let db = Db::connect(
            &settings.database.database_url,
            settings.database.db_pool_size,
            1,
            timeout,
        )?;
        Self::with_db(settings, clock, db)
    }

    /// State for a one-shot CLI command: a small pool that keeps nothing open in the background.
    pub fn build_for_command(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let db = Db::connect(
            &settings.database.database_url,
            2,
            0,
            COMMAND_CHECKOUT_TIMEOUT,
        )?;
        Self::with_db(settings, clock, db)
    }

    fn with_db(settings: Settings, clock: Clock, db: Db) -> anyhow::Result<Self> {
        let hasher = Hasher::new(HashLimits {
            workers: settings.accounts.hash_workers,
            queue: settings.accounts.hash_queue_limit,
            per_account: settings.accounts.hash_queue_per_account,
        })?;
        let mailer = Mailer::from_settings(&settings.mail)?;
        let templates = Arc::new(MailTemplates::load(settings.mail.template_dir.as_deref())?);
        Ok(Self {
            mailer,
            templates,
            mail_queued: Arc::new(tokio::sync::Notify::new()),
            jwt: JwtCodec::new(
                &settings.tokens.secret_key,
                &settings.tokens.jwt_issuer,
                &settings.tokens.jwt_audience,
            ),
            ip_limiter: Arc::new(IpLimiter::new(settings.throttle)),
            settings: Arc::new(settings),
            db,
            hasher,
            clock,
            policy: Arc::new(PasswordPolicy::default()),
        })
    }
}
