//! The accounts use cases. Each is one async function over [`AppState`]; adapters (HTTP, CLI)
//! convert their input to domain types, call one of these, and map the result.

use super::flows;
pub use super::ops::UserFilter;
use super::ops::{self, Taken};
use super::{AccountsError, NewUser, PasswordCheck, User};
use crate::audit::{self, AuditKind};
use crate::db::{DbConn, write_transaction};
use crate::domain::{
    ClientMeta, Email, FieldErrors, NewPassword, PasswordProblem, PersonName, UserAttributes,
    Username,
};
use crate::mail::MailKind;
use crate::sessions::ops as session_ops;
use crate::state::AppState;
use crate::throttle::{self, Reservation, ThrottleLimits};
use chrono::NaiveDateTime;

/// Django's message for a duplicate username.
pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
/// Django's default unique message for the email column.
pub const EMAIL_TAKEN: &str = "user with this email address already exists.";
/// Djoser's message for a wrong `current_password`.
pub const INVALID_PASSWORD: &str = "Invalid password.";
/// Why a username that is someone else's email address is refused.
pub const USERNAME_OTHER_EMAIL: &str =
    "A username that is an email address must be your own email address.";
/// Why a profile update may not change the address.
pub const EMAIL_READ_ONLY: &str = "The email address cannot be changed here: use set_email (/auth/users/set_email/) with your current password, then confirm the new address from the link mailed to it.";
/// Djoser's (ASCII apostrophe) retype mismatch message.
pub const PASSWORD_MISMATCH: &str = "The two password fields didn't match.";

/// Profile fields a user may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    /// New address.
    pub email: Option<Email>,
    /// New given name.
    pub first_name: Option<PersonName>,
    /// New family name.
    pub last_name: Option<PersonName>,
}

/// One page of users and the total count.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// Users on this page, by id.
    pub users: Vec<User>,
    /// Users visible in total.
    pub count: i64,
}

/// A sign-up request whose fields already parsed.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The address.
    pub email: Email,
    /// The login name; `None` means "use the email".
    pub username: Option<Username>,
    /// Given name (may be empty).
    pub first_name: PersonName,
    /// Family name (may be empty).
    pub last_name: PersonName,
    /// The password as typed; the policy runs once the other fields are known to be good.
    pub password: String,
}

/// An operator-created superuser.
#[derive(Debug, Clone)]
pub struct NewSuperuser {
    /// Login name.
    pub username: Username,
    /// Address.
    pub email: Email,
    /// `None` stores an unusable password (Django's `--noinput` without a password).
    pub password: Option<NewPassword>,
}

/// The username used when none is given: the lower-cased email, if it fits the charset.
pub fn default_username(email: &Email) -> Option<Username> {
    Username::parse(email.lookup_key()).ok()
}

/// What registration tells the client.
#[derive(Debug, Clone)]
pub enum Registered {
    /// A new account.
    Created(User),
    /// With `prevent_enumeration`, the address already had an account: nothing was created, the
    /// owner was mailed, and the client gets the same answer as for a new account.
    Concealed {
        /// The address as given.
        email: String,
        /// The username that would have been used.
        username: String,
    },
}

