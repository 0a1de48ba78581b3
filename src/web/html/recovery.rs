//! Password reset and activation pages: thin over `accounts::flows`, the same core the JSON
//! API uses. Links are checked on GET and used up only by a POST from the page, so mail scanners
//! that open links cannot burn them; the reset token leaves the URL after the first hop.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tera::Context;

use super::PageTemplates;
use super::csrf;
use super::form::Form;
use super::pages::{
    CsrfForm, PASSWORDS_DIFFER, base_context, csrf_failure, failed, see_other, server_error,
};
use crate::accounts::AccountsError;
use crate::accounts::flows::{self, INVALID_TOKEN};
use crate::domain::Email;
use crate::state::AppState;
use crate::tokens::onetime::Purpose;

const RESET_TOKEN: &str = "reset_token";
const RESET_UID: &str = "reset_uid";

#[derive(Deserialize)]
pub struct EmailForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
}

fn invalid_link(templates: &PageTemplates, mut context: Context, purpose: Purpose) -> HttpResponse {
    let (url, text) = match purpose {
        Purpose::PasswordReset => (
            "/accounts/password_reset/",
            "Request a new password reset link",
        ),
        Purpose::Activation => ("/accounts/login/", "Back to the login page"),
        Purpose::EmailChange => ("/accounts/profile/", "Back to your account"),
    };
    context.insert("retry_url", url);
    context.insert("retry_text", text);
    templates.page(StatusCode::OK, "accounts/link_invalid.html", &context)
}

fn logged_error(e: &AccountsError) -> HttpResponse {
    failed("recovery page failed", e)
}

/// GET /accounts/password_reset/
pub async fn reset_form(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
) -> HttpResponse {
    let mut context = base_context(&state, &session, &req, None);
    context.insert("email", "");
    templates.page(
        StatusCode::OK,
        "accounts/password_reset_form.html",
        &context,
    )
}

/// POST /accounts/password_reset/ — the same answer whether or not the address has an account.
pub async fn reset_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    form: Form<EmailForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let mut context = base_context(&state, &session, &req, None);
            context.insert("email", form.email.trim());
            context.insert("error", &e.to_string());
            return templates.page(
                StatusCode::BAD_REQUEST,
                "accounts/password_reset_form.html",
                &context,
            );
        }
    };
    match flows::request_password_reset(&state, &email).await {
        Ok(()) => see_other("/accounts/password_reset/done/"),
        Err(e) => logged_error(&e),
    }
}

/// GET /accounts/password_reset/done/
pub async fn reset_done(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
) -> HttpResponse {
    let context = base_context(&state, &session, &req, None);
    templates.page(
        StatusCode::OK,
        "accounts/password_reset_done.html",
        &context,
    )
}

/// GET /accounts/reset/{uid}/{token}/ — a valid link moves the token into the session and
/// redirects to `…/set-password/`, so it no longer sits in the address bar or history.
pub async fn reset_link(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (uid, token) = path.into_inner();
    if token == "set-password" {
        return set_password_form(&state, &templates, &session, &req, &uid, Vec::new()).await;
    }
    match flows::link_is_valid(&state, &uid, &token, Purpose::PasswordReset).await {
        Ok(true) => {
            let stored = session
                .insert(RESET_TOKEN, &token)
                .and(session.insert(RESET_UID, &uid));
            if stored.is_err() {
                return server_error();
            }
            see_other(&format!("/accounts/reset/{uid}/set-password/"))
        }
        Ok(false) => invalid_link(
            &templates,
            base_context(&state, &session, &req, None),
            Purpose::PasswordReset,
        ),
        Err(e) => logged_error(&e),
    }
}

fn session_token(session: &Session, uid: &str) -> Option<String> {
    let stored_uid = session.get::<String>(RESET_UID).ok().flatten()?;
    (stored_uid == uid).then(|| session.get::<String>(RESET_TOKEN).ok().flatten())?
}

