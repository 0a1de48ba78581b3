//! Authorization codes: stored as their SHA-256, single use, bound to everything the token
//! request must repeat.

use aws_lc_rs::digest::{SHA256, digest};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::oauth_codes;
use crate::domain::base64url_encode;

/// A stored code.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes)]
pub struct CodeRow {
    /// SHA-256 of the code (base64url).
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The person who authorized it.
    pub user_id: i64,
    /// The redirect URI it was sent to (the token request must repeat it).
    pub redirect_uri: String,
    /// The scope granted.
    pub scope: String,
    /// The request's nonce, echoed in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the person last entered their password.
    pub auth_time: NaiveDateTime,
    /// Issue time.
    pub created_at: NaiveDateTime,
    /// Expiry.
    pub expires_at: NaiveDateTime,
    /// When it was exchanged.
    pub used_at: Option<NaiveDateTime>,
    /// The grant it was exchanged for.
    pub session_id: Option<String>,
}

/// The stored form of a code.
pub fn code_hash(code: &str) -> String {
    base64url_encode(digest(&SHA256, code.as_bytes()).as_ref())
}

/// Stores a new code.
pub fn insert(conn: &mut DbConn, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(oauth_codes::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The code with this hash.
pub fn find(conn: &mut DbConn, hash: &str) -> QueryResult<Option<CodeRow>> {
    oauth_codes::table
        .find(hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the code used for `session_id`, if nobody used it first: the compare-and-swap that lets
/// exactly one of two racing exchanges win.
pub fn claim(
    conn: &mut DbConn,
    hash: &str,
    now: NaiveDateTime,
    session_id: &str,
) -> QueryResult<bool> {
    diesel::update(
        oauth_codes::table
            .filter(oauth_codes::code_hash.eq(hash))
            .filter(oauth_codes::used_at.is_null()),
    )
    .set((
        oauth_codes::used_at.eq(Some(now)),
        oauth_codes::session_id.eq(Some(session_id)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Deletes codes that expired before `before` (used ones too: a replay of an expired code is
/// refused as expired either way); returns how many.
pub fn flush_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(oauth_codes::table.filter(oauth_codes::expires_at.lt(before))).execute(conn)
}
