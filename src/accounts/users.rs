//! Reading, listing, updating, (de)activating and deleting accounts, each as an [`Actor`]: the
//! permission rules are checked here, before anything is looked up.

use super::AccountsContext;
use super::HashFormat;
use super::credentials::require_current_password;
use super::ops::{self, UserFilter};
use super::{AccountsError, Actor, ProfileChanges, User};
use crate::audit::{self, AuditKind};
use crate::db::write_transaction;
use crate::domain::{Email, Username};
use crate::sessions::ops as session_ops;

/// One page of users and the total count.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// Users on this page, by id.
    pub users: Vec<User>,
    /// Users visible in total.
    pub count: i64,
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

/// What a listing asks for besides what the actor may see.
#[derive(Debug, Clone, Default)]
pub struct Narrowing {
    /// A piece of the username or address (case-insensitive).
    pub search: Option<String>,
    /// Staff only.
    pub staff: bool,
    /// Inactive accounts only.
    pub inactive: bool,
}

/// The account `id`, if the actor may see it (`Forbidden` otherwise, whether or not it exists).
pub async fn get_user(
    state: &AccountsContext,
    actor: &Actor,
    id: i64,
) -> Result<User, AccountsError> {
    actor.check_may_see(id)?;
    state
        .db
        .run(move |conn| ops::find_by_id(conn, id).map_err(AccountsError::from))
        .await?
        .ok_or(AccountsError::NotFound)
}

/// The account with this exact username (staff and the operator only).
pub async fn get_by_username(
    state: &AccountsContext,
    actor: &Actor,
    username: &str,
) -> Result<User, AccountsError> {
    actor.require_manager()?;
    let name = username.to_owned();
    state
        .db
        .run(move |conn| ops::find_by_username(conn, &name).map_err(AccountsError::from))
        .await?
        .ok_or(AccountsError::NotFound)
}

/// True when the username is in use.
pub async fn username_taken(
    state: &AccountsContext,
    username: &Username,
) -> Result<bool, AccountsError> {
    let name = username.as_str().to_owned();
    state
        .db
        .run(move |conn| ops::username_exists(conn, &name).map_err(AccountsError::from))
        .await
}

/// True when an account already uses this address (case-insensitively).
pub async fn email_taken(state: &AccountsContext, email: &Email) -> Result<bool, AccountsError> {
    let key = email.lookup_key().to_owned();
    state
        .db
        .run(move |conn| ops::email_exists(conn, &key).map_err(AccountsError::from))
        .await
}

/// A page of `size` users the actor may see (staff and the operator see everyone, other users
/// only themselves), narrowed as asked, with how many match in all.
pub async fn list_users(
    state: &AccountsContext,
    actor: &Actor,
    narrowing: Narrowing,
    at: PageAt,
    size: i64,
) -> Result<UserPage, AccountsError> {
    let filter = UserFilter {
        search: narrowing.search,
        staff: narrowing.staff,
        inactive: narrowing.inactive,
        ..actor.visible()?
    };
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

/// The next `limit` users the actor may see after id `after`, without counting them (for
/// streaming the whole list batch by batch).
pub async fn users_after(
    state: &AccountsContext,
    actor: &Actor,
    after: i64,
    limit: i64,
) -> Result<Vec<User>, AccountsError> {
    let filter = actor.visible()?;
    state
        .db
        .run(move |conn| ops::users_after(conn, &filter, after, limit).map_err(AccountsError::from))
        .await
}

/// How many accounts store each password hash format (Django's formats become Latchkey's
/// argon2id as their owners log in), most common first. Operators only.
pub async fn hash_report(
    state: &AccountsContext,
    actor: &Actor,
) -> Result<Vec<(HashFormat, u64)>, AccountsError> {
    actor.require_operator()?;
    state
        .db
        .run(|conn| -> Result<_, AccountsError> {
            let mut counts: std::collections::BTreeMap<HashFormat, u64> = Default::default();
            let mut after = 0;
            // In batches by id, so that a million accounts never sit in memory at once.
            loop {
                let batch = ops::password_hashes_after(conn, after, 5000)?;
                let Some((last, _)) = batch.last() else { break };
                after = *last;
                for (_, hash) in &batch {
                    *counts.entry(HashFormat::of(hash)).or_default() += 1;
                }
            }
            let mut report: Vec<(HashFormat, u64)> = counts.into_iter().collect();
            report.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            Ok(report)
        })
        .await
}

/// Changes the names of `target`. The address is read-only here: an update may carry the current
/// one (forms send every field; a different spelling of the same address is kept), but a
/// different address is `EmailReadOnly`: changing it needs the current password and a
/// confirmation link ([`super::request_email_change`]). Djoser's `me` lets a bearer token alone
/// change the address, which with a password reset gives the account away.
pub async fn update_profile(
    state: &AccountsContext,
    actor: &Actor,
    target: i64,
    changes: ProfileChanges,
) -> Result<User, AccountsError> {
    actor.check_may_see(target)?;
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<User, AccountsError> {
                let before = ops::find_by_id(conn, target)?.ok_or(AccountsError::NotFound)?;
                if let Some(email) = &changes.email {
                    if email.lookup_key() != before.email_lookup {
                        return Err(AccountsError::EmailReadOnly);
                    }
                    ops::set_email(conn, target, email, before.email_verified)?;
                }
                ops::update_names(conn, target, &changes)?;
                ops::find_by_id(conn, target)?.ok_or(AccountsError::NotFound)
            })
        })
        .await
}

/// Deletes the account `target` with its sessions and tokens. A user may delete their own
/// account and staff anyone's, each after giving their own current password (Djoser's
/// `current_password`); the operator needs none. Anyone else gets `Forbidden`.
pub async fn delete_account(
    state: &AccountsContext,
    actor: &Actor,
    target: i64,
    current_password: Option<&str>,
) -> Result<(), AccountsError> {
    let user = get_user(state, actor, target).await?;
    let checked = match actor {
        Actor::User(requester) => {
            let password = current_password.ok_or(AccountsError::CurrentPasswordRequired)?;
            Some(require_current_password(state, requester, password).await?)
        }
        // get_user has refused anyone else; the operator needs no password.
        Actor::Anonymous | Actor::Operator => None,
    };
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<(), AccountsError> {
                // The requester's password must still be theirs (a reset in between wins).
                if let Some(checked) = &checked {
                    checked
                        .confirm(conn)?
                        .ok_or(AccountsError::WrongCurrentPassword)?;
                }
                if ops::delete_user(conn, user.id)? == 0 {
                    return Err(AccountsError::NotFound);
                }
                let detail = format!("username={}", user.username);
                audit::record(conn, AuditKind::UserDeleted, None, None, Some(&detail), now)?;
                Ok(())
            })
        })
        .await
}

/// The operator turns an account on or off; turning it off ends all its sessions at
/// once. Either way the account no longer waits for an activation link: a deactivated account
/// can only be turned on again by an operator.
pub async fn set_active(
    state: &AccountsContext,
    actor: &Actor,
    username: &str,
    active: bool,
) -> Result<User, AccountsError> {
    actor.require_operator()?;
    let now = state.clock.now_naive();
    let name = username.to_owned();
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
