//! Logging in and out.

use actix_identity::{Identity, IdentityExt};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, web};
use serde::Deserialize;

use super::csrf;
use super::page::{
    Checked, CurrentUser, MaybeUser, Page, PageResult, TokenOnly, csrf_form, see_other,
};
use super::social::PENDING_LINK;
use crate::sessions::service as sessions;
use crate::social::{self, PendingLink};
use crate::tokens::TokenError;
use crate::tokens::service as tokens;
use crate::web::client::client_meta;

/// Django's message for any failed login (unknown user, wrong password, inactive account).
const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// `next=` is followed only for same-origin relative paths: `/x`, never `//host` or `/\host`.
pub(super) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n
        }
        _ => super::page::PROFILE,
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Set by the OpenID provider when the person must enter their password again
    /// (`prompt=login`, `max_age`): the form shows even to a logged-in visitor.
    reauth: Option<String>,
}

/// GET /accounts/login/ — a logged-in visitor goes straight on to `next` (unless asked to
/// log in again).
pub async fn login_form(
    page: Page,
    MaybeUser(current): MaybeUser,
    query: web::Query<NextQuery>,
) -> PageResult {
    let next = safe_next(query.next.as_deref());
    if current.is_some() && query.reauth.is_none() {
        return Ok(see_other(next));
    }
    let next_query: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Ok(page.show(StatusCode::OK, "accounts/login.html", None, |c| {
        c.insert("next", next);
        c.insert("next_query", &next_query);
        c.insert("username", "");
    }))
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

csrf_form!(LoginForm);

/// POST /accounts/login/ — one message for every failed login; success renews the session id
/// and the CSRF token, ends the login it replaces (a logged-in visitor asked to log in again)
/// and redirects (303) to a safe `next`.
pub async fn login_submit(
    page: Page,
    MaybeUser(previous): MaybeUser,
    form: Checked<LoginForm>,
) -> PageResult {
    let meta = client_meta(&page.req);
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim();
    match tokens::browser_login(&page.state, username, &form.password, &meta).await {
        Ok(sid) => {
            start_login(&page, sid, previous).await?;
            Ok(see_other(next))
        }
        Err(TokenError::InvalidCredentials) => {
            Ok(
                page.show(StatusCode::BAD_REQUEST, "accounts/login.html", None, |c| {
                    c.insert("next", next);
                    c.insert("username", username);
                    c.insert("form_error", LOGIN_FAILED);
                }),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Puts the new session in the cookie (Identity::login renews the session id: no fixation),
/// renews the CSRF token, and ends the login it replaces.
async fn start_login(
    page: &Page,
    sid: String,
    previous: Option<CurrentUser>,
) -> Result<(), super::page::HtmlError> {
    Identity::login(&page.req.extensions(), sid.clone())
        .map_err(|e| super::page::HtmlError::Failed(anyhow::anyhow!("{e}")))?;
    csrf::rotate(&page.session);
    if let Some(previous) = previous {
        sessions::end_session(&page.state, &previous.sid).await?;
    }
    link_pending_identity(page, &sid).await;
    Ok(())
}

/// An identity that waited for this password login ("Continue with …" found the address taken)
/// is linked now, if the address is this account's.
async fn link_pending_identity(page: &Page, sid: &str) {
    let pending = page.session.remove_as::<PendingLink>(PENDING_LINK);
    let Some(Ok(link)) = pending else {
        return;
    };
    match social::link_pending(&page.state, sid, &link).await {
        Ok(true) => {
            page.flash("Your account at the provider is now linked: use it to log in next time.")
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "linking a pending identity failed"),
    }
}

/// POST /accounts/logout/ — ends the session row and clears the cookie's session.
pub async fn logout(page: Page, _form: Checked<TokenOnly>) -> PageResult {
    if let Some(current) = CurrentUser::find(&page.req).await? {
        sessions::end_session(&page.state, &current.sid).await?;
    }
    if let Ok(identity) = page.req.get_identity() {
        identity.logout();
    }
    Ok(page.show(StatusCode::OK, "accounts/logged_out.html", None, |_| {}))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_be_a_same_origin_path() {
        assert_eq!(
            safe_next(Some("/accounts/profile/?tab=1")),
            "/accounts/profile/?tab=1"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/accounts/profile/", "{bad}");
        }
        assert_eq!(safe_next(None), "/accounts/profile/");
    }
}
