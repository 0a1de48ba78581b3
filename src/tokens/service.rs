//! Token use cases: obtain a pair, refresh (rotation, grace window, reuse detection), verify,
//! blacklist, and authenticate a bearer token.

use chrono::{Duration, NaiveDateTime};

use super::jwt::{paired_access_jti, random_id};
use super::{Claims, RefreshToken, Session, SessionKind, TokenError, TokenType, ops};
use crate::accounts::{User, service as accounts};
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::domain::ClientMeta;
use crate::state::AppState;

/// An access/refresh pair, as JWT strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
}

/// What `jwt/refresh` hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// A new access token.
    pub access: String,
    /// The new refresh token when rotating; `None` when rotation is off.
    pub refresh: Option<String>,
}

/// A bearer token that passed every check.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The (active) user.
    pub user: User,
    /// The session the token belongs to.
    pub session_id: String,
    /// When that session ends (no token of it may outlive this).
    pub session_expires_at: NaiveDateTime,
    /// The token's claims.
    pub claims: Claims,
}

fn unix(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

fn seconds(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// Signs the refresh token for `row`, and its paired access token, from stored facts only:
/// the same row always yields the same two strings.
fn mint_pair(state: &AppState, row: &RefreshToken) -> Result<TokenPair, TokenError> {
    let refresh = state.jwt.encode(&state.jwt.claims(
        TokenType::Refresh,
        unix(row.expires_at),
        unix(row.issued_at),
        row.jti.clone(),
        row.user_id,
        row.session_id.clone(),
    ))?;
    let access = mint_access(
        state,
        row.user_id,
        &row.session_id,
        row.issued_at,
        &paired_access_jti(&row.jti),
        None,
    )?;
    Ok(TokenPair { access, refresh })
}

/// An access token issued at `issued_at` for the access lifetime, cut short at `until` (the end
/// of its session) when given.
fn mint_access(
    state: &AppState,
    user_id: i64,
    sid: &str,
    issued_at: NaiveDateTime,
    jti: &str,
    until: Option<NaiveDateTime>,
) -> Result<String, TokenError> {
    let iat = unix(issued_at);
    let lifetime = i64::try_from(state.settings.access_token_lifetime).unwrap_or(i64::MAX);
    let exp = iat.saturating_add(lifetime);
    let exp = until.map_or(exp, |end| exp.min(unix(end)));
    state.jwt.encode(&state.jwt.claims(
        TokenType::Access,
        exp,
        iat,
        jti.to_owned(),
        user_id,
        sid.to_owned(),
    ))
}

fn new_session(
    user_id: i64,
    kind: SessionKind,
    meta: &ClientMeta,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Session {
    Session {
        id: random_id(),
        user_id,
        kind: kind.as_str().to_owned(),
        created_at: now,
        last_seen_at: now,
        expires_at,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        revoked_at: None,
    }
}

/// Checks credentials (username or email) and opens an API session with a fresh pair.
pub async fn obtain_pair(
    state: &AppState,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<(User, TokenPair), TokenError> {
    let user = accounts::authenticate(state, identifier, password, meta).await?;
    let now = state.clock.now_naive();
    let expires_at = now + seconds(state.settings.refresh_token_lifetime);
    let session = new_session(user.id, SessionKind::Api, meta, now, expires_at);
    let row = RefreshToken {
        jti: random_id(),
        session_id: session.id.clone(),
        user_id: user.id,
        parent_jti: None,
        issued_at: now,
        expires_at,
        used_at: None,
        blacklisted_at: None,
    };
    let stored = row.clone();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), TokenError> {
                ops::insert_session(conn, &session)?;
                ops::insert_refresh(conn, &stored)?;
                Ok(())
            })
        })
        .await?;
    let pair = mint_pair(state, &row)?;
    Ok((user, pair))
}

