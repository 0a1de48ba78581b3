//! What the provider's tokens and userinfo say about a person, and signing them.

use aws_lc_rs::digest::{SHA256, digest};
use serde::Serialize;

use super::{OidcError, Scope};
use crate::accounts::User;
use crate::domain::base64url_encode;
use crate::keys::KeyAlg;
use crate::oauth::Client;
use crate::sessions::Session;
use crate::tokens::{AccessTokenClaims, Audience, TokensContext, random_id};

/// The claims the granted scopes allow (OpenID Connect Core §5.4), in the ID token itself (as
/// Google and Auth0 do: next-auth reads the profile from the ID token) and at userinfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// The user's id: stable, and never given to another account.
    pub sub: String,
    /// `profile`: the full name, or the username when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `profile`: the username (Auth0's provider in next-auth shows it as the name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// `profile`: the username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `profile`: the given name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// `profile`: the family name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// `email`: the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email`: whether the person opened a link mailed to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The profile claims of `user` that `scope` allows.
pub fn profile(user: &User, scope: &Scope) -> Profile {
    let known = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let with_profile = scope.has("profile");
    let with_email = scope.has("email");
    let full = format!("{} {}", user.first_name, user.last_name);
    let full = full.trim();
    Profile {
        sub: user.id.to_string(),
        name: with_profile.then(|| known(full).unwrap_or_else(|| user.username.clone())),
        nickname: with_profile.then(|| user.username.clone()),
        preferred_username: with_profile.then(|| user.username.clone()),
        given_name: known(&user.first_name).filter(|_| with_profile),
        family_name: known(&user.last_name).filter(|_| with_profile),
        email: known(&user.email).filter(|_| with_email),
        email_verified: with_email.then_some(user.email_verified),
    }
}

/// An ID token's claims (OpenID Connect Core §2).
#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    at_hash: String,
    sid: &'a str,
    #[serde(flatten)]
    profile: Profile,
}

/// The tokens a grant hands a client.
#[derive(Debug, Clone)]
pub struct GrantTokens {
    /// The RFC 9068 access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The ID token.
    pub id_token: String,
    /// The scope granted.
    pub scope: String,
}

/// The access token and ID token of a grant (its session), signed now with the client's
/// algorithm (the first key of it is made when none signs yet).
pub async fn mint_grant_tokens(
    state: &TokensContext,
    client: &Client,
    user: &User,
    grant: &Session,
    nonce: Option<&str>,
) -> Result<GrantTokens, OidcError> {
    let now = state.clock.now().timestamp();
    let scope = Scope::parse(grant.scope.as_deref().unwrap_or_default());
    let lifetime = i64::try_from(state.settings.tokens.access_token_lifetime).unwrap_or(300);
    let exp = (now + lifetime).min(grant.expires_at.and_utc().timestamp());
    let issuer = state.jwt.provider_issuer();
    let access = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: user.id.to_string(),
        aud: Audience::One(state.jwt.audience().to_owned()),
        client_id: client.client_id.clone(),
        scope: scope.to_string(),
        jti: random_id(),
        exp,
        iat: now,
        sid: grant.id.clone(),
    };
    let alg = client.id_token_alg();
    let access_token = sign(state, alg, "at+jwt", &access, now).await?;
    let auth_time = grant.auth_time.unwrap_or(grant.created_at);
    let id = IdTokenClaims {
        iss: issuer,
        aud: &client.client_id,
        exp,
        iat: now,
        auth_time: auth_time.and_utc().timestamp(),
        nonce,
        at_hash: at_hash(&access_token),
        sid: &grant.id,
        profile: profile(user, &scope),
    };
    let id_token = sign(state, alg, "JWT", &id, now).await?;
    Ok(GrantTokens {
        access_token,
        expires_in: exp - now,
        id_token,
        scope: scope.to_string(),
    })
}

/// Signs with the active key of `alg`, making the first one of that algorithm if there is none
/// (a first key has no clients holding an older key set, so it signs at once).
async fn sign<T: Serialize>(
    state: &TokensContext,
    alg: KeyAlg,
    typ: &str,
    claims: &T,
    now: i64,
) -> Result<String, OidcError> {
    if let Some(token) = state.jwt.sign_with_key(alg, typ, claims, now)? {
        return Ok(token);
    }
    state.keys.ensure(alg).await?;
    state
        .jwt
        .sign_with_key(alg, typ, claims, now)?
        .ok_or_else(|| {
            OidcError::Unexpected(anyhow::anyhow!(
                "no {} key signs yet: a rotation is pending (latchkey keys list)",
                alg.as_str()
            ))
        })
}

/// OpenID Connect Core §3.1.3.6: the left half of the SHA-256 of the access token, base64url
/// (the hash of RS256 and ES256 alike).
pub fn at_hash(access_token: &str) -> String {
    let full = digest(&SHA256, access_token.as_bytes());
    base64url_encode(full.as_ref().get(..16).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_spec_example() {
        // OpenID Connect Core, appendix A.3 (an RS256 example's access token and at_hash).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
