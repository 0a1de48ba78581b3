/// Who is asking: recorded with sessions and audit events. Empty for the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMeta {
    /// The peer address (or the one a trusted proxy reported).
    pub ip: Option<String>,
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
}
