//! Everything a use case needs, built once at start-up and shared (cheap to clone).

use std::sync::Arc;

use std::ops::Deref;

use crate::accounts::{AccountsContext, HashLimits, Hasher};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::PasswordPolicy;
use crate::keys::Keys;
use crate::mail::{Delivery, MailTemplates, Mailer};
use crate::sessions::SessionContext;
use crate::social::Social;
use crate::throttle::IpLimiter;
use crate::tokens::{JwtCodec, TokensContext};

/// Added to how long a superseded key stays published, for clocks a little apart.
const KEY_CLOCK_LEEWAY_SECONDS: u64 = 60;

/// A one-shot command may wait longer for a connection than a request should.
const COMMAND_CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Shared application state: the composition root. It holds each layer's context (tokens over
/// accounts over sessions), the delivery worker's and the per-IP limiter, and dereferences to
/// the token context, so an adapter hands `&state` to any use case and each use case sees only
/// its own layer's context. No HTTP types: the CLI and both web adapters use it alike.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The token use cases' context (and through it the accounts' and sessions').
    pub core: TokensContext,
    /// The outbox delivery worker's context.
    pub delivery: Delivery,
    /// Per-IP token buckets for the login, refresh and registration endpoints.
    pub ip_limiter: Arc<IpLimiter>,
    /// The upstream identity providers of social login.
    pub social: Social,
}

impl Deref for AppState {
    type Target = TokensContext;

    fn deref(&self) -> &TokensContext {
        &self.core
    }
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
        let mail_queued = Arc::new(tokio::sync::Notify::new());
        let delivery = Delivery {
            db: db.clone(),
            clock: clock.clone(),
            mailer,
            mail_queued: Arc::clone(&mail_queued),
            poll: std::time::Duration::from_millis(settings.mail.outbox_poll_ms),
        };
        // A superseded key stays published while anything it signed may still be presented.
        let tokens = &settings.tokens;
        let keep_published = tokens
            .refresh_token_lifetime
            .max(tokens.access_token_lifetime)
            + KEY_CLOCK_LEEWAY_SECONDS;
        let keys = Keys::new(
            db.clone(),
            clock.clone(),
            &tokens.secret_key,
            tokens.key_publish_delay,
            keep_published,
        )?
        .rotating_after(tokens.key_rotate_after);
        let jwt = JwtCodec::new(&tokens.secret_key, &tokens.jwt_issuer, &tokens.jwt_audience)
            .signing_with(tokens.jwt_algorithm, keys.ring().clone())
            .with_provider_issuer(&settings.server.public_url);
        let ip_limiter = Arc::new(IpLimiter::new(settings.throttle));
        let social = Social::new(settings.social.clone(), clock.clone())?;
        let sessions = SessionContext {
            db,
            clock,
            lifetimes: settings.sessions.clone(),
        };
        let accounts = AccountsContext {
            sessions,
            hasher,
            policy: Arc::new(PasswordPolicy::default()),
            templates,
            mail_queued,
            settings: Arc::new(settings),
        };
        Ok(Self {
            core: TokensContext {
                accounts,
                jwt,
                keys,
            },
            delivery,
            ip_limiter,
            social,
        })
    }
}
