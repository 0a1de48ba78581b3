//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; RFC 7636 §4.6): client authentication, the
//! code exchange and the refresh grant.

use aws_lc_rs::digest::{SHA256, digest};
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

use super::claims::{GrantTokens, mint_grant_tokens};
use super::codes::{self, CodeRow};
use super::{ErrorCode, OidcError, Scope};
use crate::accounts::{User, ops as account_ops};
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::domain::{ClientMeta, base64url_encode};
use crate::oauth::{self, Client, ClientsError};
use crate::sessions::{RefreshToken, Session, SessionKind, ops as session_ops};
use crate::tokens::service::{self as tokens, Rotated};
use crate::tokens::{TokenType, TokensContext, random_id};

/// How the client identified itself.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// From `Authorization: Basic` (both parts already form-url-decoded, RFC 6749 §2.3.1).
    pub basic: Option<(String, String)>,
    /// `client_id` in the body.
    pub client_id: Option<String>,
    /// `client_secret` in the body (`client_secret_post`).
    pub client_secret: Option<String>,
}

/// A token request's form fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: Option<String>,
    /// The code.
    pub code: Option<String>,
    /// The redirect URI the code was sent to.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// A narrower scope for a refresh.
    pub scope: Option<String>,
}

/// What the token endpoint answers (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// Access and ID tokens.
    pub tokens: GrantTokens,
    /// A refresh token: new on every exchange and rotation; `None` when rotation is off (the
    /// client keeps the one it has).
    pub refresh_token: Option<String>,
}

fn invalid_client() -> OidcError {
    OidcError::refused(ErrorCode::InvalidClient, "client authentication failed")
}

/// The client the credentials prove: a confidential client by its secret (Basic or in the
/// body, not both), a public client by its id alone.
pub async fn authenticate_client(
    state: &TokensContext,
    credentials: &ClientCredentials,
) -> Result<Client, OidcError> {
    let (client_id, secret) = match (&credentials.basic, &credentials.client_secret) {
        (Some(_), Some(_)) => {
            return Err(OidcError::refused(
                ErrorCode::InvalidRequest,
                "use one client authentication method, not two",
            ));
        }
        (Some((id, secret)), None) => {
            if credentials
                .client_id
                .as_ref()
                .is_some_and(|body| body != id)
            {
                return Err(OidcError::refused(
                    ErrorCode::InvalidRequest,
                    "client_id differs from the authenticated client",
                ));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        (None, secret) => (
            credentials
                .client_id
                .as_deref()
                .ok_or_else(invalid_client)?,
            secret.as_deref(),
        ),
    };
    let client = match oauth::get_client(&state.db, client_id).await {
        Ok(client) => client,
        Err(ClientsError::NotFound(_)) => return Err(invalid_client()),
        Err(e) => return Err(e.into()),
    };
    let proven = match secret {
        Some(secret) => oauth::check_client_secret(&client, secret),
        None => client.is_public(),
    };
    if proven {
        Ok(client)
    } else {
        Err(invalid_client())
    }
}

/// `POST /oauth/token` once the client is authenticated.
pub async fn token(
    state: &TokensContext,
    client: &Client,
    req: &TokenRequest,
    meta: &ClientMeta,
) -> Result<IssuedTokens, OidcError> {
    match req.grant_type.as_deref() {
        Some("authorization_code") => exchange_code(state, client, req, meta).await,
        Some("refresh_token") => refresh(state, client, req).await,
        None => Err(OidcError::refused(
            ErrorCode::InvalidRequest,
            "grant_type is required",
        )),
        Some(_) => Err(OidcError::refused(
            ErrorCode::UnsupportedGrantType,
            "grant_type must be authorization_code or refresh_token",
        )),
    }
}

fn required<'a>(
    value: &'a Option<String>,
    description: &'static str,
) -> Result<&'a str, OidcError> {
    value
        .as_deref()
        .ok_or_else(|| OidcError::refused(ErrorCode::InvalidRequest, description))
}

