//! Password checks under the per-account backoff: logins, and a signed-in user's current
//! password before a sensitive change. Each attempt is reserved before any hashing.

use chrono::NaiveDateTime;

use super::AccountsContext;
use super::{AccountsError, Actor, HashFormat, PasswordCheck, User, ops};
use crate::audit::{self, AuditKind};
use crate::db::{DbConn, write_transaction};
use crate::domain::{ClientMeta, NewPassword};
use crate::throttle::{self, Reservation, ThrottleLimits};

/// Checks credentials. The identifier may be a username or an email (case-insensitive).
/// Unknown user, wrong password and inactive account all give `InvalidCredentials`, after the
/// same work: one lookup, one full argon2 verification, one write. Consecutive failures earn an
/// escalating delay (`Throttled`), counted per account, or per identifier when no account
/// matches, so the delay itself reveals nothing; each attempt is reserved (and counted) before
/// any hashing, so concurrent guesses cannot share one slot. The `lock_after`th failure locks
/// the account until an operator unlocks it or the password is reset.
///
/// The account is locked in the login's last transaction, and the login holds only while it
/// still has the password just checked and is still active: a login whose check was under way
/// while the password was reset, or the account deactivated, gives `InvalidCredentials`.
pub async fn authenticate(
    state: &AccountsContext,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
) -> Result<User, AccountsError> {
    let (user, ()) = authenticate_then(state, identifier, password, meta, |_, _| Ok(())).await?;
    Ok(user)
}

/// [`authenticate`], then `open` (the session the login opens) in the login's last
/// transaction, under the same conditions: a login that no longer holds opens nothing, so it
/// cannot outlive the sessions a reset ended.
pub async fn authenticate_then<T, F>(
    state: &AccountsContext,
    identifier: &str,
    password: &str,
    meta: &ClientMeta,
    open: F,
) -> Result<(User, T), AccountsError>
where
    F: FnOnce(&mut DbConn, &User) -> Result<T, AccountsError> + Send + 'static,
    T: Send + 'static,
{
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
        .as_ref()
        .filter(|u| check == PasswordCheck::Match && u.is_active && !locked);
    let Some(accepted) = accepted else {
        let failure = Failure {
            kind: AuditKind::LoginFailed,
            user_id: user.as_ref().map(|u| u.id),
            ip: meta.ip.clone(),
            failures,
        };
        state
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| record_failure(conn, &failure, &limits, now))
            })
            .await?;
        return Err(AccountsError::InvalidCredentials);
    };
    let login = Login {
        checked: CheckedPassword::of(accepted),
        upgrade: upgraded_hash(state, accepted, password).await,
        key,
        ip: meta.ip.clone(),
        now,
    };
    let finished = state
        .db
        .run(move |conn| write_transaction(conn, |conn| login.finish(conn, open)))
        .await?;
    finished.ok_or(AccountsError::InvalidCredentials)
}

/// A login whose password matched, before its last transaction.
struct Login {
    checked: CheckedPassword,
    /// Latchkey's hash of the password, when the stored one is of another format.
    upgrade: Option<String>,
    key: String,
    ip: Option<String>,
    now: NaiveDateTime,
}

impl Login {
    /// Records the login and runs `open`, while the account still has the checked password and
    /// is still active (locked until the transaction ends); `None`, audited as a failed login,
    /// when it no longer does.
    fn finish<T>(
        self,
        conn: &mut DbConn,
        open: impl FnOnce(&mut DbConn, &User) -> Result<T, AccountsError>,
    ) -> Result<Option<(User, T)>, AccountsError> {
        let current = self.checked.confirm(conn)?.filter(|u| u.is_active);
        let Some(mut user) = current else {
            let detail = "the password changed or the account was deactivated during the check";
            let (id, ip) = (self.checked.user_id, self.ip.as_deref());
            audit::record(
                conn,
                AuditKind::LoginFailed,
                Some(id),
                ip,
                Some(detail),
                self.now,
            )?;
            return Ok(None);
        };
        ops::touch_last_login(conn, user.id, self.now)?;
        user.last_login = Some(self.now);
        throttle::clear(conn, &self.key)?;
        // The stored hash is the one checked (confirmed under the row lock): as Django does
        // when its hasher changes, it becomes Latchkey's.
        let detail = match self.upgrade {
            Some(hash) => {
                let format = HashFormat::of(&user.password).name();
                ops::set_password_hash(conn, user.id, &hash)?;
                user.password = hash;
                Some(format!("password hash upgraded from {format}"))
            }
            None => None,
        };
        audit::record(
            conn,
            AuditKind::LoginSucceeded,
            Some(user.id),
            self.ip.as_deref(),
            detail.as_deref(),
            self.now,
        )?;
        let opened = open(conn, &user)?;
        Ok(Some((user, opened)))
    }
}

