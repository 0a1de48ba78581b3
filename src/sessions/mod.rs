//! Sessions: one row per login (a browser cookie or a refresh-token family), listed and ended
//! by their owner, ended together when the password or address changes. Below accounts and
//! tokens: it knows user ids, never users.

mod error;
mod models;
pub mod ops;
pub mod service;

pub use error::SessionError;
pub use models::{Opening, RefreshToken, Session, SessionKind};

use crate::clock::Clock;
use crate::config::SessionSettings;
use crate::db::Db;

/// What the session use cases need: the database, the clock and the session lifetimes.
#[derive(Debug, Clone)]
pub struct SessionContext {
    /// The database pool.
    pub db: Db,
    /// Source of "now".
    pub clock: Clock,
    /// Idle timeout and absolute lifetime.
    pub lifetimes: SessionSettings,
}
