/// Mail could not be rendered or handed to the transport.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A template is missing or failed to render.
    #[error("mail template: {0}")]
    Template(String),
    /// The message could not be built (bad address, …).
    #[error("building the message: {0}")]
    Build(String),
    /// The transport refused or failed.
    #[error("sending: {0}")]
    Send(String),
    /// The transport is misconfigured.
    #[error("mail transport: {0}")]
    Config(String),
}
