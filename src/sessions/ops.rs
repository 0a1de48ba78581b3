//! Synchronous, connection-first session and refresh-token operations (no users: a join with
//! the user belongs to the module that needs it).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{RefreshToken, Session};
use crate::db::DbConn;
use crate::db::schema::{django_imports, oauth_clients, oauth_codes, refresh_tokens, sessions};

/// Stores a new session.
pub fn insert_session(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(drop)
}

/// A session by id, live or not.
pub fn find_session(conn: &mut DbConn, sid: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .find(sid)
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// Stores a new refresh token.
pub fn insert_refresh(conn: &mut DbConn, token: &RefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

/// A refresh token by jti.
pub fn find_refresh(conn: &mut DbConn, jti: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .find(jti)
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// The token a refresh token was rotated into: its live child if it has one (a forgiven parent
/// has superseded children too), else its newest.
pub fn find_child(conn: &mut DbConn, parent_jti: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::parent_jti.eq(parent_jti))
        .order((
            refresh_tokens::blacklisted_at.is_null().desc(),
            refresh_tokens::issued_at.desc(),
        ))
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// A session's newest token that is still accepted (a rotating session has exactly one).
pub fn newest_live(conn: &mut DbConn, sid: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::session_id.eq(sid))
        .filter(refresh_tokens::blacklisted_at.is_null())
        .order(refresh_tokens::issued_at.desc())
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// Moves a used token's `used_at` from `seen` to `now`, if nobody moved it first: the
/// compare-and-swap that lets one of several concurrent forgiven presentations issue the child.
pub fn restart_grace(
    conn: &mut DbConn,
    jti: &str,
    seen: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::jti.eq(jti))
            .filter(refresh_tokens::used_at.eq(seen)),
    )
    .set(refresh_tokens::used_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Blacklists a token that was never presented, because its parent was forgiven.
pub fn supersede(conn: &mut DbConn, jti: &str, now: NaiveDateTime) -> QueryResult<()> {
    blacklist_refresh(conn, jti, now).map(drop)
}

/// Marks a refresh token rotated, if and only if nobody has yet: the compare-and-swap that
/// serialises concurrent refreshes. Returns whether this caller won.
pub fn claim_rotation(conn: &mut DbConn, jti: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::jti.eq(jti))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::blacklisted_at.is_null()),
    )
    .set((
        refresh_tokens::used_at.eq(Some(now)),
        refresh_tokens::blacklisted_at.eq(Some(now)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Blacklists one refresh token; returns false when it already was.
pub fn blacklist_refresh(conn: &mut DbConn, jti: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::jti.eq(jti))
            .filter(refresh_tokens::blacklisted_at.is_null()),
    )
    .set(refresh_tokens::blacklisted_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Ends one session and blacklists every refresh token of its family.
pub fn revoke_session(conn: &mut DbConn, sid: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(sid))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(Some(now)))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::session_id.eq(sid))
            .filter(refresh_tokens::blacklisted_at.is_null()),
    )
    .set(refresh_tokens::blacklisted_at.eq(Some(now)))
    .execute(conn)
    .map(drop)
}

/// Ends every live session of a user except `keep` (and blacklists their refresh tokens), with
/// what would open one later: authorization codes not exchanged yet and, for an account imported
/// from Django, the tokens Django minted; returns how many sessions ended.
pub fn revoke_user_sessions(
    conn: &mut DbConn,
    user_id: i64,
    keep: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let keep = keep.unwrap_or("");
    let ended = diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(Some(now)))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::session_id.ne(keep))
            .filter(refresh_tokens::blacklisted_at.is_null()),
    )
    .set(refresh_tokens::blacklisted_at.eq(Some(now)))
    .execute(conn)?;
    // Authorization codes not exchanged yet would open grants after this moment.
    diesel::delete(
        oauth_codes::table
            .filter(oauth_codes::user_id.eq(user_id))
            .filter(oauth_codes::used_at.is_null()),
    )
    .execute(conn)?;
    // An account imported from Django may still have tokens Django minted (sessions Latchkey
    // has not seen yet): they end too (see `tokens::django`).
    diesel::update(django_imports::table.find(user_id))
        .set(django_imports::sessions_ended_at.eq(Some(now)))
        .execute(conn)?;
    Ok(ended)
}

/// Ends a user's live grants to one OpenID client, and its codes not exchanged yet; returns how
/// many grants ended.
pub fn revoke_client_sessions(
    conn: &mut DbConn,
    user_id: i64,
    client_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let grants = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::client_id.eq(client_id));
    let ended = diesel::update(grants.filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(Some(now)))
        .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::session_id.eq_any(grants.select(sessions::id)))
            .filter(refresh_tokens::blacklisted_at.is_null()),
    )
    .set(refresh_tokens::blacklisted_at.eq(Some(now)))
    .execute(conn)?;
    // The client's codes not exchanged yet would open a grant after this moment.
    diesel::delete(
        oauth_codes::table
            .filter(oauth_codes::user_id.eq(user_id))
            .filter(oauth_codes::client_id.eq(client_id))
            .filter(oauth_codes::used_at.is_null()),
    )
    .execute(conn)?;
    Ok(ended)
}

/// Pushes a session's expiry and last-seen time forward (after a rotation).
pub fn touch_session(
    conn: &mut DbConn,
    sid: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(sid))
        .set((
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

/// What [`flush_expired`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Sessions past their expiry or revoked (their refresh tokens go with them).
    pub sessions: usize,
    /// Expired refresh tokens of sessions that remain.
    pub refresh_tokens: usize,
}

/// Deletes sessions and refresh tokens that can never be accepted again (SimpleJWT's
/// `flushexpiredtokens`, plus sessions).
pub fn flush_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Flushed> {
    let sessions = diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::revoked_at.is_not_null()),
        ),
    )
    .execute(conn)?;
    let refresh_tokens =
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.le(now)))
            .execute(conn)?;
    Ok(Flushed {
        sessions,
        refresh_tokens,
    })
}

/// Records activity on a session.
pub fn touch_last_seen(conn: &mut DbConn, sid: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(sid))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
        .map(drop)
}

/// A user's live sessions (not revoked, not expired, browser sessions not idle for
/// `browser_idle`), newest first.
pub fn live_sessions(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
    browser_idle: chrono::Duration,
) -> QueryResult<Vec<(Session, Option<String>)>> {
    sessions::table
        .left_join(oauth_clients::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(
            sessions::kind
                .ne(super::SessionKind::Browser.as_str())
                .or(sessions::last_seen_at.gt(now - browser_idle)),
        )
        .order(sessions::created_at.desc())
        .select((Session::as_select(), oauth_clients::name.nullable()))
        .load(conn)
}

/// Ends one session of this user (no effect on another user's session).
pub fn revoke_own_session(
    conn: &mut DbConn,
    user_id: i64,
    sid: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let owned = diesel::select(diesel::dsl::exists(
        sessions::table
            .filter(sessions::id.eq(sid))
            .filter(sessions::user_id.eq(user_id)),
    ))
    .get_result::<bool>(conn)?;
    if owned {
        revoke_session(conn, sid, now)?;
    }
    Ok(owned)
}
