//! Changing the password while logged in (Django's `password_change` views).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use serde::Deserialize;

use super::page::{Checked, CurrentUser, Page, PageResult, csrf_form, see_other};
use super::words::{PASSWORD_CHANGE, form_errors};
use crate::accounts;

/// GET /accounts/password_change/
pub async fn password_change_form(page: Page, current: CurrentUser) -> PageResult {
    let user = Some(&current.user);
    Ok(
        page.show(StatusCode::OK, "accounts/password_change.html", user, |c| {
            c.insert("errors", &HashMap::<String, Vec<String>>::new());
            c.insert("has_password", &current.user.has_usable_password());
        }),
    )
}

#[derive(Deserialize)]
pub struct PasswordChangeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

csrf_form!(PasswordChangeForm);

/// POST /accounts/password_change/ — the core's set_password: this session stays, every other
/// session and refresh family ends. An account without a usable password (made by a social
/// sign-in) sets its first one without an old one. Errors come back in Django's form words.
pub async fn password_change_submit(
    page: Page,
    form: Checked<PasswordChangeForm>,
    current: CurrentUser,
) -> PageResult {
    let (user, keep) = (&current.user, Some(current.sid.clone()));
    let (old, new) = (&form.old_password, form.new_password1.clone());
    let retype = Some(form.new_password2.as_str());
    let state = &page.state;
    let outcome = if user.has_usable_password() {
        accounts::change_password(state, user, old, new, retype, keep).await
    } else {
        accounts::set_first_password(state, user, new, retype, keep).await
    };
    let Err(refused) = outcome else {
        return Ok(see_other("/accounts/password_change/done/"));
    };
    let errors = form_errors(refused, &PASSWORD_CHANGE)?;
    let template = "accounts/password_change.html";
    Ok(
        page.show(StatusCode::BAD_REQUEST, template, Some(user), |c| {
            c.insert("errors", &errors);
            c.insert("has_password", &user.has_usable_password());
        }),
    )
}

/// GET /accounts/password_change/done/
pub async fn password_change_done(page: Page, current: CurrentUser) -> PageResult {
    let user = Some(&current.user);
    Ok(page.show(
        StatusCode::OK,
        "accounts/password_change_done.html",
        user,
        |_| {},
    ))
}
