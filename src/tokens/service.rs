//! Token use cases: obtain a pair, refresh (rotation, grace window, reuse detection), verify,
//! blacklist, and authenticate a bearer token.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::TokensContext;
use super::django;
use super::jwt::{paired_access_jti, random_id};
use super::{Claims, TokenError, TokenType, UserIdClaim};
use crate::accounts::{self, User};
use crate::audit::{self, AuditKind};
use crate::config::RefreshRotation;
use crate::db::DbConn;
use crate::db::schema::{sessions, users};
use crate::db::write_transaction;
use crate::domain::ClientMeta;
use crate::sessions::{
    Opening, RefreshToken, Session, SessionKind, ops, service as session_service,
};

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
fn mint_pair(
    state: &TokensContext,
    row: &RefreshToken,
    format: UserIdClaim,
) -> Result<TokenPair, TokenError> {
    let mut claims = state.jwt.claims(
        TokenType::Refresh,
        unix(row.expires_at),
        unix(row.issued_at),
        row.jti.clone(),
        row.user_id,
        row.session_id.clone(),
    );
    claims.user_id_claim = format;
    let refresh = state.jwt.encode(&claims)?;
    let access = mint_access(
        state,
        (row.user_id, &row.session_id),
        row.issued_at,
        &paired_access_jti(&row.jti),
        None,
        format,
    )?;
    Ok(TokenPair { access, refresh })
}

/// An access token issued at `issued_at` for the access lifetime, cut short at `until` (the end
/// of its session) when given.
fn mint_access(
    state: &TokensContext,
    (user_id, sid): (i64, &str),
    issued_at: NaiveDateTime,
    jti: &str,
    until: Option<NaiveDateTime>,
    format: UserIdClaim,
) -> Result<String, TokenError> {
    let iat = unix(issued_at);
    let lifetime = i64::try_from(state.settings.tokens.access_token_lifetime).unwrap_or(i64::MAX);
    let exp = iat.saturating_add(lifetime);
    let exp = until.map_or(exp, |end| exp.min(unix(end)));
    let mut claims = state.jwt.claims(
        TokenType::Access,
        exp,
        iat,
        jti.to_owned(),
        user_id,
        sid.to_owned(),
    );
    claims.user_id_claim = format;
    state.jwt.encode(&claims)
}

/// Checks credentials (username or email) and opens an API session with a fresh pair whose
/// `user_id` is written as `format` says (the session is stored in the login's transaction).
pub async fn obtain_pair(
    state: &TokensContext,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
    format: UserIdClaim,
) -> Result<(User, TokenPair), TokenError> {
    let opening = pair_opening(state, meta);
    let (user, row) =
        accounts::authenticate_then(state, identifier, password, meta, move |conn, user| {
            Ok(store_pair_session(conn, user.id, &opening)?)
        })
        .await?;
    let pair = mint_pair(state, &row, format)?;
    Ok((user, pair))
}

/// Opens an API session with a fresh pair for a user who proved who they are some other way
/// (an upstream identity provider's tokens).
pub async fn open_pair(
    state: &TokensContext,
    user: &User,
    meta: &ClientMeta,
    format: UserIdClaim,
) -> Result<TokenPair, TokenError> {
    let (user_id, opening) = (user.id, pair_opening(state, meta));
    let row = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                store_pair_session(conn, user_id, &opening).map_err(TokenError::from)
            })
        })
        .await?;
    mint_pair(state, &row, format)
}

/// An API session opening now, for the refresh token's lifetime.
fn pair_opening(state: &TokensContext, meta: &ClientMeta) -> Opening {
    let now = state.clock.now_naive();
    Opening {
        meta: meta.clone(),
        now,
        expires_at: now + seconds(state.settings.tokens.refresh_token_lifetime),
    }
}

