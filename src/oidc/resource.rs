//! What a client does with tokens it holds: userinfo (OpenID Connect Core §5.3), revocation
//! (RFC 7009) and introspection (RFC 7662).

use serde::Serialize;

use super::claims::{Profile, profile};
use super::{ErrorCode, OidcError, Scope};
use crate::db::write_transaction;
use crate::oauth::Client;
use crate::sessions::ops as session_ops;
use crate::tokens::service as tokens;
use crate::tokens::{Audience, TokenError, TokenType, TokensContext};

/// The profile of the bearer of an access token issued to a client with the `openid` scope.
pub async fn userinfo(state: &TokensContext, bearer: &str) -> Result<Profile, OidcError> {
    let invalid = |_| {
        OidcError::refused(
            ErrorCode::InvalidToken,
            "the access token is invalid, expired or revoked",
        )
    };
    let auth = tokens::authenticate_access(state, bearer)
        .await
        .map_err(|e| match e {
            TokenError::Unavailable => OidcError::Unavailable,
            TokenError::Unexpected(e) => OidcError::Unexpected(e),
            other => invalid(other),
        })?;
    let Some(scope) = auth.claims.scope.as_deref() else {
        return Err(OidcError::refused(
            ErrorCode::InvalidToken,
            "not an access token issued to an OpenID client",
        ));
    };
    let scope = Scope::parse(scope);
    if !scope.has("openid") {
        return Err(OidcError::refused(
            ErrorCode::InsufficientScope,
            "the token was not granted the openid scope",
        ));
    }
    Ok(profile(&auth.user, &scope))
}

/// RFC 7009: ends the grant of an access or refresh token issued to this client (the other
/// tokens of the grant stop too). Anything else, an unknown or foreign token included, is
/// answered the same, so the endpoint tells nothing.
pub async fn revoke(state: &TokensContext, client: &Client, token: &str) -> Result<(), OidcError> {
    let now = state.clock.now_naive();
    let Ok((claims, _expired)) = state
        .jwt
        .decode_past_expiry(token, now.and_utc().timestamp())
    else {
        return Ok(());
    };
    let client_id = client.client_id.clone();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), OidcError> {
                let grant = session_ops::find_session(conn, &claims.sid)?;
                let ours = grant.is_some_and(|g| {
                    g.client_id.as_deref() == Some(client_id.as_str())
                        && g.user_id == claims.user_id
                });
                if ours {
                    session_ops::revoke_session(conn, &claims.sid, now)?;
                }
                Ok(())
            })
        })
        .await
}

/// An RFC 7662 answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Introspection {
    /// Whether the token is good now.
    pub active: bool,
    /// The scope (tokens issued to clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` for access tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The token's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// RFC 7662 for a confidential client (a resource server): any of Latchkey's access tokens,
/// and refresh tokens of the client's own grants, are described while they are good; anything
/// else is `{"active": false}`.
pub async fn introspect(
    state: &TokensContext,
    client: &Client,
    token: &str,
) -> Result<Introspection, OidcError> {
    if client.is_public() {
        return Err(OidcError::refused(
            ErrorCode::InvalidClient,
            "introspection is for confidential clients",
        ));
    }
    let inactive = Ok(Introspection::default());
    let now = state.clock.now().timestamp();
    let Ok(claims) = state.jwt.decode(token, now) else {
        return inactive;
    };
    let user = match claims.kind() {
        Some(TokenType::Access) => match tokens::authenticate_access(state, token).await {
            Ok(auth) => auth.user,
            Err(TokenError::Unavailable) => return Err(OidcError::Unavailable),
            Err(_) => return inactive,
        },
        Some(TokenType::Refresh) => {
            match tokens::verify(state, token).await {
                Ok(()) => {}
                Err(TokenError::Unavailable) => return Err(OidcError::Unavailable),
                Err(_) => return inactive,
            }
            let sid = claims.sid.clone();
            let grant = state
                .db
                .run(move |conn| session_ops::find_session(conn, &sid).map_err(OidcError::from))
                .await?;
            if grant.and_then(|g| g.client_id).as_deref() != Some(client.client_id.as_str()) {
                return inactive;
            }
            let id = claims.user_id;
            let found = state
                .db
                .run(move |conn| {
                    crate::accounts::ops::find_by_id(conn, id).map_err(OidcError::from)
                })
                .await?;
            match found {
                Some(user) => user,
                None => return inactive,
            }
        }
        None => return inactive,
    };
    let access = claims.kind() == Some(TokenType::Access);
    Ok(Introspection {
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        username: Some(user.username),
        token_type: access.then(|| "Bearer".to_owned()),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        sub: Some(claims.user_id.to_string()),
        aud: claims.aud,
        iss: claims.iss,
        jti: Some(claims.jti),
    })
}
