use std::time::Duration;

use std::sync::Arc;

use super::{Mailer, RenderedMail, outbox};
use crate::clock::Clock;
use crate::db::{Db, DbError};

/// What the delivery worker needs: the outbox's database, the clock, the transport, the
/// wake-up the use cases ring when they queue mail, and how long to sleep otherwise.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The database holding the outbox.
    pub db: Db,
    /// Source of "now".
    pub clock: Clock,
    /// The mail transport.
    pub mailer: Mailer,
    /// Rung when mail is queued.
    pub mail_queued: Arc<tokio::sync::Notify>,
    /// The longest sleep between rounds.
    pub poll: Duration,
}

/// Messages claimed per round.
const BATCH: i64 = 20;

/// The delivery loop (never ends; the caller runs it in a task it can abort): it wakes when
/// mail is queued (or every `outbox_poll_ms`), delivers what is due, and reschedules failures
/// with backoff.
pub async fn run_outbox_worker(state: Delivery) {
    let worker = worker_id();
    loop {
        match deliver_due(&state, &worker).await {
            // A full batch means more may be waiting: go again at once.
            Ok(n) if n >= usize::try_from(BATCH).unwrap_or(usize::MAX) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error.chain = %crate::telemetry::error_chain(&e), "outbox round failed")
            }
        }
        let _ = tokio::time::timeout(state.poll, state.mail_queued.notified()).await;
    }
}

/// A random name for this worker's leases.
fn worker_id() -> String {
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Aborts the lease renewal when the round ends, however it ends.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps renewing `owner`'s leases on `ids` while the round sends them.
fn keep_leases(state: &Delivery, ids: Vec<i64>, owner: &str) -> Renewal {
    let state = state.clone();
    let owner = owner.to_owned();
    Renewal(tokio::spawn(async move {
        loop {
            tokio::time::sleep(outbox::RENEW_EVERY).await;
            let now = state.clock.now_naive();
            let (ids, owner) = (ids.clone(), owner.clone());
            let renewed = state
                .db
                .run(move |conn| outbox::renew(conn, &ids, &owner, now).map_err(DbError::from))
                .await;
            if let Err(e) = renewed {
                tracing::warn!(error = %crate::telemetry::error_chain(&e), "cannot renew outbox leases");
            }
        }
    }))
}

/// One round for worker `owner`: claim due messages and try each (their leases renewed all
/// the while); returns how many were claimed.
pub async fn deliver_due(state: &Delivery, owner: &str) -> Result<usize, DbError> {
    let now = state.clock.now_naive();
    let worker = owner.to_owned();
    let claimed = state
        .db
        .run(move |conn| outbox::claim_due(conn, now, BATCH, &worker).map_err(DbError::from))
        .await?;
    let count = claimed.len();
    if count == 0 {
        return Ok(0);
    }
    let _renewal = keep_leases(state, claimed.iter().map(|m| m.id).collect(), owner);
    for message in claimed {
        let rendered = RenderedMail {
            subject: message.subject.clone(),
            text: message.body_text.clone(),
            html: message.body_html.clone(),
        };
        let outcome = match Mailer::build(&message.from_address, &message.to_address, &rendered) {
            Ok(built) => state.mailer.send(built).await,
            Err(e) => Err(e),
        };
        let now = state.clock.now_naive();
        let id = message.id;
        match outcome {
            Ok(reply) => {
                tracing::info!(outbox_id = id, %reply, "mail delivered");
                state
                    .db
                    .run(move |conn| outbox::mark_sent(conn, id, now).map_err(DbError::from))
                    .await?;
            }
            Err(e) => {
                let retry_at = now + outbox::backoff(message.attempts);
                let error = e.to_string();
                tracing::warn!(outbox_id = id, attempts = message.attempts, %error, "mail delivery failed; will retry");
                state
                    .db
                    .run(move |conn| {
                        outbox::mark_failed(conn, id, &error, retry_at).map_err(DbError::from)
                    })
                    .await?;
            }
        }
    }
    Ok(count)
}