/// Creates an account after checking uniqueness and then the password policy, in Django's
/// order (field errors hide password errors). With activation on the account starts inactive
/// and its activation mail is queued in the same transaction; otherwise the optional "account
/// created" mail is. With `prevent_enumeration` a taken address is not reported: its owner is
/// mailed instead, after the same hashing work a new account costs.
pub async fn register(state: &AppState, input: Registration) -> Result<Registered, AccountsError> {
    let Some(username) = input
        .username
        .clone()
        .or_else(|| default_username(&input.email))
    else {
        let mut errors = FieldErrors::new();
        errors.add("username", "This field is required.");
        return Err(AccountsError::Validation(errors));
    };
    check_username_email(&username, &input.email)?;
    let email_key = input.email.lookup_key().to_owned();
    let name = username.as_str().to_owned();
    let (email_owner, username_owner) = state
        .db
        .run(move |conn| -> Result<_, AccountsError> {
            Ok((
                ops::find_by_email(conn, &email_key)?,
                ops::find_by_username(conn, &name)?,
            ))
        })
        .await?;
    // With enumeration protection neither a taken address nor a taken username that is that
    // address (the same fact) is reported; the account's owner is mailed instead.
    let prevent = state.settings.mail.prevent_enumeration;
    let email_shaped = username.is_email();
    let concealed_owner = email_owner
        .clone()
        .or_else(|| username_owner.clone().filter(|_| email_shaped))
        .filter(|_| prevent);
    let mut errors = FieldErrors::new();
    if email_owner.is_some() && concealed_owner.is_none() {
        errors.add("email", EMAIL_TAKEN);
    }
    if username_owner.is_some() && !(prevent && (email_shaped || email_owner.is_some())) {
        errors.add("username", USERNAME_TAKEN);
    }
    errors.into_result().map_err(AccountsError::Validation)?;

    let attributes = UserAttributes {
        username: username.as_str(),
        first_name: input.first_name.as_str(),
        last_name: input.last_name.as_str(),
        email: input.email.as_str(),
    };
    let password = NewPassword::parse(input.password.clone(), &state.policy, &attributes)
        .map_err(|problems| password_errors("password", &problems))?;
    let hash = state.hasher.hash(&password).await?;
    let now = state.clock.now_naive();
    let worker_state = state.clone();
    if let Some(owner) = concealed_owner {
        let queued = state
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    flows::queue_registration_attempt(conn, &worker_state, &owner)
                })
            })
            .await?;
        if queued {
            flows::mail_queued(state);
        }
        return Ok(Registered::Concealed {
            email: input.email.as_str().to_owned(),
            username: username.as_str().to_owned(),
        });
    }
    let mail = &state.settings.mail;
    let (activation, confirmation) = (mail.send_activation_email, mail.send_confirmation_email);
    let user = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let new = NewUser {
                    email: input.email.as_str(),
                    email_lookup: input.email.lookup_key(),
                    username: username.as_str(),
                    first_name: input.first_name.as_str(),
                    last_name: input.last_name.as_str(),
                    password: &hash,
                    is_active: !activation,
                    activation_pending: activation,
                    is_staff: false,
                    is_superuser: false,
                    date_joined: now,
                };
                let user = ops::insert_user(conn, &new)?.map_err(taken_error)?;
                audit::record(conn, AuditKind::UserCreated, Some(user.id), None, None, now)?;
                if activation {
                    flows::queue_activation(conn, &worker_state, &user)?;
                } else if confirmation {
                    flows::queue_mail(
                        conn,
                        &worker_state,
                        MailKind::Confirmation,
                        &user.email,
                        &user,
                        None,
                        "",
                    )?;
                }
                Ok::<_, AccountsError>(user)
            })
        })
        .await?;
    if activation || confirmation {
        flows::mail_queued(state);
    }
    Ok(Registered::Created(user))
}