/// Stores a new API session and its first refresh token.
fn store_pair_session(
    conn: &mut DbConn,
    user_id: i64,
    opening: &Opening,
) -> QueryResult<RefreshToken> {
    let session = opening.session(user_id, SessionKind::Api);
    let row = RefreshToken {
        jti: random_id(),
        session_id: session.id.clone(),
        user_id,
        parent_jti: None,
        issued_at: opening.now,
        expires_at: opening.expires_at,
        used_at: None,
        blacklisted_at: None,
    };
    ops::insert_session(conn, &session)?;
    ops::insert_refresh(conn, &row)?;
    Ok(row)
}

/// Checks credentials and opens a renewable API session answered with an access token only
/// (the FastAPI-style `/users/login/`): `/users/session/` renews it while the session lives,
/// which is as long as a browser session (`session_absolute_lifetime`, `session_idle_timeout`).
pub async fn obtain_access(
    state: &TokensContext,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<(User, String), TokenError> {
    let opening = session_service::browser_opening(state, meta);
    let (now, expires_at) = (opening.now, opening.expires_at);
    let (user, sid) =
        accounts::authenticate_then(state, identifier, password, meta, move |conn, user| {
            let mut session = opening.session(user.id, SessionKind::Api);
            session.renewable = true;
            ops::insert_session(conn, &session)?;
            Ok(session.id)
        })
        .await?;
    let access = mint_access(
        state,
        (user.id, &sid),
        now,
        &random_id(),
        Some(expires_at),
        UserIdClaim::Integer,
    )?;
    Ok((user, access))
}

/// Outcome of the rotation transaction, decided inside it and acted on after commit.
enum Rotation {
    Fresh(RefreshToken),
    Repeat(RefreshToken),
    ReuseDetected { session_id: String, user_id: i64 },
}

/// `jwt/refresh`, as `refresh_rotation` says.
///
/// With rotation (`forgiving` or `strict`) the presented token is marked used and blacklisted
/// and a child is issued. Presented again within the grace window it returns the session's
/// newest child (tabs racing each other all get the same one: the compare-and-swap in
/// [`ops::claim_rotation`] lets exactly one of them rotate). Presented later it is reuse: the
/// whole session is revoked. `forgiving` excuses exactly one later presentation: the parent of
/// the session's newest token, while that newest token has never been presented (a front end
/// that never stores rotated tokens); it gets a new child and the unused newest one is
/// superseded. A superseded token presented later is reuse too (someone kept it).
pub async fn refresh(
    state: &TokensContext,
    token: &str,
    format: UserIdClaim,
) -> Result<Refreshed, TokenError> {
    let now = state.clock.now_naive();
    let claims = match state.jwt.decode(token, unix(now)) {
        // One SimpleJWT minted before the switch becomes a session of its own.
        Err(TokenError::Invalid) if django::enabled(state) => {
            django::adopt_refresh(state, token, now).await?
        }
        decoded => decoded?,
    };
    if claims.kind() != Some(TokenType::Refresh) {
        return Err(TokenError::WrongType);
    }
    match rotate_refresh(state, &claims, None).await? {
        Rotated::Child(child) => {
            let pair = mint_pair(state, &child, format)?;
            Ok(Refreshed {
                access: pair.access,
                refresh: Some(pair.refresh),
            })
        }
        Rotated::Kept { session_end } => {
            let access = mint_access(
                state,
                (claims.user_id, &claims.sid),
                now,
                &random_id(),
                Some(session_end),
                format,
            )?;
            Ok(Refreshed {
                access,
                refresh: None,
            })
        }
    }
}

/// What a refresh token's presentation did, before anything is signed.
#[derive(Debug)]
pub enum Rotated {
    /// Rotation issued (or, within the grace window, re-issued) this child.
    Child(RefreshToken),
    /// Rotation is off: the token stays; its session ends then.
    Kept {
        /// The session's end (no new access token may outlive it).
        session_end: NaiveDateTime,
    },
}

/// The rotation behind [`refresh`] for a refresh token whose claims were checked: the session
/// must be a grant to `client` (an OpenID client's refresh token) or, for `None`, no grant.
pub async fn rotate_refresh(
    state: &TokensContext,
    claims: &Claims,
    client: Option<&str>,
) -> Result<Rotated, TokenError> {
    let now = state.clock.now_naive();
    let idle = seconds(state.settings.sessions.session_idle_timeout);
    let client = client.map(str::to_owned);
    let forgiving = match state.settings.tokens.refresh_rotation {
        RefreshRotation::Off => {
            let session_end = session_end_without_rotation(state, claims, client).await?;
            return Ok(Rotated::Kept { session_end });
        }
        RefreshRotation::Forgiving => true,
        RefreshRotation::Strict => false,
    };
    let grace = seconds(state.settings.tokens.rotation_grace);
    let lifetime = seconds(state.settings.tokens.refresh_token_lifetime);
    let jti = claims.jti.clone();
    let outcome = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<Rotation, TokenError> {
                // The write comes first so SQLite takes its write lock before reading anything.
                let won = ops::claim_rotation(conn, &jti, now)?;
                let row = ops::find_refresh(conn, &jti)?.ok_or(TokenError::Invalid)?;
                let (session, _) = live_session(conn, &row.session_id, now, idle)?;
                if session.client_id != client {
                    return Err(TokenError::Invalid);
                }
                if won {
                    return issue_child(conn, &row, now, lifetime).map(Rotation::Fresh);
                }
                let reuse = || Rotation::ReuseDetected {
                    session_id: row.session_id.clone(),
                    user_id: row.user_id,
                };
                let Some(used) = row.used_at else {
                    // Blacklisted without ever being presented: superseded, so kept by someone.
                    return Ok(reuse());
                };
                if now - used <= grace {
                    // Rotated moments ago: a tab racing another gets the same child.
                    return ops::find_child(conn, &row.jti)?
                        .map(Rotation::Repeat)
                        .ok_or(TokenError::Blacklisted);
                }
                if !forgiving {
                    return Ok(reuse());
                }
                let newest = ops::newest_live(conn, &row.session_id)?;
                let forgivable = newest.as_ref().is_some_and(|n| {
                    n.parent_jti.as_deref() == Some(row.jti.as_str()) && n.used_at.is_none()
                });
                match newest.filter(|_| forgivable) {
                    None => Ok(reuse()),
                    // The grace restarts now, so tabs re-sending it together share one child.
                    Some(newest) if ops::restart_grace(conn, &row.jti, used, now)? => {
                        ops::supersede(conn, &newest.jti, now)?;
                        issue_child(conn, &row, now, lifetime).map(Rotation::Fresh)
                    }
                    // Another request forgave it a moment ago: share its child.
                    Some(_) => ops::find_child(conn, &row.jti)?
                        .map(Rotation::Repeat)
                        .ok_or(TokenError::Blacklisted),
                }
            })
        })
        .await?;
    match outcome {
        Rotation::Fresh(child) | Rotation::Repeat(child) => Ok(Rotated::Child(child)),
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

/// A new child of `parent` in its session (the session's expiry moves with it).
fn issue_child(
    conn: &mut DbConn,
    parent: &RefreshToken,
    now: NaiveDateTime,
    lifetime: Duration,
) -> Result<RefreshToken, TokenError> {
    let child = RefreshToken {
        jti: random_id(),
        session_id: parent.session_id.clone(),
        user_id: parent.user_id,
        parent_jti: Some(parent.jti.clone()),
        issued_at: now,
        expires_at: now + lifetime,
        used_at: None,
        blacklisted_at: None,
    };
    ops::insert_refresh(conn, &child)?;
    ops::touch_session(conn, &parent.session_id, now, child.expires_at)?;
    Ok(child)
}

/// `refresh_rotation = off`: SimpleJWT's default. The token stays valid (until it expires, is
/// blacklisted or its session ends); each call answers a new access token only, which ends
/// when the session does.
async fn session_end_without_rotation(
    state: &TokensContext,
    claims: &Claims,
    client: Option<String>,
) -> Result<NaiveDateTime, TokenError> {
    let now = state.clock.now_naive();
    let idle = seconds(state.settings.sessions.session_idle_timeout);
    let jti = claims.jti.clone();
    let sid = claims.sid.clone();
    state
        .db
        .run(move |conn| -> Result<NaiveDateTime, TokenError> {
            let row = ops::find_refresh(conn, &jti)?.ok_or(TokenError::Invalid)?;
            if row.blacklisted_at.is_some() || row.session_id != sid {
                return Err(TokenError::Blacklisted);
            }
            let (session, _) = live_session(conn, &sid, now, idle)?;
            if session.client_id != client {
                return Err(TokenError::Invalid);
            }
            Ok(session.expires_at)
        })
        .await
}

/// A live session and its active user. A session is dead everywhere once revoked, past its
/// `expires_at` (the absolute lifetime of a browser or renewable session, the newest refresh
/// token's expiry of a refresh-token session), or, for a browser or renewable session, idle for
/// `idle` (a refresh-token session lives while its tokens do: each rotation moves
/// `expires_at`). An inactive user is reported first, whatever became of the session
/// (deactivation ends them all), as SimpleJWT reports `user_inactive`.
fn live_session(
    conn: &mut DbConn,
    sid: &str,
    now: NaiveDateTime,
    idle: Duration,
) -> Result<(Session, User), TokenError> {
    let (session, user) = session_with_user(conn, sid)?.ok_or(TokenError::UserNotFound)?;
    if !user.is_active {
        return Err(TokenError::UserInactive);
    }
    if session.revoked_at.is_some() {
        return Err(TokenError::Blacklisted);
    }
    let idles = session.renewable || session.kind == SessionKind::Browser.as_str();
    let idle_out = idles && session.last_seen_at + idle <= now;
    if session.expires_at <= now || idle_out {
        return Err(TokenError::Expired);
    }
    Ok((session, user))
}

/// `jwt/verify`: any token type; refresh tokens (and tokens of revoked sessions) must not be
/// blacklisted.
pub async fn verify(state: &TokensContext, token: &str) -> Result<(), TokenError> {
    let now = state.clock.now_naive();
    let claims = match state.jwt.decode(token, unix(now)) {
        Err(TokenError::Invalid) if django::enabled(state) => {
            return django::verify(state, token, now).await;
        }
        decoded => decoded?,
    };
    let idle = seconds(state.settings.sessions.session_idle_timeout);
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
pub async fn blacklist(state: &TokensContext, token: &str) -> Result<(), TokenError> {
    let now = state.clock.now_naive();
    let claims = match state.jwt.decode(token, unix(now)) {
        Err(TokenError::Invalid) if django::enabled(state) => {
            return django::blacklist(state, token, now).await;
        }
        decoded => decoded?,
    };
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
                    session_with_user(conn, &row.session_id)?.ok_or(TokenError::Invalid)?;
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
    state: &TokensContext,
    token: &str,
) -> Result<Authenticated, TokenError> {
    let now = state.clock.now_naive();
    let claims = match state.jwt.decode(token, unix(now)) {
        // One SimpleJWT minted before the switch, until it expires.
        Err(TokenError::Invalid) if django::enabled(state) => {
            return django::authenticate(state, token, now).await;
        }
        decoded => decoded?,
    };
    if claims.kind() != Some(TokenType::Access) {
        return Err(TokenError::WrongType);
    }
    let sid = claims.sid.clone();
    let idle = seconds(state.settings.sessions.session_idle_timeout);
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
/// one for the same session, which never outlives the session. A token of a renewable session
/// (from `/users/login/`) is renewed even after its own expiry, for as long as the session
/// lives: the FastAPI-style front ends re-send their sign-in token on every render and cannot
/// store the new one. Every other endpoint keeps honouring `exp`.
pub async fn renew_access(
    state: &TokensContext,
    token: &str,
) -> Result<(User, String), TokenError> {
    let now = state.clock.now();
    let (claims, expired) = state.jwt.decode_past_expiry(token, now.timestamp())?;
    if claims.kind() != Some(TokenType::Access) {
        return Err(TokenError::WrongType);
    }
    let idle = seconds(state.settings.sessions.session_idle_timeout);
    let at = now.naive_utc();
    let sid = claims.sid.clone();
    let (session, user) = state
        .db
        .run(move |conn| -> Result<(Session, User), TokenError> {
            let (session, user) = live_session(conn, &sid, at, idle)?;
            if session.renewable && at - session.last_seen_at >= LAST_SEEN_RESOLUTION {
                ops::touch_last_seen(conn, &sid, at)?;
            }
            Ok((session, user))
        })
        .await?;
    if user.id != claims.user_id {
        return Err(TokenError::Invalid);
    }
    if expired && !session.renewable {
        return Err(TokenError::Expired);
    }
    let left = claims.exp - now.timestamp();
    let margin = i64::try_from(state.settings.tokens.session_refresh_margin).unwrap_or(i64::MAX);
    if left > margin {
        return Ok((user, token.trim().to_owned()));
    }
    let access = mint_access(
        state,
        (user.id, &session.id),
        at,
        &random_id(),
        Some(session.expires_at),
        UserIdClaim::Integer,
    )?;
    Ok((user, access))
}

/// `/users/logout/`: ends the session of a bearer access token (a renewable session's token
/// even after its `exp`, as `/users/session/` accepts it).
pub async fn end_session_of(state: &TokensContext, token: &str) -> Result<(), TokenError> {
    let now = state.clock.now_naive();
    let (claims, expired) = state.jwt.decode_past_expiry(token, unix(now))?;
    if claims.kind() != Some(TokenType::Access) {
        return Err(TokenError::WrongType);
    }
    let idle = seconds(state.settings.sessions.session_idle_timeout);
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), TokenError> {
                let (session, user) = live_session(conn, &claims.sid, now, idle)?;
                if user.id != claims.user_id {
                    return Err(TokenError::Invalid);
                }
                if expired && !session.renewable {
                    return Err(TokenError::Expired);
                }
                ops::revoke_session(conn, &session.id, now)?;
                audit::record(
                    conn,
                    AuditKind::SessionsRevoked,
                    Some(user.id),
                    None,
                    Some("logout"),
                    now,
                )?;
                Ok(())
            })
        })
        .await
}

