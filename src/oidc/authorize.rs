//! The authorization endpoint's decisions (RFC 6749 §4.1, OpenID Connect Core §3.1.2, RFC 7636):
//! whom to send where, given the request, the browser's login and the person's answer.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::codes::{self, CodeRow};
use super::{CODE_LIFETIME_SECONDS, ErrorCode, NoRedirect, OidcError, Scope};
use crate::accounts::User;
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::oauth::{self, Client, ClientsError};
use crate::tokens::TokensContext;

/// The longest `state` or `nonce` kept (both are opaque to the provider).
const MAX_ECHOED_LENGTH: usize = 1024;

/// An authorization request's parameters as sent (query or consent form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AuthorizeRequest {
    /// The client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Where to send the answer: one the client registered, exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Must be `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// Space-separated; must hold `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Echoed to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Echoed in the ID token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// PKCE (RFC 7636): `BASE64URL(SHA256(code_verifier))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// Must be `S256` when a challenge is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent` (`select_account` is accepted and means nothing here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Seconds since the person last entered their password, at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Set by Latchkey when it sent the person to log in again: a login at or after this Unix
    /// time satisfies `prompt=login` and `max_age`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_after: Option<String>,
}

/// The browser's login at Latchkey.
#[derive(Debug, Clone)]
pub struct Login {
    /// Who.
    pub user: User,
    /// When they entered their password.
    pub auth_time: NaiveDateTime,
}

/// The person's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not asked in this request.
    NotAsked,
    /// "Allow".
    Allow,
    /// "Deny".
    Deny,
}

/// What the endpoint does next.
#[derive(Debug, Clone)]
pub enum Authorization {
    /// Back to the client with a code.
    Code {
        /// The registered redirect URI.
        redirect_uri: String,
        /// The code.
        code: String,
        /// The request's state.
        state: Option<String>,
    },
    /// Back to the client with an error.
    Refused {
        /// The registered redirect URI.
        redirect_uri: String,
        /// The error.
        error: ErrorCode,
        /// For the client's developer.
        description: &'static str,
        /// The request's state.
        state: Option<String>,
    },
    /// To the login page, then this request again; `after` when the person must enter their
    /// password again (`prompt=login`, `max_age`), as a Unix time the new login must follow.
    Login {
        /// The time a fresh login must follow.
        after: Option<i64>,
    },
    /// Ask the person whether the client may see this.
    Consent {
        /// The client asking.
        client: Client,
        /// What it asks for.
        scope: Scope,
    },
}

/// A request whose parameters are well-formed.
struct Checked {
    scope: Scope,
    nonce: Option<String>,
    challenge: Option<String>,
    prompt_none: bool,
    prompt_login: bool,
    prompt_consent: bool,
    max_age: Option<i64>,
    login_after: Option<i64>,
}

/// Decides an authorization request. An unknown client or redirect URI is an error for
/// Latchkey's own page ([`OidcError::NoRedirect`]); anything else goes back to the client.
pub async fn authorize(
    state: &TokensContext,
    req: &AuthorizeRequest,
    login: Option<&Login>,
    decision: Decision,
) -> Result<Authorization, OidcError> {
    let client_id = req
        .client_id
        .as_deref()
        .ok_or(OidcError::NoRedirect(NoRedirect::MissingClientId))?;
    let client = match oauth::get_client(&state.db, client_id).await {
        Ok(client) => client,
        Err(ClientsError::NotFound(_)) => {
            return Err(OidcError::NoRedirect(NoRedirect::UnknownClient));
        }
        Err(e) => return Err(e.into()),
    };
    let redirect_uri = req
        .redirect_uri
        .as_deref()
        .ok_or(OidcError::NoRedirect(NoRedirect::MissingRedirectUri))?;
    if !client.redirect_uris().any(|uri| uri == redirect_uri) {
        return Err(OidcError::NoRedirect(NoRedirect::UnregisteredRedirectUri));
    }
    let refuse = |error, description| Authorization::Refused {
        redirect_uri: redirect_uri.to_owned(),
        error,
        description,
        state: req.state.clone(),
    };
    let checked = match check(req, &client) {
        Ok(checked) => checked,
        Err((error, description)) => return Ok(refuse(error, description)),
    };
    let now = state.clock.now_naive();
    let Some(login) = login else {
        return Ok(if checked.prompt_none {
            refuse(ErrorCode::LoginRequired, "the person is not logged in")
        } else {
            Authorization::Login { after: None }
        });
    };
    if !fresh_enough(&checked, login.auth_time, now) {
        return Ok(if checked.prompt_none {
            refuse(ErrorCode::LoginRequired, "the login is older than max_age")
        } else {
            Authorization::Login {
                after: Some(now.and_utc().timestamp()),
            }
        });
    }
    if !client.first_party {
        match consent(state, &client, login.user.id, &checked, decision).await? {
            Consented::Yes => {}
            Consented::Ask => {
                return Ok(if checked.prompt_none {
                    refuse(ErrorCode::ConsentRequired, "the person has not consented")
                } else {
                    Authorization::Consent {
                        client,
                        scope: checked.scope,
                    }
                });
            }
            Consented::No => {
                return Ok(refuse(ErrorCode::AccessDenied, "the person said no"));
            }
        }
    }
    let code = issue_code(
        state,
        &client,
        redirect_uri,
        &login.user,
        login.auth_time,
        checked,
    )
    .await?;
    Ok(Authorization::Code {
        redirect_uri: redirect_uri.to_owned(),
        code,
        state: req.state.clone(),
    })
}

