//! Django's form words for the core's refusals, under the names of each page's fields.

use crate::accounts::AccountsError;
use crate::domain::FieldErrors;

/// Django's form message for two differing passwords (typographic apostrophe).
pub const PASSWORDS_DIFFER: &str = "The two password fields didn\u{2019}t match.";
/// Django's message for a duplicate username.
const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// Django's unique message for the email column.
const EMAIL_TAKEN: &str = "user with this email address already exists.";

/// Where a page's form shows each kind of refusal, and what it says for a wrong password.
pub struct FormFields {
    /// The current password's field.
    pub current_password: &'static str,
    /// Django's words for a wrong current password on this form.
    pub wrong_password: &'static str,
    /// The field under which new-password problems and the retype mismatch go.
    pub new_password: &'static str,
    /// The address field.
    pub email: &'static str,
}

/// The password change form (`PasswordChangeForm`).
pub const PASSWORD_CHANGE: FormFields = FormFields {
    current_password: "old_password",
    wrong_password: "Your old password was entered incorrectly. Please enter it again.",
    new_password: "new_password2",
    email: "email",
};

/// The set-password form of a reset link (`SetPasswordForm`).
pub const SET_PASSWORD: FormFields = FormFields {
    new_password: "new_password2",
    ..PASSWORD_CHANGE
};

/// The registration form (`UserCreationForm`): password messages sit under the confirmation.
pub const REGISTER: FormFields = FormFields {
    new_password: "password2",
    ..PASSWORD_CHANGE
};

/// The address-change form of the account page.
pub const EMAIL_CHANGE: FormFields = FormFields {
    current_password: "current_password",
    wrong_password: "Your password was entered incorrectly. Please enter it again.",
    new_password: "new_password2",
    email: "new_email",
};

/// The refusals a form shows next to its fields, or the error back when it is not one of them
/// (throttling, an outage, a bad link: each has its own page).
pub fn form_errors(e: AccountsError, fields: &FormFields) -> Result<FieldErrors, AccountsError> {
    let mut errors = FieldErrors::new();
    match e {
        AccountsError::UsernameRequired => errors.add("username", "This field is required."),
        AccountsError::UsernameIsAnotherEmail => errors.add(
            "username",
            "A username that is an email address must be your own email address.",
        ),
        AccountsError::Taken { username, email } => {
            if email {
                errors.add(fields.email, EMAIL_TAKEN);
            }
            if username {
                errors.add("username", USERNAME_TAKEN);
            }
        }
        AccountsError::WeakPassword(problems) => {
            errors.extend(
                fields.new_password,
                problems.iter().map(ToString::to_string),
            );
        }
        AccountsError::PasswordMismatch => errors.add(fields.new_password, PASSWORDS_DIFFER),
        AccountsError::WrongCurrentPassword | AccountsError::CurrentPasswordRequired => {
            errors.add(fields.current_password, fields.wrong_password);
        }
        AccountsError::EmailReadOnly => errors.add(
            fields.email,
            "The address changes only through the link mailed to the new address.",
        ),
        AccountsError::PasswordAlreadySet => errors.add(
            fields.current_password,
            "Your account has a password now: reload the page and enter it as the old password.",
        ),
        other => return Err(other),
    }
    Ok(errors)
}