/// Checks credentials. The identifier may be a username or an email (case-insensitive).
/// Unknown user, wrong password and inactive account all give `InvalidCredentials`, after the
/// same work: one lookup, one full argon2 verification, one write. Consecutive failures earn an
/// escalating delay (`Throttled`), counted per account, or per identifier when no account
/// matches, so the delay itself reveals nothing; each attempt is reserved (and counted) before
/// any hashing, so concurrent guesses cannot share one slot. The `lock_after`th failure locks
/// the account until an operator unlocks it or the password is reset.
pub async fn authenticate(
    state: &AppState,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<User, AccountsError> {
    let limits = state.settings.throttle;
    let now = state.clock.now_naive();
    let ident = identifier.to_owned();
    let (user, key, reservation) = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<_, AccountsError> {
                let user = ops::find_by_identifier(conn, &ident)?;
                let key = throttle_key(user.as_ref(), &ident);
                let reservation = reserve(conn, &key, now, &limits)?;
                Ok((user, key, reservation))
            })
        })
        .await?;
    let (failures, locked) = admitted(reservation)?;
    let check = state
        .hasher
        .verify(
            password,
            user.as_ref().map(|u| u.password.as_str()),
            Some(&key),
        )
        .await?;
    let accepted = user
        .clone()
        .filter(|u| check == PasswordCheck::Match && u.is_active && !locked);
    let known_id = user.as_ref().map(|u| u.id);
    let ip = meta.ip.clone();
    let accepted_id = accepted.as_ref().map(|u| u.id);
    state
        .db
        .run(move |conn| -> Result<(), AccountsError> {
            write_transaction(conn, |conn| {
                if let Some(id) = accepted_id {
                    ops::touch_last_login(conn, id, now)?;
                    throttle::clear(conn, &key)?;
                    audit::record(
                        conn,
                        AuditKind::LoginSucceeded,
                        Some(id),
                        ip.as_deref(),
                        None,
                        now,
                    )?;
                    return Ok(());
                }
                let failure = Failure {
                    kind: AuditKind::LoginFailed,
                    user_id: known_id,
                    ip: ip.as_deref(),
                    failures,
                };
                record_failure(conn, &failure, &limits, now)
            })
        })
        .await?;
    match accepted {
        Some(mut user) => {
            user.last_login = Some(now);
            Ok(user)
        }
        None => Err(AccountsError::InvalidCredentials),
    }
}

/// Takes a slot of the key's backoff (nothing to take when throttling is off).
fn reserve(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    limits: &ThrottleLimits,
) -> Result<Reservation, AccountsError> {
    if !limits.enabled {
        return Ok(Reservation::Granted {
            failures: 0,
            locked: false,
        });
    }
    Ok(throttle::reserve_attempt(conn, key, now, limits)?)
}

/// The reservation's failure count and lock state, or `Throttled` when it must wait.
fn admitted(reservation: Reservation) -> Result<(i32, bool), AccountsError> {
    match reservation {
        Reservation::Granted { failures, locked } => Ok((failures, locked)),
        Reservation::Wait(wait) => Err(AccountsError::Throttled {
            retry_after: throttle::whole_seconds(wait),
        }),
    }
}

/// A failed password check, already counted by its reservation.
struct Failure<'a> {
    kind: AuditKind,
    user_id: Option<i64>,
    ip: Option<&'a str>,
    failures: i32,
}

/// Audits a failed check, and the lock when this failure was the one that locked the account.
fn record_failure(
    conn: &mut DbConn,
    failure: &Failure<'_>,
    limits: &ThrottleLimits,
    now: NaiveDateTime,
) -> Result<(), AccountsError> {
    audit::record(conn, failure.kind, failure.user_id, failure.ip, None, now)?;
    let locked_now = u32::try_from(failure.failures).is_ok_and(|f| f == limits.lock_after);
    if limits.enabled && failure.user_id.is_some() && locked_now {
        audit::record(
            conn,
            AuditKind::AccountLocked,
            failure.user_id,
            failure.ip,
            None,
            now,
        )?;
    }
    Ok(())
}

fn throttle_key(user: Option<&User>, identifier: &str) -> String {
    user.map_or_else(
        || throttle::identifier_key(identifier),
        |u| throttle::user_key(u.id),
    )
}

/// Lifts the failed-login backoff and lock of an account.
pub async fn unlock(state: &AppState, username: &str) -> Result<bool, AccountsError> {
    let user = get_by_username(state, username).await?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let cleared = throttle::clear(conn, &throttle::user_key(user.id))?;
                audit::record(
                    conn,
                    AuditKind::AccountUnlocked,
                    Some(user.id),
                    None,
                    None,
                    now,
                )?;
                Ok(cleared)
            })
        })
        .await
}

/// A username that is an email address must be the account's own address: otherwise it could
/// squat someone else's address (and a login with that address might land on it).
fn check_username_email(username: &Username, email: &Email) -> Result<(), AccountsError> {
    match Email::parse(username.as_str()) {
        Ok(shaped) if shaped.lookup_key() != email.lookup_key() => {
            let mut errors = FieldErrors::new();
            errors.add("username", USERNAME_OTHER_EMAIL);
            Err(AccountsError::Validation(errors))
        }
        _ => Ok(()),
    }
}

