//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the client sends the person
//! back with the ID token it holds; Latchkey ends their login and the grant, then returns them
//! to an address the client registered.

use serde::Deserialize;

use super::{NoRedirect, OidcError};
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::oauth::{self, ClientsError};
use crate::sessions::ops as session_ops;
use crate::tokens::{Audience, TokensContext};

/// The logout request's parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutRequest {
    /// An ID token this provider issued to the client (expired ones too).
    pub id_token_hint: Option<String>,
    /// Where to send the person after: registered by the client.
    pub post_logout_redirect_uri: Option<String>,
    /// Echoed to that address.
    pub state: Option<String>,
    /// The client, when it sends no hint (or to confirm the hint's).
    pub client_id: Option<String>,
}

/// What the logout endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// Logged out; back to the client's registered address.
    Redirect {
        /// The post-logout redirect URI.
        uri: String,
        /// The request's state.
        state: Option<String>,
        /// Whether the browser's login ended (it belonged to the hint's person).
        ended_login: bool,
    },
    /// Logged out (if logged in); Latchkey's own "logged out" page.
    Page {
        /// Whether the browser's login ended.
        ended_login: bool,
    },
    /// No ID token proves the client asked: the person confirms on Latchkey's page (a link on
    /// any site must not log people out).
    Confirm,
}

#[derive(Deserialize)]
struct Hint {
    iss: String,
    sub: String,
    aud: Audience,
    #[serde(default)]
    sid: Option<String>,
}

/// Ends the browser login `browser` (`(user id, session id)`) and the hint's grant when the
/// hint is an ID token this provider issued to that person.
pub async fn end_session(
    state: &TokensContext,
    req: &LogoutRequest,
    browser: Option<(i64, String)>,
) -> Result<LoggedOut, OidcError> {
    let Some(hint) = req.id_token_hint.as_deref() else {
        return Ok(if browser.is_some() {
            LoggedOut::Confirm
        } else {
            LoggedOut::Page { ended_login: false }
        });
    };
    let bad_hint = || OidcError::NoRedirect(NoRedirect::InvalidIdTokenHint);
    let now = state.clock.now_naive();
    let (typ, hint) = state
        .jwt
        .verify_published::<Hint>(hint, now.and_utc().timestamp())
        .map_err(|_| bad_hint())?;
    let is_id_token = typ.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("JWT"));
    if !is_id_token || hint.iss != state.jwt.provider_issuer() {
        return Err(bad_hint());
    }
    let client_id = match (&req.client_id, &hint.aud) {
        (Some(id), aud) if aud.contains(id) => id.clone(),
        (Some(_), _) => return Err(bad_hint()),
        (None, Audience::One(id)) => id.clone(),
        (None, Audience::Many(ids)) => ids.first().cloned().ok_or_else(bad_hint)?,
    };
    let user_id: i64 = hint.sub.parse().map_err(|_| bad_hint())?;
    let redirect = match &req.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let client = match oauth::get_client(&state.db, &client_id).await {
                Ok(client) => client,
                Err(ClientsError::NotFound(_)) => return Err(bad_hint()),
                Err(e) => return Err(e.into()),
            };
            if !client.post_logout_redirect_uris().any(|u| u == uri) {
                return Err(OidcError::NoRedirect(NoRedirect::UnregisteredPostLogoutUri));
            }
            Some(uri.clone())
        }
    };
    // Someone else's login in this browser is not the hint's to end.
    let browser = browser
        .filter(|(owner, _)| *owner == user_id)
        .map(|(_, sid)| sid);
    let ended_login = browser.is_some();
    let grant = hint.sid;
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), OidcError> {
                if let Some(sid) = &grant {
                    let theirs = session_ops::find_session(conn, sid)?.is_some_and(|s| {
                        s.user_id == user_id && s.client_id.as_deref() == Some(&client_id)
                    });
                    if theirs {
                        session_ops::revoke_session(conn, sid, now)?;
                    }
                }
                if let Some(sid) = &browser {
                    session_ops::revoke_session(conn, sid, now)?;
                }
                let detail = format!("logout from client={client_id}");
                audit::record(
                    conn,
                    AuditKind::SessionsRevoked,
                    Some(user_id),
                    None,
                    Some(&detail),
                    now,
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(match redirect {
        Some(uri) => LoggedOut::Redirect {
            uri,
            state: req.state.clone(),
            ended_login,
        },
        None => LoggedOut::Page { ended_login },
    })
}
