//! Registration (Django's `UserCreationForm` page over the same core as the API).

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::page::{Checked, Page, PageResult, csrf_form};
use super::words::{PASSWORDS_DIFFER, REGISTER, form_errors};
use crate::accounts::{self, Registration};
use crate::domain::{Email, FieldErrors, PersonName, Username};

#[derive(Serialize)]
struct Field<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    autocomplete: &'a str,
    required: bool,
    value: &'a str,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    csrf_token: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password1: String,
    #[serde(default)]
    password2: String,
}

csrf_form!(RegisterForm);

/// The form's fields with what was typed (passwords blanked) and each field's messages.
fn fields<'a>(form: &'a RegisterForm, errors: &FieldErrors) -> [Field<'a>; 6] {
    let messages = |name: &str| errors.get(name).map(<[String]>::to_vec).unwrap_or_default();
    // Passwords are never sent back; their messages sit under the confirmation, as in Django.
    let password2 = messages("password2");
    [
        Field {
            name: "email",
            label: "Email address",
            kind: "email",
            autocomplete: "email",
            required: true,
            value: &form.email,
            errors: messages("email"),
        },
        Field {
            name: "username",
            label: "Username (optional: your email is used otherwise)",
            kind: "text",
            autocomplete: "username",
            required: false,
            value: &form.username,
            errors: messages("username"),
        },
        Field {
            name: "first_name",
            label: "First name",
            kind: "text",
            autocomplete: "given-name",
            required: false,
            value: &form.first_name,
            errors: messages("first_name"),
        },
        Field {
            name: "last_name",
            label: "Last name",
            kind: "text",
            autocomplete: "family-name",
            required: false,
            value: &form.last_name,
            errors: messages("last_name"),
        },
        Field {
            name: "password1",
            label: "Password",
            kind: "password",
            autocomplete: "new-password",
            required: true,
            value: "",
            errors: Vec::new(),
        },
        Field {
            name: "password2",
            label: "Password confirmation",
            kind: "password",
            autocomplete: "new-password",
            required: true,
            value: "",
            errors: password2,
        },
    ]
}

fn register_page(
    page: &Page,
    status: StatusCode,
    form: &RegisterForm,
    errors: &FieldErrors,
) -> PageResult {
    let fields = fields(form, errors);
    Ok(page.show(status, "accounts/register.html", None, |c| {
        c.insert("fields", &fields)
    }))
}

/// GET /accounts/register/
pub async fn register_form(page: Page) -> PageResult {
    register_page(
        &page,
        StatusCode::OK,
        &RegisterForm::default(),
        &FieldErrors::new(),
    )
}

impl RegisterForm {
    /// The registration, or every field's problem (Django's form order: fields, then retype).
    fn registration(&self) -> Result<Registration, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = Email::parse(&self.email)
            .map_err(|e| errors.add("email", e.to_string()))
            .ok();
        let username = match self.username.trim() {
            "" => None,
            raw => Username::parse(raw)
                .map_err(|e| errors.add("username", e.to_string()))
                .ok(),
        };
        let mut name = |field: &str, raw: &str| {
            PersonName::parse(raw)
                .map_err(|e| errors.add(field, e.to_string()))
                .ok()
        };
        let first_name = name("first_name", &self.first_name);
        let last_name = name("last_name", &self.last_name);
        // Django's form reports the retype with the other fields, before the policy runs.
        if accounts::check_retype(&self.password1, Some(&self.password2)).is_err() {
            errors.add(REGISTER.new_password, PASSWORDS_DIFFER);
        }
        match (email, first_name, last_name) {
            (Some(email), Some(first_name), Some(last_name)) if errors.is_empty() => {
                Ok(Registration {
                    email,
                    username,
                    first_name,
                    last_name,
                    password: self.password1.clone(),
                    password_retype: Some(self.password2.clone()),
                })
            }
            _ => Err(errors),
        }
    }
}

/// POST /accounts/register/ — the same core registration as the API (policy, uniqueness,
/// activation mail, enumeration protection).
pub async fn register_submit(page: Page, form: Checked<RegisterForm>) -> PageResult {
    let refused = match form.registration() {
        Ok(registration) => match accounts::register(&page.state, registration).await {
            Ok(_) => return registered(&page),
            Err(e) => form_errors(e, &REGISTER)?,
        },
        Err(errors) => errors,
    };
    register_page(&page, StatusCode::BAD_REQUEST, &form, &refused)
}

/// The page after a registration (the same whether or not the address was new).
fn registered(page: &Page) -> PageResult {
    let activation = page.state.settings.mail.send_activation_email;
    Ok(
        page.show(StatusCode::OK, "accounts/registered.html", None, |c| {
            c.insert("activation", &activation);
        }),
    )
}