/// How stale `last_seen_at` may get before a request refreshes it: one write a minute per
/// session at most, not one per request.
const LAST_SEEN_RESOLUTION: Duration = Duration::seconds(60);

/// The user of a live browser session (and the session): not revoked, not past its absolute
/// lifetime or idle timeout, user active. One indexed lookup (plus a last-seen write once a
/// minute).
pub async fn browser_session_user(
    state: &TokensContext,
    sid: &str,
) -> Result<(User, Session), TokenError> {
    let now = state.clock.now_naive();
    let idle = seconds(state.settings.sessions.session_idle_timeout);
    let sid = sid.to_owned();
    state
        .db
        .run(move |conn| -> Result<(User, Session), TokenError> {
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
            Ok((user, session))
        })
        .await
}

/// Checks credentials (username or email) and opens a browser session (stored in the login's
/// transaction); returns its id.
pub async fn browser_login(
    state: &TokensContext,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<String, TokenError> {
    let opening = session_service::browser_opening(state, meta);
    let (_, sid) =
        accounts::authenticate_then(state, identifier, password, meta, move |conn, user| {
            Ok(session_service::store_browser_session(
                conn, user.id, &opening,
            )?)
        })
        .await?;
    Ok(sid)
}

/// A session with its user, in one indexed lookup (primary keys on both sides).
fn session_with_user(conn: &mut DbConn, sid: &str) -> QueryResult<Option<(Session, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(sid))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()
}
