use std::time::Duration;

use super::{Mailer, RenderedMail, outbox};
use crate::db::DbError;
use crate::state::AppState;

/// Messages claimed per round.
const BATCH: i64 = 20;

/// Starts the delivery loop on the current runtime: it wakes when mail is queued (or every
/// `outbox_poll_ms`), delivers what is due, and reschedules failures with backoff.
pub fn spawn_outbox_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let poll = Duration::from_millis(state.settings.mail.outbox_poll_ms);
        loop {
            match deliver_due(&state).await {
                // A full batch means more may be waiting: go again at once.
                Ok(n) if n >= usize::try_from(BATCH).unwrap_or(usize::MAX) => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error.chain = %crate::telemetry::error_chain(&e), "outbox round failed")
                }
            }
            let _ = tokio::time::timeout(poll, state.mail_queued.notified()).await;
        }
    })
}

/// One round: claim due messages and try each; returns how many were claimed.
pub async fn deliver_due(state: &AppState) -> Result<usize, DbError> {
    let now = state.clock.now_naive();
    let claimed = state
        .db
        .run(move |conn| outbox::claim_due(conn, now, BATCH).map_err(DbError::from))
        .await?;
    let count = claimed.len();
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
