//! Sessions: one row per login (a browser cookie or a refresh-token family), listed and ended
//! by their owner, ended together when the password or address changes. Below accounts and
//! tokens: it knows user ids, never users.

mod error;
mod models;
pub mod ops;
pub mod service;

pub use error::SessionError;
pub use models::{RefreshToken, Session, SessionKind};