/// Creates an active staff superuser.
pub async fn create_superuser(
    state: &AppState,
    input: NewSuperuser,
) -> Result<User, AccountsError> {
    check_username_email(&input.username, &input.email)?;
    let hash = match &input.password {
        Some(password) => state.hasher.hash(password).await?,
        None => unusable_password(),
    };
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let new = NewUser {
                    email: input.email.as_str(),
                    email_lookup: input.email.lookup_key(),
                    username: input.username.as_str(),
                    first_name: "",
                    last_name: "",
                    password: &hash,
                    is_active: true,
                    activation_pending: false,
                    is_staff: true,
                    is_superuser: true,
                    date_joined: now,
                };
                let user = ops::insert_user(conn, &new)?.map_err(taken_error)?;
                audit::record(
                    conn,
                    AuditKind::UserCreated,
                    Some(user.id),
                    None,
                    Some("superuser"),
                    now,
                )?;
                Ok(user)
            })
        })
        .await
}

/// True when the username is in use.
pub async fn username_taken(state: &AppState, username: &Username) -> Result<bool, AccountsError> {
    let name = username.as_str().to_owned();
    state
        .db
        .run(move |conn| ops::username_exists(conn, &name).map_err(AccountsError::from))
        .await
}

/// True when an account already uses this address (case-insensitively).
pub async fn email_taken(state: &AppState, email: &Email) -> Result<bool, AccountsError> {
    let key = email.lookup_key().to_owned();
    state
        .db
        .run(move |conn| ops::email_exists(conn, &key).map_err(AccountsError::from))
        .await
}

/// Loads a user by exact username.
pub async fn get_by_username(state: &AppState, username: &str) -> Result<User, AccountsError> {
    let name = username.to_owned();
    state
        .db
        .run(move |conn| ops::find_by_username(conn, &name).map_err(AccountsError::from))
        .await?
        .ok_or(AccountsError::NotFound)
}

/// Up to `limit` accounts matching `filter` with an id above `after`, oldest first, and how
/// many match in all (the CLI's listing: a keyset page, never the whole table at once).
pub async fn list_users(
    state: &AppState,
    filter: UserFilter,
    after: i64,
    limit: i64,
) -> Result<UserPage, AccountsError> {
    state
        .db
        .run(move |conn| -> Result<UserPage, AccountsError> {
            let count = ops::count_filtered(conn, &filter)?;
            let users = ops::users_after(conn, &filter, after, limit)?;
            Ok(UserPage { users, count })
        })
        .await
}

/// Sets a new password and ends every session (and so every refresh family) of the user
/// except `keep` (the session that made the change, if any).
pub async fn set_password(
    state: &AppState,
    user_id: i64,
    password: &NewPassword,
    keep: Option<String>,
) -> Result<(), AccountsError> {
    let hash = state.hasher.hash(password).await?;
    let worker_state = state.clone();
    let queued = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, AccountsError> {
                let user = ops::find_by_id(conn, user_id)?.ok_or(AccountsError::NotFound)?;
                flows::apply_new_password(
                    conn,
                    &worker_state,
                    &user,
                    &hash,
                    keep.as_deref(),
                    AuditKind::PasswordChanged,
                )
            })
        })
        .await?;
    if queued {
        flows::mail_queued(state);
    }
    Ok(())
}

/// An operator activates or deactivates an account; deactivation also ends all its sessions at
/// once. Either way the account no longer waits for an activation link: a deactivated account
/// can only be turned on again by an operator.
pub async fn set_active(
    state: &AppState,
    username: &str,
    active: bool,
) -> Result<User, AccountsError> {
    let name = username.to_owned();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let mut user =
                    ops::find_by_username(conn, &name)?.ok_or(AccountsError::NotFound)?;
                ops::set_active(conn, user.id, active)?;
                let kind = if active {
                    AuditKind::UserActivated
                } else {
                    session_ops::revoke_user_sessions(conn, user.id, None, now)?;
                    AuditKind::UserDeactivated
                };
                audit::record(conn, kind, Some(user.id), None, None, now)?;
                user.is_active = active;
                Ok(user)
            })
        })
        .await
}