fn invalid_grant(description: &'static str) -> OidcError {
    OidcError::refused(ErrorCode::InvalidGrant, description)
}

/// What the exchange transaction decided.
enum Exchange {
    Issued(Box<Issued>),
    Replayed { grant: Option<String>, user_id: i64 },
}

/// A grant the exchange opened, with what its tokens are made from.
struct Issued {
    user: User,
    grant: Session,
    refresh: RefreshToken,
    nonce: Option<String>,
}

async fn exchange_code(
    state: &TokensContext,
    client: &Client,
    req: &TokenRequest,
    meta: &ClientMeta,
) -> Result<IssuedTokens, OidcError> {
    let hash = codes::code_hash(required(&req.code, "code is required")?);
    let redirect_uri = required(&req.redirect_uri, "redirect_uri is required")?.to_owned();
    let verifier = req.code_verifier.clone();
    let client_id = client.client_id.clone();
    let now = state.clock.now_naive();
    let lifetime = Duration::seconds(
        i64::try_from(state.settings.tokens.refresh_token_lifetime).unwrap_or(86_400),
    );
    let meta = meta.clone();
    let outcome = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<Exchange, OidcError> {
                let row = codes::find(conn, &hash)?.ok_or(invalid_grant("unknown code"))?;
                if row.used_at.is_some() {
                    return Ok(Exchange::Replayed {
                        grant: row.session_id,
                        user_id: row.user_id,
                    });
                }
                check_code(&row, &client_id, &redirect_uri, verifier.as_deref(), now)?;
                let user = account_ops::find_by_id(conn, row.user_id)?
                    .filter(|u| u.is_active)
                    .ok_or(invalid_grant("the account is not active"))?;
                let mut grant =
                    Session::open(user.id, SessionKind::OAuth, &meta, now, now + lifetime);
                grant.client_id = Some(client_id.clone());
                grant.scope = Some(row.scope.clone());
                grant.auth_time = Some(row.auth_time);
                if !codes::claim(conn, &hash, now, &grant.id)? {
                    // Another request exchanged it a moment ago.
                    let winner = codes::find(conn, &hash)?.and_then(|r| r.session_id);
                    return Ok(Exchange::Replayed {
                        grant: winner,
                        user_id: row.user_id,
                    });
                }
                let refresh = RefreshToken {
                    jti: random_id(),
                    session_id: grant.id.clone(),
                    user_id: user.id,
                    parent_jti: None,
                    issued_at: now,
                    expires_at: grant.expires_at,
                    used_at: None,
                    blacklisted_at: None,
                };
                session_ops::insert_session(conn, &grant)?;
                session_ops::insert_refresh(conn, &refresh)?;
                let detail = format!("client={client_id} scope={}", row.scope);
                audit::record(
                    conn,
                    AuditKind::ClientAuthorized,
                    Some(user.id),
                    meta.ip.as_deref(),
                    Some(&detail),
                    now,
                )?;
                Ok(Exchange::Issued(Box::new(Issued {
                    user,
                    grant,
                    refresh,
                    nonce: row.nonce,
                })))
            })
        })
        .await?;
    match outcome {
        Exchange::Issued(issued) => {
            let Issued {
                user,
                grant,
                refresh,
                nonce,
            } = *issued;
            let tokens = mint_grant_tokens(state, client, &user, &grant, nonce.as_deref()).await?;
            let refresh_token = Some(sign_refresh(state, &refresh)?);
            Ok(IssuedTokens {
                tokens,
                refresh_token,
            })
        }
        Exchange::Replayed { grant, user_id } => {
            revoke_replayed(state, grant, user_id).await?;
            Err(invalid_grant("the code was already used"))
        }
    }
}

