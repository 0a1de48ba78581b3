//! Changing the password while logged in (Django's `password_change` views).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use serde::Deserialize;

use super::page::{Checked, CurrentUser, Page, PageResult, csrf_form, see_other};
use crate::accounts::AccountsError;
use crate::accounts::service;
use crate::domain::FieldErrors;

/// Django's form message for two differing passwords (typographic apostrophe).
pub(super) const PASSWORDS_DIFFER: &str = "The two password fields didn\u{2019}t match.";

/// GET /accounts/password_change/
pub async fn password_change_form(page: Page, current: CurrentUser) -> PageResult {
    let user = Some(&current.user);
    Ok(
        page.show(StatusCode::OK, "accounts/password_change.html", user, |c| {
            c.insert("errors", &HashMap::<String, Vec<String>>::new());
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

/// The core's set_password errors in Django's form words, under the form's fields.
fn worded(errors: &FieldErrors) -> HashMap<&'static str, Vec<String>> {
    let mut fields: HashMap<&str, Vec<String>> = HashMap::new();
    for (field, messages) in errors.iter() {
        for message in messages {
            let (name, text) = match field {
                "current_password" => (
                    "old_password",
                    "Your old password was entered incorrectly. Please enter it again.".to_owned(),
                ),
                "non_field_errors" => ("new_password2", PASSWORDS_DIFFER.to_owned()),
                _ => ("new_password2", message.clone()),
            };
            fields.entry(name).or_default().push(text);
        }
    }
    fields
}

/// POST /accounts/password_change/ — the core's set_password: this session stays, every other
/// session and refresh family ends. Errors come back in Django's form words.
pub async fn password_change_submit(
    page: Page,
    form: Checked<PasswordChangeForm>,
    current: CurrentUser,
) -> PageResult {
    let (user, keep) = (&current.user, Some(current.sid.clone()));
    let (old, new) = (&form.old_password, form.new_password1.clone());
    let retype = Some(form.new_password2.as_str());
    match service::change_password(&page.state, user, old, new, retype, keep).await {
        Ok(()) => Ok(see_other("/accounts/password_change/done/")),
        Err(AccountsError::Validation(errors)) => Ok(page.show(
            StatusCode::BAD_REQUEST,
            "accounts/password_change.html",
            Some(user),
            |c| c.insert("errors", &worded(&errors)),
        )),
        Err(e) => Err(e.into()),
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
