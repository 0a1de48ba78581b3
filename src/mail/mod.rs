//! Mail: templated messages, a durable outbox written with the state change, a worker that
//! delivers with retries, and the console, file and SMTP transports.

pub mod cooldown;
mod error;
pub mod outbox;
mod templates;
mod transport;
mod worker;

pub use error::MailError;
pub use templates::{MailKind, MailTemplates, RenderedMail};
pub use transport::Mailer;
pub use worker::{Delivery, deliver_due, run_outbox_worker};
