//! Single-use tokens for password reset and activation: 256 random bits shown once in a link,
//! only their SHA-256 stored; they expire, are consumed by a compare-and-swap, and all die when
//! the password changes.

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
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::Activation => "activation",
        }
    }
}

fn digest(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a token and returns its plaintext (43 url-safe characters); only the hash is kept.
pub fn issue(
    conn: &mut DbConn,
    user_id: i64,
    purpose: Purpose,
    now: NaiveDateTime,
    lifetime: Duration,
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
        ))
        .execute(conn)?;
    Ok(token)
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

/// Kills every outstanding token of a user (the password changed).
pub fn revoke_all(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(Some(now)))
    .execute(conn)
}
