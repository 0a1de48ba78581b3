//! Accounts: users, passwords and the use cases over them (register, authenticate, admin).

mod error;
pub mod flows;
mod models;
pub mod onetime;
pub mod ops;
mod password;
pub mod service;

pub use error::AccountsError;
pub use models::{NewUser, User};
pub use password::{HashError, HashLimits, Hasher, PasswordCheck};
