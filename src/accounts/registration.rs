//! New accounts: self-service registration (with activation and enumeration protection) and
//! operator-created superusers.

use super::AccountsContext;
use super::notify::{self, Notice};
use super::ops::{self, Taken};
use super::passwords::accept_new_password;
use super::{AccountsError, Actor, NewUser, User};
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::domain::{Email, NewPassword, PersonName, UserAttributes, Username};
use crate::mail::MailKind;

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
    /// The password typed again, when the client asks for a retype.
    pub password_retype: Option<String>,
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
pub async fn register(
    state: &AccountsContext,
    input: Registration,
) -> Result<Registered, AccountsError> {
    let Some(username) = input
        .username
        .clone()
        .or_else(|| default_username(&input.email))
    else {
        return Err(AccountsError::UsernameRequired);
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
    let email_taken = email_owner.is_some() && concealed_owner.is_none();
    let username_taken =
        username_owner.is_some() && !(prevent && (email_shaped || email_owner.is_some()));
    if email_taken || username_taken {
        return Err(AccountsError::Taken {
            username: username_taken,
            email: email_taken,
        });
    }

    let attributes = UserAttributes {
        username: username.as_str(),
        first_name: input.first_name.as_str(),
        last_name: input.last_name.as_str(),
        email: input.email.as_str(),
    };
    let retype = input.password_retype.as_deref();
    let password = accept_new_password(state, input.password.clone(), retype, &attributes)?;
    let hash = state.hasher.hash(&password).await?;
    let now = state.clock.now_naive();
    let worker_state = state.clone();
    if let Some(owner) = concealed_owner {
        let queued = state
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    notify::queue_registration_attempt(conn, &worker_state, &owner)
                })
            })
            .await?;
        notify::wake_worker(state, queued);
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
                    notify::queue_activation(conn, &worker_state, &user)?;
                } else if confirmation {
                    let notice = Notice::to_user(MailKind::Confirmation, &user);
                    notify::queue(conn, &worker_state, notice)?;
                }
                Ok::<_, AccountsError>(user)
            })
        })
        .await?;
    notify::wake_worker(state, activation || confirmation);
    Ok(Registered::Created(user))
}

/// A username that is an email address must be the account's own address: otherwise it could
/// squat someone else's address (and a login with that address might land on it).
fn check_username_email(username: &Username, email: &Email) -> Result<(), AccountsError> {
    match Email::parse(username.as_str()) {
        Ok(shaped) if shaped.lookup_key() != email.lookup_key() => {
            Err(AccountsError::UsernameIsAnotherEmail)
        }
        _ => Ok(()),
    }
}

/// The operator (nobody else: staff are not superusers) creates an active staff superuser.
pub async fn create_superuser(
    state: &AccountsContext,
    actor: &Actor,
    input: NewSuperuser,
) -> Result<User, AccountsError> {
    actor.require_operator()?;
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

/// Django's unusable password: `!` and 40 random characters; no input can hash to it.
pub fn unusable_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 40];
    rand::fill(&mut bytes);
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("!{tail}")
}

fn taken_error(taken: Taken) -> AccountsError {
    AccountsError::Taken {
        username: taken == Taken::Username,
        email: taken == Taken::Email,
    }
}
