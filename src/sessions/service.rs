//! Session use cases that need no token and no user record: open a browser session, list a
//! user's live sessions, end one or all of them.

use chrono::Duration;
use diesel::QueryResult;

use super::{Opening, Session, SessionContext, SessionError, SessionKind, ops};
use crate::db::{DbConn, write_transaction};
use crate::domain::ClientMeta;

fn seconds(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// Opens a browser session (one `sessions` row) for a user who just logged in; returns its id.
pub async fn open_browser_session(
    ctx: &SessionContext,
    user_id: i64,
    meta: &ClientMeta,
) -> Result<String, SessionError> {
    let opening = browser_opening(ctx, meta);
    ctx.db
        .run(move |conn| store_browser_session(conn, user_id, &opening).map_err(SessionError::from))
        .await
}

/// A browser session opening now, for `session_absolute_lifetime`.
pub fn browser_opening(ctx: &SessionContext, meta: &ClientMeta) -> Opening {
    let now = ctx.clock.now_naive();
    Opening {
        meta: meta.clone(),
        now,
        expires_at: now + seconds(ctx.lifetimes.session_absolute_lifetime),
    }
}

/// Stores a browser session, in the caller's transaction (a login's, so that it opens only if
/// the login still holds); returns its id.
pub fn store_browser_session(
    conn: &mut DbConn,
    user_id: i64,
    opening: &Opening,
) -> QueryResult<String> {
    let session = opening.session(user_id, SessionKind::Browser);
    ops::insert_session(conn, &session)?;
    Ok(session.id)
}

/// Ends one session (logout).
pub async fn end_session(ctx: &SessionContext, sid: &str) -> Result<(), SessionError> {
    let now = ctx.clock.now_naive();
    let sid = sid.to_owned();
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                ops::revoke_session(conn, &sid, now).map_err(SessionError::from)
            })
        })
        .await
}

/// Ends every session of the user except `keep`; returns how many ended.
pub async fn revoke_other_sessions(
    ctx: &SessionContext,
    user_id: i64,
    keep: Option<String>,
) -> Result<usize, SessionError> {
    let now = ctx.clock.now_naive();
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                ops::revoke_user_sessions(conn, user_id, keep.as_deref(), now)
                    .map_err(SessionError::from)
            })
        })
        .await
}

/// The user's live sessions (browser, API and grants to OpenID clients, with the client's
/// name), newest first.
pub async fn list_sessions(
    ctx: &SessionContext,
    user_id: i64,
) -> Result<Vec<(Session, Option<String>)>, SessionError> {
    let now = ctx.clock.now_naive();
    let idle = seconds(ctx.lifetimes.session_idle_timeout);
    ctx.db
        .run(move |conn| ops::live_sessions(conn, user_id, now, idle).map_err(SessionError::from))
        .await
}

/// Ends the user's own live session with this public [`Session::handle`]; false when they
/// have none with it.
pub async fn end_own_session_by_handle(
    ctx: &SessionContext,
    user_id: i64,
    handle: &str,
) -> Result<bool, SessionError> {
    let now = ctx.clock.now_naive();
    let idle = seconds(ctx.lifetimes.session_idle_timeout);
    let handle = handle.to_owned();
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, SessionError> {
                let sessions = ops::live_sessions(conn, user_id, now, idle)?;
                match sessions.iter().find(|(s, _)| s.handle() == handle) {
                    Some((session, _)) => {
                        Ok(ops::revoke_own_session(conn, user_id, &session.id, now)?)
                    }
                    None => Ok(false),
                }
            })
        })
        .await
}
