//! The outbox: mail rows written inside the transaction of the change that caused them, then
//! claimed by a worker under a short lease (a compare-and-swap on `lease_until`) that the live
//! worker keeps renewing, so several processes can deliver from one database, each message
//! goes out once, and a message held by a process that died is taken over within seconds.
//! Once delivered, a message's bodies are blanked: a database backup must never hold a working
//! reset link.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::RenderedMail;
use crate::db::DbConn;
use crate::db::schema::email_outbox;

/// How long a claim holds without renewal: a dead worker's messages are free again after this.
pub const LEASE: Duration = Duration::seconds(10);
/// How often a live worker renews the leases of the messages it is sending.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

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
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
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

/// Claims up to `limit` due messages for worker `owner`; each is leased for [`LEASE`] and
/// counted as one attempt. Another worker's unexpired lease is respected.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limit: i64,
    owner: &str,
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
            email_outbox::lease_owner.eq(Some(owner)),
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

/// Extends the leases `owner` still holds on these messages (those not yet sent).
pub fn renew(
    conn: &mut DbConn,
    ids: &[i64],
    owner: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        email_outbox::table
            .filter(email_outbox::id.eq_any(ids))
            .filter(email_outbox::lease_owner.eq(owner))
            .filter(email_outbox::sent_at.is_null()),
    )
    .set(email_outbox::lease_until.eq(Some(now + LEASE)))
    .execute(conn)
}

/// Records delivery and blanks the bodies: once sent, the message's links are the
/// recipient's alone (the subject and addresses stay for the record).
pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::sent_at.eq(Some(now)),
            email_outbox::lease_until.eq(None::<NaiveDateTime>),
            email_outbox::lease_owner.eq(None::<String>),
            email_outbox::last_error.eq(None::<String>),
            email_outbox::body_text.eq(""),
            email_outbox::body_html.eq(""),
        ))
        .execute(conn)
        .map(drop)
}

/// Deletes messages delivered before `before` (`flushexpiredtokens`, after the retention).
pub fn flush_sent(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::sent_at.is_not_null())
            .filter(email_outbox::sent_at.lt(before)),
    )
    .execute(conn)
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
            email_outbox::lease_owner.eq(None::<String>),
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
