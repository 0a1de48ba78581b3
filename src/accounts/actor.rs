//! Who is asking, and what they may do to which account: the permission rules of every
//! adapter, in one place.

use super::{AccountsError, User};
use crate::accounts::ops::UserFilter;

/// The party a use case acts for.
#[derive(Debug, Clone)]
pub enum Actor {
    /// Nobody signed in.
    Anonymous,
    /// A signed-in user: staff may see and manage every account, others only their own.
    User(User),
    /// An operator at the command line: may do anything, needs no password.
    Operator,
}

impl Actor {
    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Self::User(user) => Some(user),
            Self::Anonymous | Self::Operator => None,
        }
    }

    /// True for the operator and staff users.
    fn manages_everyone(&self) -> bool {
        match self {
            Self::Operator => true,
            Self::User(user) => user.is_staff,
            Self::Anonymous => false,
        }
    }

    /// May see (and so read, update or be refused deletion of) the account `target`: its owner,
    /// staff and the operator. Checked before the account is looked up, so a refusal says
    /// nothing about whether it exists.
    pub fn may_see(&self, target: i64) -> bool {
        self.manages_everyone() || self.user().is_some_and(|u| u.id == target)
    }

    /// `Ok` when the actor may see `target`, else `Forbidden`.
    pub(crate) fn check_may_see(&self, target: i64) -> Result<(), AccountsError> {
        if self.may_see(target) {
            Ok(())
        } else {
            Err(AccountsError::Forbidden)
        }
    }

    /// `Ok` for the operator only (what no user may do: create superusers, set passwords,
    /// switch accounts on and off, lift locks), else `Forbidden`.
    pub(crate) fn require_operator(&self) -> Result<(), AccountsError> {
        match self {
            Self::Operator => Ok(()),
            Self::User(_) | Self::Anonymous => Err(AccountsError::Forbidden),
        }
    }

    /// `Ok` for staff and the operator, else `Forbidden`.
    pub(crate) fn require_manager(&self) -> Result<(), AccountsError> {
        if self.manages_everyone() {
            Ok(())
        } else {
            Err(AccountsError::Forbidden)
        }
    }

    /// The accounts a listing shows this actor: every one for staff and the operator, only
    /// their own for other users, none for nobody.
    pub(crate) fn visible(&self) -> Result<UserFilter, AccountsError> {
        match self {
            Self::Anonymous => Err(AccountsError::Forbidden),
            Self::User(user) if !user.is_staff => Ok(UserFilter {
                only: Some(user.id),
                ..UserFilter::default()
            }),
            Self::User(_) | Self::Operator => Ok(UserFilter::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn user(id: i64, staff: bool) -> User {
        User {
            id,
            email: format!("u{id}@example.com"),
            email_lookup: format!("u{id}@example.com"),
            username: format!("u{id}"),
            first_name: String::new(),
            last_name: String::new(),
            password: String::new(),
            is_active: true,
            is_staff: staff,
            is_superuser: false,
            date_joined: NaiveDateTime::default(),
            last_login: None,
            activation_pending: false,
            email_verified: false,
        }
    }

    #[test]
    fn users_see_themselves_staff_and_operators_everyone() {
        assert!(Actor::User(user(1, false)).may_see(1));
        assert!(!Actor::User(user(1, false)).may_see(2));
        assert!(Actor::User(user(1, true)).may_see(2));
        assert!(Actor::Operator.may_see(2));
        assert!(!Actor::Anonymous.may_see(2));
        assert_eq!(Actor::User(user(1, false)).visible().unwrap().only, Some(1));
        assert_eq!(Actor::User(user(1, true)).visible().unwrap().only, None);
        assert!(Actor::Anonymous.visible().is_err());
    }
}