/// Deletes an account with its sessions and tokens.
pub async fn delete_user(state: &AppState, username: &str) -> Result<(), AccountsError> {
    let name = username.to_owned();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let user = ops::find_by_username(conn, &name)?.ok_or(AccountsError::NotFound)?;
                ops::delete_user(conn, user.id)?;
                let detail = format!("username={}", user.username);
                audit::record(conn, AuditKind::UserDeleted, None, None, Some(&detail), now)?;
                Ok(())
            })
        })
        .await
}

/// The policy's messages for a candidate password of an existing or future user.
pub fn password_problems(
    state: &AppState,
    password: &str,
    user: &UserAttributes<'_>,
) -> Vec<PasswordProblem> {
    state.policy.problems(password, user)
}

pub(crate) fn password_errors(field: &str, problems: &[PasswordProblem]) -> AccountsError {
    let mut errors = FieldErrors::new();
    errors.extend(field, problems.iter().map(ToString::to_string));
    AccountsError::Validation(errors)
}

fn taken_error(taken: Taken) -> AccountsError {
    let mut errors = FieldErrors::new();
    match taken {
        Taken::Username => errors.add("username", USERNAME_TAKEN),
        Taken::Email => errors.add("email", EMAIL_TAKEN),
    }
    AccountsError::Validation(errors)
}

/// Django's unusable password: `!` and 40 random characters; no input can hash to it.
fn unusable_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 40];
    rand::fill(&mut bytes);
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("!{tail}")
}

/// Loads a user by id.
pub async fn get_by_id(state: &AppState, id: i64) -> Result<User, AccountsError> {
    state
        .db
        .run(move |conn| ops::find_by_id(conn, id).map_err(AccountsError::from))
        .await?
        .ok_or(AccountsError::NotFound)
}

/// Where a page of users starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAt {
    /// The 1-based page number.
    Number(i64),
    /// Right after this id (the "next" link of a page).
    After(i64),
    /// Right before this id (the "previous" link of a page).
    Before(i64),
}

/// A page of `size` users visible to `viewer` (staff see everyone, others only themselves),
/// with how many are visible in all.
pub async fn visible_users(
    state: &AppState,
    viewer: &User,
    at: PageAt,
    size: i64,
) -> Result<UserPage, AccountsError> {
    let filter = visible_to(viewer);
    state
        .db
        .run(move |conn| -> Result<UserPage, AccountsError> {
            let count = ops::count_filtered(conn, &filter)?;
            let users = match at {
                PageAt::Number(n) => ops::page_users(conn, &filter, n, size)?,
                PageAt::After(id) => ops::users_after(conn, &filter, id, size)?,
                PageAt::Before(id) => ops::users_before(conn, &filter, id, size)?,
            };
            Ok(UserPage { users, count })
        })
        .await
}

/// The next `limit` users visible to `viewer` after id `after` (for streaming them all).
pub async fn visible_users_after(
    state: &AppState,
    viewer: &User,
    after: i64,
    limit: i64,
) -> Result<Vec<User>, AccountsError> {
    let filter = visible_to(viewer);
    state
        .db
        .run(move |conn| ops::users_after(conn, &filter, after, limit).map_err(AccountsError::from))
        .await
}

fn visible_to(viewer: &User) -> UserFilter {
    UserFilter {
        only: (!viewer.is_staff).then_some(viewer.id),
        ..UserFilter::default()
    }
}

