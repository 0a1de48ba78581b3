use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::users;
use crate::domain::{Email, PersonName};

/// A stored account. `password` is a PHC string; one starting with `!` can never match.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// The address as the user typed it.
    pub email: String,
    /// The lower-cased address (unique).
    #[serde(skip)]
    pub email_lookup: String,
    /// Login name (unique, case-sensitive).
    pub username: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// PHC hash string; never serialised.
    #[serde(skip)]
    pub password: String,
    /// Inactive users cannot log in.
    pub is_active: bool,
    /// May use staff-only features.
    pub is_staff: bool,
    /// Has every permission.
    pub is_superuser: bool,
    /// When the account was created (UTC).
    pub date_joined: NaiveDateTime,
    /// Last successful login (UTC).
    pub last_login: Option<NaiveDateTime>,
    /// Created inactive and waiting for its activation link; only such an account can be
    /// turned on by a link (an operator's deactivation cannot be undone that way).
    #[serde(skip)]
    pub activation_pending: bool,
    /// The person opened a link mailed to this address (activation or address change).
    #[serde(skip)]
    pub email_verified: bool,
}

impl User {
    /// True when the stored hash can never match (Django's `!` prefix).
    pub fn has_usable_password(&self) -> bool {
        !self.password.starts_with('!')
    }
}

/// Columns of a new account.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// As typed.
    pub email: &'a str,
    /// Lower-cased.
    pub email_lookup: &'a str,
    /// Login name.
    pub username: &'a str,
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// PHC hash string.
    pub password: &'a str,
    /// Whether the account can log in.
    pub is_active: bool,
    /// Staff flag.
    pub is_staff: bool,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Creation time.
    pub date_joined: NaiveDateTime,
    /// Waiting for the activation link.
    pub activation_pending: bool,
}

/// Profile fields a user may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    /// The address: only its current value (any spelling) is accepted here.
    pub email: Option<Email>,
    /// New given name.
    pub first_name: Option<PersonName>,
    /// New family name.
    pub last_name: Option<PersonName>,
}
