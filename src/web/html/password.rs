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
    let Err(refused) = store(&page, &form, &current).await else {
        return Ok(see_other("/accounts/password_change/done/"));
    };
    let errors = form_errors(refused, &PASSWORD_CHANGE)?;
    let (template, user) = ("accounts/password_change.html", &current.user);
    Ok(
        page.show(StatusCode::BAD_REQUEST, template, Some(user), |c| {
            c.insert("errors", &errors);
            c.insert("has_password", &user.has_usable_password());
        }),
    )
}

/// The form's new password: changed with the old one, or the first one set.
async fn store(
    page: &Page,
    form: &PasswordChangeForm,
    current: &CurrentUser,
) -> Result<(), accounts::AccountsError> {
    let (user, keep) = (&current.user, Some(current.sid.clone()));
    let (new, retype) = (
        form.new_password1.clone(),
        Some(form.new_password2.as_str()),
    );
    if user.has_usable_password() {
        let old = &form.old_password;
        accounts::change_password(&page.state, user, old, new, retype, keep).await
    } else {
        accounts::set_first_password(&page.state, user, new, retype, keep).await
    }
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
