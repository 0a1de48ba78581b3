//! Mailed links: password reset, activation and a new address's confirmation. Thin over
//! the same accounts core the JSON API uses. Links are checked on GET and used up only
//! by a POST from the page, so mail scanners that open links cannot burn them; the reset token
//! leaves the URL after the first hop.

use actix_web::http::StatusCode;
use actix_web::web;
use serde::Deserialize;

use super::page::{Checked, HtmlError, Page, PageResult, TokenOnly, csrf_form, see_other};
use super::words::{SET_PASSWORD, form_errors};
use crate::accounts::{self, AccountsError, Purpose};
use crate::domain::Email;

const RESET_TOKEN: &str = "reset_token";
const RESET_UID: &str = "reset_uid";

/// True when the link can be used; false for an invalid one (other failures are errors).
async fn usable(page: &Page, uid: &str, token: &str, purpose: Purpose) -> Result<bool, HtmlError> {
    match accounts::check_link(&page.state, uid, token, purpose).await {
        Ok(()) => Ok(true),
        Err(AccountsError::InvalidLink) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// "This link is no longer valid", with a way to carry on.
fn invalid_link(page: &Page, purpose: Purpose) -> PageResult {
    let (url, text) = match purpose {
        Purpose::PasswordReset => (
            "/accounts/password_reset/",
            "Request a new password reset link",
        ),
        Purpose::Activation => ("/accounts/login/", "Back to the login page"),
        Purpose::EmailChange => ("/accounts/profile/", "Back to your account"),
    };
    Ok(
        page.show(StatusCode::OK, "accounts/link_invalid.html", None, |c| {
            c.insert("retry_url", url);
            c.insert("retry_text", text);
        }),
    )
}

#[derive(Deserialize)]
pub struct EmailForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf_token: Option<String>,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

csrf_form!(EmailForm, NewPasswordForm);

/// GET /accounts/password_reset/
pub async fn reset_form(page: Page) -> PageResult {
    Ok(page.show(
        StatusCode::OK,
        "accounts/password_reset_form.html",
        None,
        |c| {
            c.insert("email", "");
        },
    ))
}

/// POST /accounts/password_reset/ — the same answer whether or not the address has an account.
pub async fn reset_submit(page: Page, form: Checked<EmailForm>) -> PageResult {
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let status = StatusCode::BAD_REQUEST;
            return Ok(
                page.show(status, "accounts/password_reset_form.html", None, |c| {
                    c.insert("email", form.email.trim());
                    c.insert("error", &e.to_string());
                }),
            );
        }
    };
    accounts::request_password_reset(&page.state, &email).await?;
    Ok(see_other("/accounts/password_reset/done/"))
}

/// GET /accounts/password_reset/done/
pub async fn reset_done(page: Page) -> PageResult {
    Ok(page.show(
        StatusCode::OK,
        "accounts/password_reset_done.html",
        None,
        |_| {},
    ))
}

/// GET /accounts/reset/{uid}/{token}/ — a valid link moves the token into the session and
/// redirects to `…/set-password/`, so it no longer sits in the address bar or history.
pub async fn reset_link(page: Page, path: web::Path<(String, String)>) -> PageResult {
    let (uid, token) = path.into_inner();
    if token == "set-password" {
        return set_password_form(&page, &uid, Vec::new()).await;
    }
    if !usable(&page, &uid, &token, Purpose::PasswordReset).await? {
        return invalid_link(&page, Purpose::PasswordReset);
    }
    page.session
        .insert(RESET_TOKEN, &token)
        .and(page.session.insert(RESET_UID, &uid))
        .map_err(|e| HtmlError::Failed(anyhow::anyhow!("session: {e}")))?;
    Ok(see_other(&format!("/accounts/reset/{uid}/set-password/")))
}

/// The reset token the session holds for `uid`, if any.
fn session_token(page: &Page, uid: &str) -> Option<String> {
    let stored_uid = page.session.get::<String>(RESET_UID).ok().flatten()?;
    (stored_uid == uid).then(|| page.session.get::<String>(RESET_TOKEN).ok().flatten())?
}

