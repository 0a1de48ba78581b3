//! The outbox: mail rows written inside the transaction of the change that caused them, then
//! claimed by a worker under a lease (a compare-and-swap on `lease_until`), so several
//! processes can deliver from one database and each message still goes out once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::RenderedMail;
use crate::db::DbConn;
use crate::db::schema::email_outbox;

/// How long a claimed message stays reserved for its worker.
pub const LEASE: Duration = Duration::seconds(120);

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// Recipient.
    pub to_address: String,
    /// Sender.
    pub from_address: String,
    /// Subject line.
    pub subject: String,
    /// text/plain part.
    pub body_text: String,
    /// text/html part.
    pub body_html: String,
    /// When it was queued.
    pub created_at: NaiveDateTime,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Not before this time.
    pub next_attempt_at: NaiveDateTime,
    /// Reserved by a worker until then.
    pub lease_until: Option<NaiveDateTime>,
    /// Delivered at.
    pub sent_at: Option<NaiveDateTime>,
    /// The transport's last complaint.
    pub last_error: Option<String>,
}

/// Queues a rendered mail (call inside the transaction of the change it reports).
pub fn enqueue(
    conn: &mut DbConn,
    from: &str,
    to: &str,
    mail: &RenderedMail,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::to_address.eq(to),
            email_outbox::from_address.eq(from),
            email_outbox::subject.eq(&mail.subject),
            email_outbox::body_text.eq(&mail.text),
            email_outbox::body_html.eq(&mail.html),
            email_outbox::created_at.eq(now),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Claims up to `limit` due messages for this worker; each is leased for [`LEASE`] and counted
/// as one attempt. Another worker's unexpired lease is respected.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxMessage>> {
    let candidates: Vec<i64> = email_outbox::table
        .filter(email_outbox::sent_at.is_null())
        .filter(email_outbox::next_attempt_at.le(now))
        .filter(
            email_outbox::lease_until
                .is_null()
                .or(email_outbox::lease_until.lt(now)),
        )
        .order(email_outbox::id.asc())
        .limit(limit)
        .select(email_outbox::id)
        .load(conn)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for id in candidates {
        let won = diesel::update(
            email_outbox::table
                .filter(email_outbox::id.eq(id))
                .filter(email_outbox::sent_at.is_null())
                .filter(
                    email_outbox::lease_until
                        .is_null()
                        .or(email_outbox::lease_until.lt(now)),
                ),
        )
        .set((
            email_outbox::lease_until.eq(Some(now + LEASE)),
            email_outbox::attempts.eq(email_outbox::attempts + 1),
        ))
        .execute(conn)?;
        if won == 1 {
            claimed.push(
                email_outbox::table
                    .find(id)
                    .select(OutboxMessage::as_select())
                    .first(conn)?,
            );
        }
    }
    Ok(claimed)
}

/// Records delivery.
pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::sent_at.eq(Some(now)),
            email_outbox::lease_until.eq(None::<NaiveDateTime>),
            email_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed attempt and when to try again.
pub fn mark_failed(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    retry_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::last_error.eq(Some(error)),
            email_outbox::next_attempt_at.eq(retry_at),
            email_outbox::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

/// Delay before the next attempt after `attempts` failures: 10 s doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    Duration::seconds((10i64 << exponent).min(3600))
}

/// Every message, oldest first (tests and operators).
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<OutboxMessage>> {
    email_outbox::table
        .order(email_outbox::id.asc())
        .select(OutboxMessage::as_select())
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(4), Duration::seconds(80));
        assert_eq!(backoff(50), Duration::seconds(3600));
    }
}