async fn set_password_form(
    state: &AppState,
    templates: &PageTemplates,
    session: &Session,
    req: &HttpRequest,
    uid: &str,
    errors: Vec<String>,
) -> HttpResponse {
    let context = base_context(state, session, req, None);
    let valid = match session_token(session, uid) {
        Some(token) => flows::link_is_valid(state, uid, &token, Purpose::PasswordReset).await,
        None => Ok(false),
    };
    match valid {
        Ok(true) => {
            let mut context = context;
            context.insert("action", &format!("/accounts/reset/{uid}/set-password/"));
            let status = if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            context.insert("errors", &errors);
            templates.page(status, "accounts/password_reset_confirm.html", &context)
        }
        Ok(false) => invalid_link(templates, context, Purpose::PasswordReset),
        Err(e) => logged_error(&e),
    }
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    csrf_token: Option<String>,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

/// POST /accounts/reset/{uid}/set-password/ — uses the link up and sets the password.
pub async fn set_password_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    uid: web::Path<String>,
    form: Form<NewPasswordForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    let Some(token) = session_token(&session, &uid) else {
        return invalid_link(
            &templates,
            base_context(&state, &session, &req, None),
            Purpose::PasswordReset,
        );
    };
    let form = form.into_inner();
    let outcome = flows::confirm_password_reset(
        &state,
        &uid,
        &token,
        form.new_password1,
        Some(&form.new_password2),
    )
    .await;
    match outcome {
        Ok(()) => {
            session.remove(RESET_TOKEN);
            session.remove(RESET_UID);
            see_other("/accounts/reset/done/")
        }
        Err(AccountsError::Validation(errors))
            if errors
                .get("token")
                .is_some_and(|m| m.iter().any(|t| t == INVALID_TOKEN)) =>
        {
            invalid_link(
                &templates,
                base_context(&state, &session, &req, None),
                Purpose::PasswordReset,
            )
        }
        Err(AccountsError::Validation(errors)) => {
            let messages: Vec<String> = errors
                .iter()
                .flat_map(|(field, messages)| {
                    messages.iter().map(move |m| {
                        if field == "non_field_errors" {
                            PASSWORDS_DIFFER.to_owned()
                        } else {
                            m.clone()
                        }
                    })
                })
                .collect();
            set_password_form(&state, &templates, &session, &req, &uid, messages).await
        }
        Err(e) => logged_error(&e),
    }
}

/// GET /accounts/reset/done/
pub async fn reset_complete(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
) -> HttpResponse {
    let context = base_context(&state, &session, &req, None);
    templates.page(
        StatusCode::OK,
        "accounts/password_reset_complete.html",
        &context,
    )
}

/// A mailed link's page: a valid link shows `template`, whose button posts back to the link;
/// nothing is used up by the GET (mail scanners open links).
async fn button_page(
    state: &AppState,
    templates: &PageTemplates,
    session: &Session,
    req: &HttpRequest,
    link: (&str, &str, Purpose),
    template: &str,
) -> HttpResponse {
    let (uid, token, purpose) = link;
    let mut context = base_context(state, session, req, None);
    match flows::link_is_valid(state, uid, token, purpose).await {
        Ok(true) => {
            // The link itself (NormalizePath has trimmed its trailing slash).
            context.insert("action", &format!("{}/", req.path()));
            templates.page(StatusCode::OK, template, &context)
        }
        Ok(false) => invalid_link(templates, context, purpose),
        Err(e) => logged_error(&e),
    }
}

/// GET /accounts/activate/{uid}/{token}/ — a page with a button; nothing is used up yet.
pub async fn activate_page(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (uid, token) = path.into_inner();
    let link = (uid.as_str(), token.as_str(), Purpose::Activation);
    button_page(
        &state,
        &templates,
        &session,
        &req,
        link,
        "accounts/activate.html",
    )
    .await
}

/// POST /accounts/activate/{uid}/{token}/ — activates (the link is used up).
pub async fn activate_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Form<CsrfForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    let (uid, token) = path.into_inner();
    let mut context = base_context(&state, &session, &req, None);
    match flows::activate(&state, &uid, &token).await {
        Ok(()) => {
            context.insert("stale", &false);
            templates.page(StatusCode::OK, "accounts/activated.html", &context)
        }
        Err(AccountsError::StaleToken) => {
            context.insert("stale", &true);
            templates.page(StatusCode::OK, "accounts/activated.html", &context)
        }
        Err(AccountsError::Validation(_)) => invalid_link(&templates, context, Purpose::Activation),
        Err(e) => logged_error(&e),
    }
}

/// GET /accounts/email/confirm/{uid}/{token}/ — a page with a button; nothing is used up yet.
pub async fn email_confirm_page(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (uid, token) = path.into_inner();
    let link = (uid.as_str(), token.as_str(), Purpose::EmailChange);
    button_page(
        &state,
        &templates,
        &session,
        &req,
        link,
        "accounts/email_confirm.html",
    )
    .await
}

/// POST /accounts/email/confirm/{uid}/{token}/ — the address changes (the link is used up).
pub async fn email_confirm_submit(
    state: web::Data<AppState>,
    templates: web::Data<PageTemplates>,
    session: Session,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Form<CsrfForm>,
) -> HttpResponse {
    if !csrf::verify(&req, &session, form.csrf_token.as_deref()) {
        return csrf_failure(&templates, &state, &session, &req);
    }
    let (uid, token) = path.into_inner();
    let mut context = base_context(&state, &session, &req, None);
    match flows::confirm_email_change(&state, &uid, &token).await {
        Ok(user) => {
            context.insert("email", &user.email);
            templates.page(StatusCode::OK, "accounts/email_confirmed.html", &context)
        }
        Err(AccountsError::Validation(_)) => {
            invalid_link(&templates, context, Purpose::EmailChange)
        }
        Err(e) => logged_error(&e),
    }
}