/// The checks of everything but the client and redirect URI, with the error to send back.
fn check(req: &AuthorizeRequest, client: &Client) -> Result<Checked, (ErrorCode, &'static str)> {
    use ErrorCode::{InvalidRequest, InvalidScope, UnsupportedResponseType};
    match req.response_type.as_deref() {
        Some("code") => {}
        None => return Err((InvalidRequest, "response_type is required")),
        Some(_) => {
            return Err((
                UnsupportedResponseType,
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
    }
    let scope = Scope::parse(req.scope.as_deref().unwrap_or_default());
    if !scope.has("openid") {
        return Err((InvalidScope, "the scope must include openid"));
    }
    let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > MAX_ECHOED_LENGTH);
    if too_long(&req.state) || too_long(&req.nonce) {
        return Err((
            InvalidRequest,
            "state and nonce must be at most 1024 characters",
        ));
    }
    let challenge = req.code_challenge.clone();
    match (&challenge, req.code_challenge_method.as_deref()) {
        (Some(c), Some("S256")) if is_s256_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return Err((InvalidRequest, "code_challenge is not a base64url SHA-256"));
        }
        (Some(_), _) => {
            return Err((InvalidRequest, "code_challenge_method must be S256"));
        }
        (None, Some(_)) => {
            return Err((
                InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.is_public() => {
            return Err((
                InvalidRequest,
                "a public client must use PKCE (code_challenge with S256)",
            ));
        }
        (None, None) => {}
    }
    let prompt: Vec<&str> = req
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if prompt
        .iter()
        .any(|p| !matches!(*p, "none" | "login" | "consent" | "select_account"))
    {
        return Err((
            InvalidRequest,
            "prompt must be none, login, consent or select_account",
        ));
    }
    let prompt_none = prompt.contains(&"none");
    if prompt_none && prompt.len() > 1 {
        return Err((
            InvalidRequest,
            "prompt=none cannot be combined with another value",
        ));
    }
    let max_age = match req.max_age.as_deref() {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err((InvalidRequest, "max_age must be a number of seconds")),
        },
    };
    Ok(Checked {
        scope,
        nonce: req.nonce.clone(),
        challenge,
        prompt_none,
        prompt_login: prompt.contains(&"login"),
        prompt_consent: prompt.contains(&"consent"),
        max_age,
        login_after: req.login_after.as_deref().and_then(|v| v.parse().ok()),
    })
}

/// RFC 7636 §4.2: S256 yields exactly 43 base64url characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the login satisfies `prompt=login` and `max_age`: a login that followed the
/// re-login Latchkey itself asked for always does.
fn fresh_enough(checked: &Checked, auth_time: NaiveDateTime, now: NaiveDateTime) -> bool {
    let at = auth_time.and_utc().timestamp();
    if checked.login_after.is_some_and(|after| at >= after) {
        return true;
    }
    let too_old = checked
        .max_age
        .is_some_and(|max| now - auth_time > Duration::seconds(max));
    !checked.prompt_login && !too_old
}

enum Consented {
    Yes,
    Ask,
    No,
}

/// A third-party client needs the person's consent to the scope: remembered, or given now.
async fn consent(
    state: &TokensContext,
    client: &Client,
    user_id: i64,
    checked: &Checked,
    decision: Decision,
) -> Result<Consented, OidcError> {
    match decision {
        Decision::Deny => return Ok(Consented::No),
        Decision::Allow => {
            let now = state.clock.now_naive();
            let client_id = client.client_id.clone();
            let scope = checked.scope.to_string();
            state
                .db
                .run(move |conn| {
                    write_transaction(conn, |conn| -> Result<(), OidcError> {
                        oauth::grant_consent(conn, user_id, &client_id, &scope, now)?;
                        let detail = format!("client={client_id} scope={scope}");
                        audit::record(
                            conn,
                            AuditKind::ConsentGranted,
                            Some(user_id),
                            None,
                            Some(&detail),
                            now,
                        )?;
                        Ok(())
                    })
                })
                .await?;
            return Ok(Consented::Yes);
        }
        Decision::NotAsked => {}
    }
    if checked.prompt_consent {
        return Ok(Consented::Ask);
    }
    let client_id = client.client_id.clone();
    let remembered = state
        .db
        .run(move |conn| oauth::find_consent(conn, user_id, &client_id).map_err(OidcError::from))
        .await?;
    let covered = remembered.is_some_and(|given| checked.scope.within(&Scope::parse(&given)));
    Ok(if covered {
        Consented::Yes
    } else {
        Consented::Ask
    })
}

/// Stores a new code for the request; returns it (the only time it exists in clear).
async fn issue_code(
    state: &TokensContext,
    client: &Client,
    redirect_uri: &str,
    user: &User,
    auth_time: NaiveDateTime,
    checked: Checked,
) -> Result<String, OidcError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| OidcError::Unexpected(anyhow::anyhow!("the random source failed")))?;
    let code = crate::domain::base64url_encode(&bytes);
    let now = state.clock.now_naive();
    let row = CodeRow {
        code_hash: codes::code_hash(&code),
        client_id: client.client_id.clone(),
        user_id: user.id,
        redirect_uri: redirect_uri.to_owned(),
        scope: checked.scope.to_string(),
        nonce: checked.nonce,
        code_challenge: checked.challenge,
        auth_time,
        created_at: now,
        expires_at: now + Duration::seconds(CODE_LIFETIME_SECONDS),
        used_at: None,
        session_id: None,
    };
    state
        .db
        .run(move |conn| codes::insert(conn, &row).map_err(OidcError::from))
        .await?;
    Ok(code)
}
