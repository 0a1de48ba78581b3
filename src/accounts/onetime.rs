//! Single-use tokens for password reset, activation and email changes: 256 random bits shown
//! once in a link, only their SHA-256 stored; they expire, are consumed by a compare-and-swap,
//! and all die when the password or the address changes.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConn;
use crate::db::schema::one_time_tokens;
use crate::domain::base64url_encode;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Choosing a new password.
    PasswordReset,
    /// Activating an account.
    Activation,
    /// Confirming a new email address (the row carries the address).
    EmailChange,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::Activation => "activation",
            Self::EmailChange => "email_change",
        }
    }
}

fn digest(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A requested address change, as its token row carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEmail {
    /// The new address, as typed.
    pub new_email: String,
    /// The session that asked for the change (it stays logged in when the change happens).
    pub session_id: Option<String>,
}

/// Creates a token and returns its plaintext (43 url-safe characters); only the hash is kept.
pub fn issue(
    conn: &mut DbConn,
    user_id: i64,
    purpose: Purpose,
    now: NaiveDateTime,
    lifetime: Duration,
) -> QueryResult<String> {
    insert(conn, user_id, purpose, now, lifetime, None)
}

/// Creates an email-change token carrying the new address; earlier pending changes of the user
/// die, so only the newest link works.
pub fn issue_email_change(
    conn: &mut DbConn,
    user_id: i64,
    pending: &PendingEmail,
    now: NaiveDateTime,
    lifetime: Duration,
) -> QueryResult<String> {
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::purpose.eq(Purpose::EmailChange.as_str()))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    insert(
        conn,
        user_id,
        Purpose::EmailChange,
        now,
        lifetime,
        Some(pending),
    )
}

fn insert(
    conn: &mut DbConn,
    user_id: i64,
    purpose: Purpose,
    now: NaiveDateTime,
    lifetime: Duration,
    pending: Option<&PendingEmail>,
) -> QueryResult<String> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = base64url_encode(&bytes);
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::token_hash.eq(digest(&token)),
            one_time_tokens::user_id.eq(user_id),
            one_time_tokens::purpose.eq(purpose.as_str()),
            one_time_tokens::created_at.eq(now),
            one_time_tokens::expires_at.eq(now + lifetime),
            one_time_tokens::new_email.eq(pending.map(|p| p.new_email.as_str())),
            one_time_tokens::session_id.eq(pending.and_then(|p| p.session_id.as_deref())),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Uses up an email-change token and returns the change it carries; `None` when the token is
/// not a valid one of this user (or another request used it first).
pub fn consume_email_change(
    conn: &mut DbConn,
    user_id: i64,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<PendingEmail>> {
    let row: Option<(Option<String>, Option<String>)> = one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(digest(token)))
        .select((one_time_tokens::new_email, one_time_tokens::session_id))
        .first(conn)
        .optional()?;
    let Some((Some(new_email), session_id)) = row else {
        return Ok(None);
    };
    if !consume(conn, user_id, Purpose::EmailChange, token, now)? {
        return Ok(None);
    }
    Ok(Some(PendingEmail {
        new_email,
        session_id,
    }))
}

/// True when `token` is an unused, unexpired token of this user for this purpose.
pub fn is_valid(
    conn: &mut DbConn,
    user_id: i64,
    purpose: Purpose,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(digest(token)))
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now)),
    ))
    .get_result(conn)
}

/// Uses the token up; false when it was not valid (or another request used it first).
pub fn consume(
    conn: &mut DbConn,
    user_id: i64,
    purpose: Purpose,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(digest(token)))
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now)),
    )
    .set(one_time_tokens::used_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Kills every outstanding token of a user (the password or the address changed).
pub fn revoke_all(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(Some(now)))
    .execute(conn)
}

/// Deletes expired and used tokens (housekeeping): they can never be accepted again.
pub fn flush_spent(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        one_time_tokens::table.filter(
            one_time_tokens::expires_at
                .le(now)
                .or(one_time_tokens::used_at.is_not_null()),
        ),
    )
    .execute(conn)
}
