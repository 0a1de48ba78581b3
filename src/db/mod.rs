//! The one path to the database: a pool over SQLite or PostgreSQL, picked from the URL.

mod conn;
mod error;
mod migrations;
mod pool;
pub mod schema;
mod transaction;

pub use conn::DbConn;
pub use error::DbError;
pub use migrations::run_pending_migrations;
pub use pool::{Backend, Db, DbManager};
pub use transaction::write_transaction;