/// Checks credentials and opens an API session answered with an access token only (the
/// FastAPI-style `/users/login/`); the session lives as long as a refresh token would.
pub async fn obtain_access(
    state: &AppState,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<(User, String), TokenError> {
    let user = accounts::authenticate(state, identifier, password, meta).await?;
    let now = state.clock.now_naive();
    let expires_at = now + seconds(state.settings.refresh_token_lifetime);
    let session = new_session(user.id, SessionKind::Api, meta, now, expires_at);
    let sid = session.id.clone();
    state
        .db
        .run(move |conn| ops::insert_session(conn, &session).map_err(TokenError::from))
        .await?;
    let access = mint_access(state, user.id, &sid, now, &random_id(), Some(expires_at))?;
    Ok((user, access))
}

/// Outcome of the rotation transaction, decided inside it and acted on after commit.
enum Rotation {
    Fresh(RefreshToken),
    Repeat(RefreshToken),
    ReuseDetected { session_id: String, user_id: i64 },
}

/// `jwt/refresh`. With rotation on, the presented token is marked used and blacklisted and a
/// child is issued; presenting it again within the grace window returns that same child pair,
/// after it revokes the whole session. Concurrent refreshes of one token all get the same child:
/// the compare-and-swap in [`ops::claim_rotation`] lets exactly one of them rotate.
pub async fn refresh(state: &AppState, token: &str) -> Result<Refreshed, TokenError> {
    let now = state.clock.now_naive();
    let claims = state.jwt.decode(token, unix(now))?;
    if claims.kind() != Some(TokenType::Refresh) {
        return Err(TokenError::WrongType);
    }
    let idle = seconds(state.settings.session_idle_timeout);
    if !state.settings.rotate_refresh_tokens {
        let jti = claims.jti.clone();
        let sid = claims.sid.clone();
        let session_end = state
            .db
            .run(move |conn| -> Result<NaiveDateTime, TokenError> {
                let row = ops::find_refresh(conn, &jti)?.ok_or(TokenError::Invalid)?;
                if row.blacklisted_at.is_some() || row.session_id != sid {
                    return Err(TokenError::Blacklisted);
                }
                live_session(conn, &sid, now, idle).map(|(session, _)| session.expires_at)
            })
            .await?;
        let access = mint_access(
            state,
            claims.user_id,
            &claims.sid,
            now,
            &random_id(),
            Some(session_end),
        )?;
        return Ok(Refreshed {
            access,
            refresh: None,
        });
    }

    let grace = seconds(state.settings.rotation_grace);
    let lifetime = seconds(state.settings.refresh_token_lifetime);
    let jti = claims.jti.clone();
    let outcome = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<Rotation, TokenError> {
                // The write comes first so SQLite takes its write lock before reading anything.
                let won = ops::claim_rotation(conn, &jti, now)?;
                let row = ops::find_refresh(conn, &jti)?.ok_or(TokenError::Invalid)?;
                live_session(conn, &row.session_id, now, idle)?;
                if won {
                    let child = RefreshToken {
                        jti: random_id(),
                        session_id: row.session_id.clone(),
                        user_id: row.user_id,
                        parent_jti: Some(row.jti.clone()),
                        issued_at: now,
                        expires_at: now + lifetime,
                        used_at: None,
                        blacklisted_at: None,
                    };
                    ops::insert_refresh(conn, &child)?;
                    ops::touch_session(conn, &row.session_id, now, child.expires_at)?;
                    return Ok(Rotation::Fresh(child));
                }
                match row.used_at {
                    // Rotated already: within the grace window that is a tab racing another.
                    Some(used) if now - used <= grace => ops::find_child(conn, &row.jti)?
                        .map(Rotation::Repeat)
                        .ok_or(TokenError::Blacklisted),
                    Some(_) => Ok(Rotation::ReuseDetected {
                        session_id: row.session_id,
                        user_id: row.user_id,
                    }),
                    None => Err(TokenError::Blacklisted),
                }
            })
        })
        .await?;
    match outcome {
        Rotation::Fresh(child) | Rotation::Repeat(child) => {
            let pair = mint_pair(state, &child)?;
            Ok(Refreshed {
                access: pair.access,
                refresh: Some(pair.refresh),
            })
        }
        Rotation::ReuseDetected {
            session_id,
            user_id,
        } => {
            let detail = format!("session={session_id}");
            state
                .db
                .run(move |conn| {
                    write_transaction(conn, |conn| -> Result<(), TokenError> {
                        ops::revoke_session(conn, &session_id, now)?;
                        audit::record(
                            conn,
                            AuditKind::RefreshReuseDetected,
                            Some(user_id),
                            None,
                            Some(&detail),
                            now,
                        )?;
                        Ok(())
                    })
                })
                .await?;
            tracing::warn!(
                user_id,
                "refresh token reused after rotation: session revoked"
            );
            Err(TokenError::Blacklisted)
        }
    }
}

