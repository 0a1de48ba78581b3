//! Moving from Django without logging anyone out: the importer that copies Django's users
//! (ids, usernames, addresses, names, flags, dates and password hashes as they are) from its
//! database or `manage.py dumpdata`, idempotently, batch by batch. Sits on accounts; Django's
//! password formats themselves are read by [`crate::accounts::Hasher`].

mod error;
mod import;
mod source;

pub use error::ImportError;
pub use import::{
    DuplicateEmails, ImportOptions, Outcome, Progress, Summary, import_blacklist, import_users,
};
pub use source::{BlacklistedToken, DjangoUser, Source, read_blacklist, read_users};
