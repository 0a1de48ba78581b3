//! Accounts: users, passwords and the use cases over them. Every use case is a function here;
//! the adapters (HTTP pages, JSON API, CLI) parse their input into domain values, call one, and
//! word its [`AccountsError`]. Who may do what is decided here, from the [`Actor`].
//!
//! Inside, lower modules know nothing of higher ones: `ops` (the users table), `onetime` (link
//! tokens) and `password` (hashing) at the bottom; `notify` (the mail), `credentials` (password
//! checks under the backoff) above them; the use cases (`registration`, `users`, `passwords`,
//! `links`, `email`) on top. Below accounts there is only [`crate::sessions`], the mail outbox,
//! the throttle and storage.

mod actor;
mod context;
mod credentials;
mod django_hashers;
mod django_links;
mod email;
mod error;
mod links;
mod models;
mod notify;
pub mod onetime;
pub mod ops;
mod password;
mod passwords;
mod registration;
mod users;

pub use actor::Actor;
pub use context::AccountsContext;
pub use credentials::{authenticate, authenticate_then, unlock};
pub use django_hashers::HashFormat;
pub use email::{confirm_email_change, request_email_change};
pub use error::AccountsError;
pub use links::{activate, check_link, resend_activation};
pub use models::{NewUser, ProfileChanges, User};
pub use onetime::Purpose;
pub use password::{HashError, HashLimits, Hasher, PasswordCheck};
pub use passwords::{
    accept_new_password, attributes_of, change_password, check_retype, confirm_password_reset,
    password_problems, request_password_reset, set_first_password, set_password,
};
pub use registration::{
    NewSuperuser, Registered, Registration, create_superuser, default_username, register,
    unusable_password,
};
pub use users::{
    Narrowing, PageAt, UserPage, delete_account, email_taken, get_by_username, get_user,
    hash_report, list_users, set_active, update_profile, username_taken, users_after,
};