/// A live session and its active user. A session is dead everywhere once revoked, past its
/// `expires_at` (the absolute lifetime of a browser session, the newest refresh token's expiry
/// of an API session), or, for a browser session, idle for `browser_idle` (an API session lives
/// while its refresh tokens do: each rotation pushes `expires_at` forward).
fn live_session(
    conn: &mut crate::db::DbConn,
    sid: &str,
    now: NaiveDateTime,
    browser_idle: Duration,
) -> Result<(Session, User), TokenError> {
    let (session, user) = ops::session_with_user(conn, sid)?.ok_or(TokenError::UserNotFound)?;
    if session.revoked_at.is_some() {
        return Err(TokenError::Blacklisted);
    }
    let browser = session.kind == SessionKind::Browser.as_str();
    let idle_out = browser && session.last_seen_at + browser_idle <= now;
    if session.expires_at <= now || idle_out {
        return Err(TokenError::Expired);
    }
    if !user.is_active {
        return Err(TokenError::UserInactive);
    }
    Ok((session, user))
}

/// `jwt/verify`: any token type; refresh tokens (and tokens of revoked sessions) must not be
/// blacklisted.
pub async fn verify(state: &AppState, token: &str) -> Result<(), TokenError> {
    let now = state.clock.now_naive();
    let claims = state.jwt.decode(token, unix(now))?;
    let idle = seconds(state.settings.session_idle_timeout);
    state
        .db
        .run(move |conn| -> Result<(), TokenError> {
            if claims.kind() == Some(TokenType::Refresh) {
                let row = ops::find_refresh(conn, &claims.jti)?.ok_or(TokenError::Invalid)?;
                if row.blacklisted_at.is_some() {
                    return Err(TokenError::Blacklisted);
                }
            }
            match live_session(conn, &claims.sid, now, idle) {
                Err(TokenError::UserNotFound) => Err(TokenError::Invalid),
                other => other.map(drop),
            }
        })
        .await
}

/// `jwt/blacklist` and `logout`: ends the session of any refresh token of it (the newest one, a
/// rotated one, within the grace window or after it), so every token of that session stops
/// working at once. Only a token of a session that already ended gets "blacklisted".
pub async fn blacklist(state: &AppState, token: &str) -> Result<(), TokenError> {
    let now = state.clock.now_naive();
    let claims = state.jwt.decode(token, unix(now))?;
    if claims.kind() != Some(TokenType::Refresh) {
        return Err(TokenError::WrongType);
    }
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), TokenError> {
                let row = ops::find_refresh(conn, &claims.jti)?.ok_or(TokenError::Invalid)?;
                if row.session_id != claims.sid {
                    return Err(TokenError::Invalid);
                }
                let (session, _) =
                    ops::session_with_user(conn, &row.session_id)?.ok_or(TokenError::Invalid)?;
                if session.revoked_at.is_some() {
                    return Err(TokenError::Blacklisted);
                }
                ops::revoke_session(conn, &row.session_id, now)?;
                audit::record(
                    conn,
                    AuditKind::SessionsRevoked,
                    Some(claims.user_id),
                    None,
                    Some("logout"),
                    now,
                )?;
                Ok(())
            })
        })
        .await
}

/// Checks a bearer access token: signature, expiry, type, then one indexed lookup of its
/// session and user (a revoked session or inactive user stops it at once).
pub async fn authenticate_access(
    state: &AppState,
    token: &str,
) -> Result<Authenticated, TokenError> {
    let now = state.clock.now_naive();
    let claims = state.jwt.decode(token, unix(now))?;
    if claims.kind() != Some(TokenType::Access) {
        return Err(TokenError::WrongType);
    }
    let sid = claims.sid.clone();
    let idle = seconds(state.settings.session_idle_timeout);
    let (session, user) = state
        .db
        .run(move |conn| live_session(conn, &sid, now, idle))
        .await?;
    if user.id != claims.user_id {
        return Err(TokenError::Invalid);
    }
    Ok(Authenticated {
        user,
        session_id: session.id,
        session_expires_at: session.expires_at,
        claims,
    })
}

