//! Housekeeping (`latchkey flushexpiredtokens`): deletes what can never matter again, each kind
//! by the module that owns it, in one transaction.

use chrono::Duration;

use crate::accounts::AccountsContext;
use crate::accounts::onetime;
use crate::db::{DbError, write_transaction};
use crate::keys;
use crate::mail::{cooldown, outbox};
use crate::oidc;
use crate::sessions::ops as session_ops;
use crate::throttle;
use crate::throttle::IpLimiter;

/// What [`flush_expired`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Ended sessions and expired refresh tokens.
    pub sessions: session_ops::Flushed,
    /// Expired or used one-time tokens (reset, activation and address-change links).
    pub one_time_tokens: usize,
    /// Delivered mail older than `sent_mail_retention`.
    pub sent_mail: usize,
    /// Mail cooldowns that ended.
    pub cooldowns: usize,
    /// Backoff rows of quiet, unlocked accounts and full per-IP buckets.
    pub throttle: usize,
    /// Signing keys no longer published (nothing they signed is accepted any more).
    pub signing_keys: usize,
    /// Authorization codes past their 60 seconds (used or not).
    pub authorization_codes: usize,
}

fn seconds(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// Deletes expired and revoked sessions, expired refresh tokens, spent one-time tokens,
/// delivered mail past its retention, ended mail cooldowns, stale throttle rows, retired
/// signing keys and expired authorization codes.
pub async fn flush_expired(
    state: &AccountsContext,
    ip_limiter: &std::sync::Arc<IpLimiter>,
) -> Result<Flushed, DbError> {
    let now = state.clock.now_naive();
    let mail = &state.settings.mail;
    let (retention, cooldown) = (
        seconds(mail.sent_mail_retention),
        seconds(mail.mail_cooldown),
    );
    let limits = state.settings.throttle;
    let ip_limiter = std::sync::Arc::clone(ip_limiter);
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<Flushed, diesel::result::Error> {
                let sessions = session_ops::flush_expired(conn, now)?;
                let one_time_tokens = onetime::flush_spent(conn, now)?;
                let sent_mail = outbox::flush_sent(conn, now - retention)?;
                let cooldowns = cooldown::flush_ended(conn, now - cooldown)?;
                let throttle = throttle::flush_stale(conn, now, &limits)?
                    + ip_limiter.flush_full(conn, now)?;
                let signing_keys = keys::ops::flush_unpublished(conn, now)?;
                let authorization_codes = oidc::flush_expired_codes(conn, now)?;
                Ok(Flushed {
                    sessions,
                    one_time_tokens,
                    sent_mail,
                    cooldowns,
                    throttle,
                    signing_keys,
                    authorization_codes,
                })
            })
            .map_err(DbError::from)
        })
        .await
}
