use crate::db::DbError;

/// What stops an import (a refused user is not an error: the summary lists it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The Django database or dumpdata file cannot be read.
    #[error("cannot read the Django data: {0}")]
    Source(String),
    /// An option is not usable (a column name that is not an identifier, say).
    #[error("{0}")]
    Option(String),
    /// Latchkey's database failed; batches before this one are kept (each is one transaction),
    /// this one changed nothing, and a new run goes on from where it stands.
    #[error("stopped after {done} of {total} users: {cause}")]
    Stopped {
        /// Users whose batches committed.
        done: usize,
        /// Users in the import.
        total: usize,
        /// The database's error.
        cause: DbError,
    },
}