/// Changes the names. The address is read-only here: a profile update may carry the current
/// one (forms send every field; a different spelling of the same address is kept), but a
/// different address is refused with a pointer to set_email, which needs the current password
/// and a confirmation link ([`flows::request_email_change`]). Djoser's `me` lets a bearer token
/// alone change the address, which with a password reset gives the account away.
pub async fn update_profile(
    state: &AppState,
    user_id: i64,
    changes: ProfileChanges,
) -> Result<User, AccountsError> {
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<User, AccountsError> {
                let before = ops::find_by_id(conn, user_id)?.ok_or(AccountsError::NotFound)?;
                if let Some(email) = &changes.email {
                    if email.lookup_key() != before.email_lookup {
                        let mut errors = FieldErrors::new();
                        errors.add("email", EMAIL_READ_ONLY);
                        return Err(AccountsError::Validation(errors));
                    }
                    ops::set_email(conn, user_id, email)?;
                }
                ops::update_names(conn, user_id, &changes)?;
                ops::find_by_id(conn, user_id)?.ok_or(AccountsError::NotFound)
            })
        })
        .await
}

/// Checks a signed-in user's current password (set_password, set_email, account deletion,
/// the HTML forms) under the same per-account backoff as logins: the attempt is reserved
/// before hashing, a wrong password counts towards the delay and the lock, a right one lifts
/// them, and a locked account's password never matches. Always one full verification.
pub async fn check_current_password(
    state: &AppState,
    user: &User,
    password: &str,
) -> Result<bool, AccountsError> {
    let limits = state.settings.throttle;
    let now = state.clock.now_naive();
    let key = throttle::user_key(user.id);
    let reserve_key = key.clone();
    let reservation = state
        .db
        .run(move |conn| write_transaction(conn, |conn| reserve(conn, &reserve_key, now, &limits)))
        .await?;
    let (failures, locked) = admitted(reservation)?;
    let check = state
        .hasher
        .verify(password, Some(&user.password), Some(&key))
        .await?;
    let matched = check == PasswordCheck::Match && !locked;
    let user_id = user.id;
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), AccountsError> {
                if matched {
                    throttle::clear(conn, &key)?;
                    return Ok(());
                }
                let failure = Failure {
                    kind: AuditKind::PasswordCheckFailed,
                    user_id: Some(user_id),
                    ip: None,
                    failures,
                };
                record_failure(conn, &failure, &limits, now)
            })
        })
        .await?;
    Ok(matched)
}

fn invalid_current_password() -> AccountsError {
    let mut errors = FieldErrors::new();
    errors.add("current_password", INVALID_PASSWORD);
    AccountsError::Validation(errors)
}

/// Djoser's set_password: current password, then the policy on the new one, then the retype
/// (when given); on success every other session of the user ends, `keep` stays.
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: &str,
    new: String,
    retype: Option<&str>,
    keep: Option<String>,
) -> Result<(), AccountsError> {
    if !check_current_password(state, user, current).await? {
        return Err(invalid_current_password());
    }
    let attributes = UserAttributes {
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
    };
    let retyped_differently = retype.is_some_and(|r| r != new);
    let password = NewPassword::parse(new, &state.policy, &attributes)
        .map_err(|problems| password_errors("new_password", &problems))?;
    if retyped_differently {
        let mut errors = FieldErrors::new();
        errors.add("non_field_errors", PASSWORD_MISMATCH);
        return Err(AccountsError::Validation(errors));
    }
    set_password(state, user.id, &password, keep).await
}

/// Deletes `target` after checking the requester's own current password (Djoser's
/// `current_password` on DELETE); sessions and tokens go with the user.
pub async fn delete_account(
    state: &AppState,
    requester: &User,
    target: i64,
    current: &str,
) -> Result<(), AccountsError> {
    if !check_current_password(state, requester, current).await? {
        return Err(invalid_current_password());
    }
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), AccountsError> {
                let user = ops::find_by_id(conn, target)?.ok_or(AccountsError::NotFound)?;
                ops::delete_user(conn, user.id)?;
                let detail = format!("username={}", user.username);
                audit::record(conn, AuditKind::UserDeleted, None, None, Some(&detail), now)?;
                Ok(())
            })
        })
        .await
}