/// The stored hash a password was just checked against. What the check allows is done only
/// while the account still has that hash: a password reset or set by an operator while the
/// check was under way makes the old password prove nothing any more.
#[derive(Debug)]
pub(super) struct CheckedPassword {
    user_id: i64,
    hash: String,
}

impl CheckedPassword {
    /// The hash `user` has now (as read with it).
    fn of(user: &User) -> Self {
        Self {
            user_id: user.id,
            hash: user.password.clone(),
        }
    }

    /// The account, locked until the transaction ends (SQLite's write transactions are
    /// serialized already), while it still has the checked hash; `None` otherwise.
    pub(super) fn confirm(&self, conn: &mut DbConn) -> Result<Option<User>, AccountsError> {
        let user = ops::find_by_id_for_update(conn, self.user_id)?;
        Ok(user.filter(|u| u.password == self.hash))
    }
}

/// Latchkey's hash of `password` when `user`'s stored hash is of another format. Hashing is
/// refused only when the pool is saturated; the login goes on and a later one upgrades.
async fn upgraded_hash(state: &AccountsContext, user: &User, password: &str) -> Option<String> {
    if HashFormat::of(&user.password) == HashFormat::Current {
        return None;
    }
    let password = NewPassword::parse_bypassing_policy(password.to_owned()).ok()?;
    match state.hasher.hash(&password).await {
        Ok(hash) => Some(hash),
        Err(e) => {
            tracing::warn!(error = %e, user_id = user.id, "password hash not upgraded this time");
            None
        }
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
struct Failure {
    kind: AuditKind,
    user_id: Option<i64>,
    ip: Option<String>,
    failures: i32,
}

/// Audits a failed check, and the lock when this failure was the one that locked the account.
fn record_failure(
    conn: &mut DbConn,
    failure: &Failure,
    limits: &ThrottleLimits,
    now: NaiveDateTime,
) -> Result<(), AccountsError> {
    let ip = failure.ip.as_deref();
    audit::record(conn, failure.kind, failure.user_id, ip, None, now)?;
    let locked_now = u32::try_from(failure.failures).is_ok_and(|f| f == limits.lock_after);
    if limits.enabled && failure.user_id.is_some() && locked_now {
        audit::record(
            conn,
            AuditKind::AccountLocked,
            failure.user_id,
            ip,
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

/// The operator lifts the failed-login backoff and lock of an account.
pub async fn unlock(
    state: &AccountsContext,
    actor: &Actor,
    username: &str,
) -> Result<bool, AccountsError> {
    actor.require_operator()?;
    let user = super::users::get_by_username(state, actor, username).await?;
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

/// Checks a signed-in user's current password (set_password, set_email, account deletion,
/// the HTML forms) under the same per-account backoff as logins: the attempt is reserved
/// before hashing, a wrong password counts towards the delay and the lock, a right one lifts
/// them, and a locked account's password never matches. Always one full verification, against
/// the hash the account has when the check begins; the change the check allows is made only
/// while the account still has it ([`CheckedPassword::confirm`]).
async fn check_current_password(
    state: &AccountsContext,
    user: &User,
    password: &str,
) -> Result<Option<CheckedPassword>, AccountsError> {
    let limits = state.settings.throttle;
    let now = state.clock.now_naive();
    let key = throttle::user_key(user.id);
    let reserve_key = key.clone();
    let user_id = user.id;
    let (current, reservation) = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<_, AccountsError> {
                let current = ops::find_by_id(conn, user_id)?.ok_or(AccountsError::NotFound)?;
                Ok((current, reserve(conn, &reserve_key, now, &limits)?))
            })
        })
        .await?;
    let (failures, locked) = admitted(reservation)?;
    let check = state
        .hasher
        .verify(password, Some(&current.password), Some(&key))
        .await?;
    let matched = check == PasswordCheck::Match && !locked;
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
    Ok(matched.then(|| CheckedPassword::of(&current)))
}

/// [`check_current_password`], with a wrong password as `WrongCurrentPassword`.
pub(super) async fn require_current_password(
    state: &AccountsContext,
    user: &User,
    password: &str,
) -> Result<CheckedPassword, AccountsError> {
    check_current_password(state, user, password)
        .await?
        .ok_or(AccountsError::WrongCurrentPassword)
}
