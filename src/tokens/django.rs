//! The tokens SimpleJWT (or django-ninja-jwt) minted before the switch, accepted while
//! `django_secret_key` is set: HS256/384/512 over Django's signing key, SimpleJWT's claims
//! (`token_type`, `exp`, `iat`, `jti`, `user_id` as a string or an integer). An access token
//! authenticates until it expires; a refresh token becomes a Latchkey session on its first
//! presentation (stored as that session's first refresh token, so Latchkey's rotation, grace
//! window and reuse detection apply to it from then on); one SimpleJWT blacklisted stays
//! refused.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::service::Authenticated;
use super::{Claims, TokenError, TokenType, TokensContext};
use crate::accounts::User;
use crate::db::schema::{django_blacklist, django_imports, users};
use crate::db::{DbConn, write_transaction};
use crate::domain::ClientMeta;
use crate::sessions::{RefreshToken, Session, SessionKind, ops};

/// The refresh-token id a SimpleJWT token is stored under (never a Latchkey jti, which is hex).
fn stored_jti(jti: &str) -> String {
    format!("django:{jti}")
}

/// SimpleJWT's claims.
#[derive(Debug, Clone, Deserialize)]
struct SimpleJwtClaims {
    token_type: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
    #[serde(deserialize_with = "super::jwt::int_or_string")]
    user_id: i64,
}

/// Whether Django's tokens are accepted.
pub fn enabled(state: &TokensContext) -> bool {
    state.settings.django.jwt_key().is_some()
}

/// The claims of a token SimpleJWT signed with Django's key, if it has not expired.
fn decode(state: &TokensContext, token: &str, now: i64) -> Result<SimpleJwtClaims, TokenError> {
    let key = state.settings.django.jwt_key().ok_or(TokenError::Invalid)?;
    let token = token.trim();
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    // Only the HMAC algorithms SimpleJWT offers with a shared key: a token cannot choose
    // another way to be checked.
    if !matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(TokenError::Invalid);
    }
    let mut validation = Validation::new(header.alg);
    // Expiry is checked against Latchkey's clock below; SimpleJWT sets no audience or issuer
    // unless configured, and none is required of its tokens.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = ["exp".to_owned()].into();
    let data = jsonwebtoken::decode::<SimpleJwtClaims>(
        token,
        &DecodingKey::from_secret(key.as_bytes()),
        &validation,
    )
    .map_err(|_| TokenError::Invalid)?;
    if data.claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(data.claims)
}

/// [`decode`], for a token of `kind` only.
fn decode_kind(
    state: &TokensContext,
    token: &str,
    now: NaiveDateTime,
    kind: TokenType,
) -> Result<SimpleJwtClaims, TokenError> {
    let old = decode(state, token, now.and_utc().timestamp())?;
    if old.token_type != kind.as_str() {
        return Err(TokenError::WrongType);
    }
    Ok(old)
}

/// Latchkey's claims for a SimpleJWT token's facts (`sid`: the session it became, if any):
/// those of a new token, without the issuer and audience SimpleJWT never wrote.
fn as_claims(
    state: &TokensContext,
    kind: TokenType,
    (exp, iat): (i64, i64),
    jti: String,
    user_id: i64,
    sid: String,
) -> Claims {
    Claims {
        aud: None,
        iss: None,
        ..state.jwt.claims(kind, exp, iat, jti, user_id, sid)
    }
}

