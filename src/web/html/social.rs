//! "Continue with <Provider>" on the login and registration pages: the sign-in starts at the
//! provider (authorization code, PKCE, state, nonce, kept in the encrypted session cookie) and
//! its callback logs the person in with the same browser session as a password login.

use actix_identity::Identity;
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::csrf;
use super::page::{
    Checked, CurrentUser, HtmlError, LOGIN, PROFILE, Page, PageResult, TokenOnly, see_other,
};
use crate::social::{
    self, BrowserSignIn, LinkOutcome, PendingLink, Returned, SignInRequest, SocialError,
};
use crate::web::client::client_meta;

/// The session key of a sign-in under way.
const STARTED: &str = "social_sign_in";
/// The session key of an identity waiting for its account's password login.
pub const PENDING_LINK: &str = "social_link";

#[derive(Serialize, Deserialize)]
struct Started {
    provider: String,
    request: SignInRequest,
    next: String,
    /// Set when a signed-in person started it from the account page to link the identity to
    /// their account (this user id), rather than to sign in.
    #[serde(default)]
    link_for: Option<i64>,
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

fn callback_url(page: &Page, provider: &str) -> String {
    let base = &page.state.settings.server.public_url;
    format!("{base}/accounts/social/{provider}/callback/")
}

fn failed(page: &Page, status: StatusCode, message: &str) -> HttpResponse {
    page.show(status, "accounts/social_failed.html", None, |c| {
        c.insert("message", message);
    })
}

/// GET /accounts/social/{provider}/login/ — to the provider's sign-in.
pub async fn start(
    page: Page,
    provider: web::Path<String>,
    query: web::Query<StartQuery>,
) -> PageResult {
    let next = super::login::safe_next(query.next.as_deref()).to_owned();
    begin(&page, provider.into_inner(), next, None).await
}

/// POST /accounts/social/{provider}/link/ — a signed-in person links another identity: the
/// same sign-in at the provider, whose callback links instead of logging in.
pub async fn link_start(
    page: Page,
    _form: Checked<TokenOnly>,
    current: CurrentUser,
    provider: web::Path<String>,
) -> PageResult {
    let (next, link_for) = (PROFILE.to_owned(), Some(current.user.id));
    begin(&page, provider.into_inner(), next, link_for).await
}

/// Starts a sign-in at `provider` (404 when none is configured under that name): the request
/// is remembered in the session cookie and the browser goes to the provider.
async fn begin(page: &Page, provider: String, next: String, link_for: Option<i64>) -> PageResult {
    let social = &page.state.social;
    let Ok(configured) = social.provider(&provider) else {
        return Ok(HttpResponse::NotFound().finish());
    };
    let callback = callback_url(page, &provider);
    let request = social
        .sign_in_request(configured, &callback)
        .await
        .map_err(html_error)?;
    let url = request.url.clone();
    let started = Started {
        provider,
        request,
        next,
        link_for,
    };
    remember(page, STARTED, started)?;
    Ok(see_other(&url))
}

/// POST /accounts/social/{provider}/unlink/ — never the last way to log in.
pub async fn unlink(
    page: Page,
    _form: Checked<TokenOnly>,
    current: CurrentUser,
    provider: web::Path<String>,
) -> PageResult {
    let name = display_name(&page, &provider);
    match social::unlink(&page.state, current.user.id, &provider).await {
        Ok(true) => page.flash(&format!("Your {name} account is no longer linked.")),
        Ok(false) => {}
        Err(SocialError::LastWayIn) => page.flash(&format!(
            "Your {name} account is the only way you log in. Set a password first, then unlink it."
        )),
        Err(e) => return Err(html_error(e)),
    }
    Ok(see_other(PROFILE))
}

/// What the pages call a provider (its configured name when it is no longer configured).
fn display_name(page: &Page, provider: &str) -> String {
    page.state
        .social
        .provider(provider)
        .map(|p| p.display_name.clone())
        .unwrap_or_else(|_| provider.to_owned())
}

/// Keeps `value` in the encrypted session cookie under `key`.
fn remember(page: &Page, key: &str, value: impl Serialize) -> Result<(), HtmlError> {
    page.session
        .insert(key, value)
        .map_err(|e| HtmlError::Failed(anyhow::anyhow!("{e}")))
}

/// The sign-in this browser started with `provider`, if the callback's `state` is its own (it
/// is forgotten either way: a callback is used once).
fn started_here(page: &Page, provider: &str, state: Option<&str>) -> Option<Started> {
    page.session
        .remove_as::<Started>(STARTED)
        .and_then(Result::ok)
        .filter(|s| s.provider == provider && state == Some(s.request.state.as_str()))
}

fn html_error(e: SocialError) -> HtmlError {
    match e {
        SocialError::ProviderUnavailable(reason) => {
            tracing::warn!(%reason, "identity provider unavailable");
            HtmlError::Unavailable
        }
        SocialError::Unavailable => HtmlError::Unavailable,
        other => HtmlError::Failed(other.into()),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

/// GET /accounts/social/{provider}/callback/ — back from the provider.
pub async fn callback(
    page: Page,
    provider: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> PageResult {
    let started = started_here(&page, &provider, query.state.as_deref());
    let (Some(started), Some(code)) = (started, query.code.as_deref()) else {
        let again = "This sign-in could not be completed (it expired or was started elsewhere): please start again.";
        return Ok(failed(&page, StatusCode::BAD_REQUEST, again));
    };
    let callback = callback_url(&page, &provider);
    let back = Returned {
        provider: &provider,
        code,
        started: &started.request,
        redirect_uri: &callback,
    };
    if let Some(user_id) = started.link_for {
        return link_callback(&page, back, user_id).await;
    }
    let (state, meta) = (&page.state, client_meta(&page.req));
    let outcome = social::browser_callback(state, &state.social, back, &meta).await;
    signed_in(&page, outcome, &started.next)
}

/// The callback of a link started on the account page: the person signed in then must still be
/// the one signed in now.
async fn link_callback(page: &Page, back: Returned<'_>, user_id: i64) -> PageResult {
    let still_them = CurrentUser::find(&page.req)
        .await?
        .is_some_and(|c| c.user.id == user_id);
    if !still_them {
        let other =
            "This link was started by another account: log in as that account and start again.";
        return Ok(failed(page, StatusCode::BAD_REQUEST, other));
    }
    let state = &page.state;
    let outcome = social::link_signed_in(state, &state.social, back, user_id).await;
    linked(page, back.provider, outcome)
}

/// The account page's answer for a link's outcome.
fn linked(page: &Page, provider: &str, outcome: Result<LinkOutcome, SocialError>) -> PageResult {
    let name = display_name(page, provider);
    match outcome {
        Ok(LinkOutcome::Linked) => page.flash(&format!("Your {name} account is now linked.")),
        Ok(LinkOutcome::AlreadyTheirs) => {
            page.flash(&format!("This {name} account was linked already."));
        }
        Err(SocialError::LinkedElsewhere) => {
            let taken = "This account of the provider is linked to another Latchkey account; it stays there.";
            return Ok(failed(page, StatusCode::BAD_REQUEST, taken));
        }
        Err(e) => return signed_in(page, Err(e), PROFILE),
    }
    Ok(see_other(PROFILE))
}

/// The callback's answer for the core's outcome.
fn signed_in(page: &Page, outcome: Result<BrowserSignIn, SocialError>, next: &str) -> PageResult {
    let refused = |message: &str| Ok(failed(page, StatusCode::BAD_REQUEST, message));
    match outcome {
        Ok(BrowserSignIn::LoggedIn { session_id, .. }) => {
            Identity::login(&page.req.extensions(), session_id)
                .map_err(|e| HtmlError::Failed(anyhow::anyhow!("{e}")))?;
            csrf::rotate(&page.session);
            Ok(see_other(next))
        }
        Ok(BrowserSignIn::LinkNeeded(link)) => ask_for_password(page, link),
        Err(SocialError::EmailTaken) => refused(
            "An account already uses this address. Log in with its password; an address the provider has not verified is never linked.",
        ),
        Err(SocialError::NoEmail) => refused("The provider did not share an e-mail address."),
        Err(SocialError::Inactive) => refused("This account is disabled."),
        Err(SocialError::Refused(reason)) => {
            tracing::warn!(%reason, "social sign-in refused");
            refused("The provider's answer could not be verified.")
        }
        Err(e) => Err(html_error(e)),
    }
}

/// A local account has the identity's verified address: its owner logs in with the password
/// once, and the identity is linked then.
fn ask_for_password(page: &Page, link: PendingLink) -> PageResult {
    let provider = display_name(page, &link.provider);
    page.flash(&format!(
        "An account already uses {}. Log in with its password once to link your {provider} account.",
        link.email
    ));
    remember(page, PENDING_LINK, link)?;
    Ok(see_other(LOGIN))
}