/// RFC 6749 §4.1.3 and RFC 7636 §4.6: unexpired, this client's, sent to this redirect URI,
/// and the verifier that hashes to the challenge (none without a challenge: no downgrade).
fn check_code(
    row: &CodeRow,
    client_id: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), OidcError> {
    if row.expires_at <= now {
        return Err(invalid_grant("the code expired"));
    }
    if row.client_id != client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if row.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (row.code_challenge.as_deref(), verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier sent, but no code_challenge was",
        )),
        (Some(_), None) => Err(invalid_grant("code_verifier is required")),
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let hashed = base64url_encode(digest(&SHA256, verifier.as_bytes()).as_ref());
            // Both sides are public values derived from the secret verifier: equality in
            // constant time adds nothing, but costs nothing either.
            let equal = aws_lc_rs::constant_time::verify_slices_are_equal(
                hashed.as_bytes(),
                challenge.as_bytes(),
            )
            .is_ok();
            if well_formed && equal {
                Ok(())
            } else {
                Err(invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

/// RFC 6749 §4.1.2: a code presented twice revokes what it bought.
async fn revoke_replayed(
    state: &TokensContext,
    grant: Option<String>,
    user_id: i64,
) -> Result<(), OidcError> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), OidcError> {
                if let Some(sid) = &grant {
                    session_ops::revoke_session(conn, sid, now)?;
                }
                let detail = grant.map(|sid| format!("session={sid}"));
                audit::record(
                    conn,
                    AuditKind::CodeReplayed,
                    Some(user_id),
                    None,
                    detail.as_deref(),
                    now,
                )?;
                Ok(())
            })
        })
        .await?;
    tracing::warn!(
        user_id,
        "authorization code replayed: its grant was revoked"
    );
    Ok(())
}

/// The refresh token for a stored row (the API's refresh-token format; only its session
/// makes it a grant's).
fn sign_refresh(state: &TokensContext, row: &RefreshToken) -> Result<String, OidcError> {
    let claims = state.jwt.claims(
        TokenType::Refresh,
        row.expires_at.and_utc().timestamp(),
        row.issued_at.and_utc().timestamp(),
        row.jti.clone(),
        row.user_id,
        row.session_id.clone(),
    );
    Ok(state.jwt.encode(&claims)?)
}

/// RFC 6749 §6, with the rotation and reuse detection of the API's refresh tokens.
async fn refresh(
    state: &TokensContext,
    client: &Client,
    req: &TokenRequest,
) -> Result<IssuedTokens, OidcError> {
    let token = required(&req.refresh_token, "refresh_token is required")?;
    let now = state.clock.now();
    let claims = state.jwt.decode(token, now.timestamp())?;
    if claims.kind() != Some(TokenType::Refresh) {
        return Err(invalid_grant("not a refresh token"));
    }
    let sid = claims.sid.clone();
    let (mut grant, user) = state
        .db
        .run(move |conn| -> Result<(Session, User), OidcError> {
            let grant =
                session_ops::find_session(conn, &sid)?.ok_or(invalid_grant("the grant ended"))?;
            let user = account_ops::find_by_id(conn, grant.user_id)?
                .ok_or(invalid_grant("the account is gone"))?;
            Ok((grant, user))
        })
        .await?;
    if grant.client_id.as_deref() != Some(client.client_id.as_str()) {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if let Some(asked) = &req.scope {
        // RFC 6749 §6: a narrower scope, never a wider one (checked before the token is used).
        let granted = Scope::parse(grant.scope.as_deref().unwrap_or_default());
        let asked = Scope::parse(asked);
        if !asked.within(&granted) || !asked.has("openid") {
            return Err(OidcError::refused(
                ErrorCode::InvalidScope,
                "the scope must be within the granted one and include openid",
            ));
        }
        grant.scope = Some(asked.to_string());
    }
    let rotated = tokens::rotate_refresh(state, &claims, Some(&client.client_id)).await?;
    if let Rotated::Child(child) = &rotated {
        // The rotation moved the grant's end with the new refresh token.
        grant.expires_at = child.expires_at;
    }
    let tokens = mint_grant_tokens(state, client, &user, &grant, None).await?;
    let refresh_token = match rotated {
        Rotated::Child(row) => Some(sign_refresh(state, &row)?),
        Rotated::Kept { .. } => None,
    };
    Ok(IssuedTokens {
        tokens,
        refresh_token,
    })
}
