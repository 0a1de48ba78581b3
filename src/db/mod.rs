//! The one path to the database: a pool over SQLite or PostgreSQL, picked from the URL.

mod conn;
mod error;
mod migrations;
mod pool;
pub mod schema;
mod transaction;

pub use conn::DbConn;
/// The backend type of queries built for [`DbConn`] (boxed queries name it).
pub type DbBackend = conn::MultiBackend;
pub use error::{DbError, is_connection_lost};
pub use migrations::{ISSUER_CLAIMS_MIGRATION, applied_at, run_pending_migrations};
pub use pool::{Backend, Db, DbManager};
pub use transaction::write_transaction;
