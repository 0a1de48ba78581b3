//! Per-address mail cooldowns: at most one reset (or activation) mail per address per period.
//! Rows are keyed by a hash of the lower-cased address and written whether or not an account
//! has it, so the cooldown (and its timing) says nothing about which addresses exist.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConn;
use crate::db::schema::mail_cooldowns;

/// The cooldown key of an address for one purpose.
pub fn key(purpose: &str, email_lookup: &str) -> String {
    let digest = Sha256::new()
        .chain_update(purpose.as_bytes())
        .chain_update(b":")
        .chain_update(email_lookup.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// True (and the period restarts) when the last mail for `key` is older than `period`.
pub fn try_start(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    period: Duration,
) -> QueryResult<bool> {
    let last: Option<NaiveDateTime> = mail_cooldowns::table
        .find(key)
        .select(mail_cooldowns::last_at)
        .first(conn)
        .optional()?;
    if last.is_some_and(|at| now < at + period) {
        return Ok(false);
    }
    let updated = diesel::update(mail_cooldowns::table.find(key))
        .set(mail_cooldowns::last_at.eq(now))
        .execute(conn)?;
    if updated == 0 {
        // In a savepoint, so a lost race leaves the caller's transaction usable (PostgreSQL
        // aborts a transaction at its first failed statement).
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(mail_cooldowns::table)
                .values((mail_cooldowns::key.eq(key), mail_cooldowns::last_at.eq(now)))
                .execute(conn)
        });
        match inserted {
            Ok(_) => {}
            // A concurrent request for the same address won: it sends, this one does not.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Deletes cooldowns that ended before `before` (they no longer hold anything back).
pub fn flush_ended(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(mail_cooldowns::table.filter(mail_cooldowns::last_at.lt(before))).execute(conn)
}