fn naive(unix: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// A bearer access token SimpleJWT minted: its user, active. It belongs to no Latchkey session
/// (it ends at its own `exp`).
pub async fn authenticate(
    state: &TokensContext,
    token: &str,
    now: NaiveDateTime,
) -> Result<Authenticated, TokenError> {
    let old = decode_kind(state, token, now, TokenType::Access)?;
    let user_id = old.user_id;
    let (user, old) = state
        .db
        .run(move |conn| imported_user(conn, &old).map(|user| (user, old)))
        .await?;
    if !user.is_active {
        return Err(TokenError::UserInactive);
    }
    Ok(Authenticated {
        user,
        session_id: String::new(),
        session_expires_at: naive(old.exp),
        claims: as_claims(
            state,
            TokenType::Access,
            (old.exp, old.iat.unwrap_or_default()),
            old.jti,
            user_id,
            String::new(),
        ),
    })
}

/// A refresh token SimpleJWT minted, as the claims of the Latchkey refresh token it became: on
/// its first presentation a new session holding it (until its own `exp`); later, the same one.
pub async fn adopt_refresh(
    state: &TokensContext,
    token: &str,
    now: NaiveDateTime,
) -> Result<Claims, TokenError> {
    let old = decode_kind(state, token, now, TokenType::Refresh)?;
    let jti = stored_jti(&old.jti);
    let (user_id, exp) = (old.user_id, old.exp);
    let issued_at = old.iat.map_or(now, naive);
    // Two first presentations at once: one inserts, the other finds it on its second look.
    let mut attempt = 0;
    let sid = loop {
        let (jti, old) = (jti.clone(), old.clone());
        let adopted = state
            .db
            .run(move |conn| write_transaction(conn, |conn| adopt(conn, &old, &jti, now)))
            .await;
        match adopted {
            Err(TokenError::Unexpected(_)) if attempt == 0 => attempt += 1,
            other => break other?,
        }
    };
    let iat = issued_at.and_utc().timestamp();
    Ok(as_claims(
        state,
        TokenType::Refresh,
        (exp, iat),
        jti,
        user_id,
        sid,
    ))
}

/// The session of an adopted SimpleJWT refresh token (stored as `jti`), made now if it is new.
fn adopt(
    conn: &mut DbConn,
    old: &SimpleJwtClaims,
    jti: &str,
    now: NaiveDateTime,
) -> Result<String, TokenError> {
    if is_blacklisted(conn, &old.jti)? {
        return Err(TokenError::Blacklisted);
    }
    if let Some(row) = ops::find_refresh(conn, jti)? {
        return Ok(row.session_id);
    }
    let user = imported_user(conn, old)?;
    if !user.is_active {
        return Err(TokenError::UserInactive);
    }
    let (user_id, issued_at, expires_at) = (user.id, old.iat.map_or(now, naive), naive(old.exp));
    let session = Session::open(
        user_id,
        SessionKind::Api,
        &ClientMeta::default(),
        now,
        expires_at,
    );
    let row = RefreshToken {
        jti: jti.to_owned(),
        session_id: session.id.clone(),
        user_id,
        parent_jti: None,
        issued_at,
        expires_at,
        used_at: None,
        blacklisted_at: None,
    };
    ops::insert_session(conn, &session)?;
    ops::insert_refresh(conn, &row)?;
    Ok(session.id)
}

/// The account a SimpleJWT token's `user_id` names, only if it was imported from Django (an
/// account made here since may have the id a newer Django account has, and Django's tokens
/// speak for Django's accounts only), and only if the token was minted after the account's
/// sessions last ended here (a password reset here ends the sessions Django's tokens stand for).
/// One query: the account with its import row.
fn imported_user(conn: &mut DbConn, old: &SimpleJwtClaims) -> Result<User, TokenError> {
    let found: Option<(User, Option<NaiveDateTime>)> = users::table
        .inner_join(django_imports::table)
        .filter(users::id.eq(old.user_id))
        .select((User::as_select(), django_imports::sessions_ended_at))
        .first(conn)
        .optional()?;
    match found {
        Some((user, ended)) if minted_after(old, ended) => Ok(user),
        _ => Err(TokenError::Invalid),
    }
}

/// Whether the token's account was imported and its sessions have not ended here since the
/// token was minted.
fn still_valid(conn: &mut DbConn, old: &SimpleJwtClaims) -> QueryResult<bool> {
    let imported: Option<Option<NaiveDateTime>> = django_imports::table
        .find(old.user_id)
        .select(django_imports::sessions_ended_at)
        .first(conn)
        .optional()?;
    Ok(imported.is_some_and(|ended| minted_after(old, ended)))
}

/// Whether the token was minted after the account's sessions last ended here (`ended`), if they
/// did. `iat` is whole seconds, so one minted in the second they ended counts as before, and so
/// does a token without `iat`.
fn minted_after(old: &SimpleJwtClaims, ended: Option<NaiveDateTime>) -> bool {
    ended.is_none_or(|ended| old.iat.is_some_and(|iat| naive(iat) > ended))
}

fn is_blacklisted(conn: &mut DbConn, jti: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(django_blacklist::table.find(jti))).get_result(conn)
}

/// `jwt/verify` of a token SimpleJWT minted: signature and expiry, an imported account whose
/// sessions have not ended here since; a refresh token must not be blacklisted (by SimpleJWT,
/// or here since) nor its adopted session revoked.
pub async fn verify(
    state: &TokensContext,
    token: &str,
    now: NaiveDateTime,
) -> Result<(), TokenError> {
    let old = decode(state, token, now.and_utc().timestamp())?;
    state
        .db
        .run(move |conn| -> Result<(), TokenError> {
            if !still_valid(conn, &old)? {
                return Err(TokenError::Invalid);
            }
            if old.token_type != TokenType::Refresh.as_str() {
                return Ok(());
            }
            if is_blacklisted(conn, &old.jti)? {
                return Err(TokenError::Blacklisted);
            }
            match ops::find_refresh(conn, &stored_jti(&old.jti))? {
                Some(row) if row.blacklisted_at.is_some() => Err(TokenError::Blacklisted),
                _ => Ok(()),
            }
        })
        .await
}

/// `jwt/blacklist` and logout with a refresh token SimpleJWT minted: it is blacklisted, and the
/// session it became, if any, ends.
pub async fn blacklist(
    state: &TokensContext,
    token: &str,
    now: NaiveDateTime,
) -> Result<(), TokenError> {
    let old = decode_kind(state, token, now, TokenType::Refresh)?;
    let (jti, expires_at) = (old.jti, naive(old.exp));
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), TokenError> {
                if is_blacklisted(conn, &jti)? {
                    return Err(TokenError::Blacklisted);
                }
                diesel::insert_into(django_blacklist::table)
                    .values((
                        django_blacklist::jti.eq(&jti),
                        django_blacklist::expires_at.eq(expires_at),
                        django_blacklist::blacklisted_at.eq(now),
                    ))
                    .execute(conn)?;
                if let Some(row) = ops::find_refresh(conn, &stored_jti(&jti))? {
                    ops::revoke_session(conn, &row.session_id, now)?;
                }
                Ok(())
            })
        })
        .await
}