/// `/users/session/`: the same access token while it has more than `margin` left, else a new
/// one for the same session, which never outlives the session.
pub async fn renew_access(state: &AppState, token: &str) -> Result<(User, String), TokenError> {
    let auth = authenticate_access(state, token).await?;
    let now = state.clock.now();
    let left = auth.claims.exp - now.timestamp();
    let margin = i64::try_from(state.settings.session_refresh_margin).unwrap_or(i64::MAX);
    if left > margin {
        return Ok((auth.user, token.trim().to_owned()));
    }
    let access = mint_access(
        state,
        auth.user.id,
        &auth.session_id,
        now.naive_utc(),
        &random_id(),
        Some(auth.session_expires_at),
    )?;
    Ok((auth.user, access))
}

/// Ends every session of the user except `keep`.
pub async fn revoke_other_sessions(
    state: &AppState,
    user_id: i64,
    keep: Option<String>,
) -> Result<usize, TokenError> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            ops::revoke_user_sessions(conn, user_id, keep.as_deref(), now).map_err(TokenError::from)
        })
        .await
}

/// How stale `last_seen_at` may get before a request refreshes it: one write a minute per
/// session at most, not one per request.
const LAST_SEEN_RESOLUTION: Duration = Duration::seconds(60);

/// Opens a browser session (one `sessions` row) for a user who just logged in; returns its id.
pub async fn open_browser_session(
    state: &AppState,
    user_id: i64,
    meta: &ClientMeta,
) -> Result<String, TokenError> {
    let now = state.clock.now_naive();
    let expires_at = now + seconds(state.settings.session_absolute_lifetime);
    let session = new_session(user_id, SessionKind::Browser, meta, now, expires_at);
    let sid = session.id.clone();
    state
        .db
        .run(move |conn| ops::insert_session(conn, &session).map_err(TokenError::from))
        .await?;
    Ok(sid)
}

/// The user of a live browser session: not revoked, not past its absolute lifetime or idle
/// timeout, user active. One indexed lookup (plus a last-seen write once a minute).
pub async fn browser_session_user(state: &AppState, sid: &str) -> Result<User, TokenError> {
    let now = state.clock.now_naive();
    let idle = seconds(state.settings.session_idle_timeout);
    let sid = sid.to_owned();
    state
        .db
        .run(move |conn| -> Result<User, TokenError> {
            let (session, user) = match live_session(conn, &sid, now, idle) {
                Err(TokenError::UserNotFound) => return Err(TokenError::Invalid),
                other => other?,
            };
            if session.kind != SessionKind::Browser.as_str() {
                return Err(TokenError::Blacklisted);
            }
            if now - session.last_seen_at >= LAST_SEEN_RESOLUTION {
                ops::touch_last_seen(conn, &sid, now)?;
            }
            Ok(user)
        })
        .await
}

/// Ends one session (logout).
pub async fn end_session(state: &AppState, sid: &str) -> Result<(), TokenError> {
    let now = state.clock.now_naive();
    let sid = sid.to_owned();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                ops::revoke_session(conn, &sid, now).map_err(TokenError::from)
            })
        })
        .await
}

/// The user's live sessions (browser and API), newest first.
pub async fn list_sessions(state: &AppState, user_id: i64) -> Result<Vec<Session>, TokenError> {
    let now = state.clock.now_naive();
    let idle = seconds(state.settings.session_idle_timeout);
    state
        .db
        .run(move |conn| ops::live_sessions(conn, user_id, now, idle).map_err(TokenError::from))
        .await
}

/// Ends one of the user's own sessions; false when it is not theirs.
pub async fn end_own_session(
    state: &AppState,
    user_id: i64,
    sid: &str,
) -> Result<bool, TokenError> {
    let now = state.clock.now_naive();
    let sid = sid.to_owned();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                ops::revoke_own_session(conn, user_id, &sid, now).map_err(TokenError::from)
            })
        })
        .await
}

/// Checks credentials (username or email) and opens a browser session; returns its id.
pub async fn browser_login(
    state: &AppState,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<String, TokenError> {
    let user = accounts::authenticate(state, identifier, password, meta).await?;
    open_browser_session(state, user.id, meta).await
}