async fn set_password_form(page: &Page, uid: &str, errors: Vec<String>) -> PageResult {
    let valid = match session_token(page, uid) {
        Some(token) => usable(page, uid, &token, Purpose::PasswordReset).await?,
        None => false,
    };
    if !valid {
        return invalid_link(page, Purpose::PasswordReset);
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(
        page.show(status, "accounts/password_reset_confirm.html", None, |c| {
            c.insert("action", &format!("/accounts/reset/{uid}/set-password/"));
            c.insert("errors", &errors);
        }),
    )
}

/// Drops the used link from the session.
fn forget_reset_link(page: &Page) {
    for key in [RESET_TOKEN, RESET_UID] {
        page.session.remove(key);
    }
}

/// POST /accounts/reset/{uid}/set-password/ — uses the link up and sets the password.
pub async fn set_password_submit(
    page: Page,
    form: Checked<NewPasswordForm>,
    uid: web::Path<String>,
) -> PageResult {
    let Some(token) = session_token(&page, &uid) else {
        return invalid_link(&page, Purpose::PasswordReset);
    };
    let (new, retype) = (form.new_password1.clone(), &form.new_password2);
    match accounts::confirm_password_reset(&page.state, &uid, &token, new, Some(retype)).await {
        Ok(()) => {
            forget_reset_link(&page);
            Ok(see_other("/accounts/reset/done/"))
        }
        Err(AccountsError::InvalidLink) => invalid_link(&page, Purpose::PasswordReset),
        Err(refused) => {
            let errors = form_errors(refused, &SET_PASSWORD)?;
            let messages = errors.iter().flat_map(|(_, m)| m.iter().cloned());
            set_password_form(&page, &uid, messages.collect()).await
        }
    }
}

/// GET /accounts/reset/done/
pub async fn reset_complete(page: Page) -> PageResult {
    Ok(page.show(
        StatusCode::OK,
        "accounts/password_reset_complete.html",
        None,
        |_| {},
    ))
}

/// A mailed link's page: a valid link shows `template`, whose button posts back to the link;
/// nothing is used up by the GET (mail scanners open links).
async fn button_page(
    page: &Page,
    (uid, token): (String, String),
    purpose: Purpose,
    template: &str,
) -> PageResult {
    if !usable(page, &uid, &token, purpose).await? {
        return invalid_link(page, purpose);
    }
    // The link itself (NormalizePath has trimmed its trailing slash).
    let action = format!("{}/", page.req.path());
    Ok(page.show(StatusCode::OK, template, None, |c| {
        c.insert("action", &action)
    }))
}

/// GET /accounts/activate/{uid}/{token}/ — a page with a button; nothing is used up yet.
pub async fn activate_page(page: Page, path: web::Path<(String, String)>) -> PageResult {
    button_page(
        &page,
        path.into_inner(),
        Purpose::Activation,
        "accounts/activate.html",
    )
    .await
}

/// POST /accounts/activate/{uid}/{token}/ — activates (the link is used up).
pub async fn activate_submit(
    page: Page,
    _form: Checked<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (uid, token) = path.into_inner();
    let stale = match accounts::activate(&page.state, &uid, &token).await {
        Ok(()) => false,
        Err(AccountsError::NotAwaitingActivation) => true,
        Err(AccountsError::InvalidLink) => return invalid_link(&page, Purpose::Activation),
        Err(e) => return Err(e.into()),
    };
    Ok(
        page.show(StatusCode::OK, "accounts/activated.html", None, |c| {
            c.insert("stale", &stale);
        }),
    )
}

/// GET /accounts/email/confirm/{uid}/{token}/ — a page with a button; nothing is used up yet.
pub async fn email_confirm_page(page: Page, path: web::Path<(String, String)>) -> PageResult {
    let template = "accounts/email_confirm.html";
    button_page(&page, path.into_inner(), Purpose::EmailChange, template).await
}

/// POST /accounts/email/confirm/{uid}/{token}/ — the address changes (the link is used up).
pub async fn email_confirm_submit(
    page: Page,
    _form: Checked<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (uid, token) = path.into_inner();
    match accounts::confirm_email_change(&page.state, &uid, &token).await {
        Ok(user) => Ok(
            page.show(StatusCode::OK, "accounts/email_confirmed.html", None, |c| {
                c.insert("email", &user.email);
            }),
        ),
        // A link whose address was taken meanwhile cannot be used any more either.
        Err(AccountsError::InvalidLink | AccountsError::Taken { .. }) => {
            invalid_link(&page, Purpose::EmailChange)
        }
        Err(e) => Err(e.into()),
    }
}
