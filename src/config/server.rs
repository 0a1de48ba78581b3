//! Where and how the server runs.

use super::declare::{Choice, Number, OptionalText, Text, settings_area};
use super::{DEFAULT_LOG, DEFAULT_PUBLIC_URL, Environment, LogFormat};

const ENVIRONMENTS: &[(&str, Environment)] = &[
    ("development", Environment::Development),
    ("production", Environment::Production),
];
const LOG_FORMATS: &[(&str, LogFormat)] = &[("text", LogFormat::Text), ("json", LogFormat::Json)];

settings_area! {
    /// The process: mode, address, logs and request limits.
    #[derive(Debug, Clone)]
    pub struct ServerSettings {
        /// `development` or `production`. Production refuses to start without an explicit
        /// secret and never generates one.
        env: Environment = Choice::new(ENVIRONMENTS);
        /// `host:port` to listen on; `latchkey serve --bind` overrides it.
        bind: String = Text::new("127.0.0.1:8000")
            .check(|b| valid_bind(b), "must be host:port, for example 127.0.0.1:8000");
        /// Where clients reach this server (no trailing slash): the default issuer and audience
        /// of its tokens. Required in production.
        public_url: String = Text::new(DEFAULT_PUBLIC_URL)
            .check(
                |u| valid_public_url(u),
                "must be an http(s) URL with no trailing slash, query or fragment, like https://auth.example.com",
            )
            .required_in_production("tokens name it as their issuer");
        /// Log filter, `tracing` syntax (for example `info,latchkey=debug`). The default
        /// silences actix's HTTP/1 dispatcher, which logs every malformed request it refuses
        /// at ERROR although the client got its `400`.
        log: String = Text::new(DEFAULT_LOG);
        /// `text` or `json` (one object per line). Logs go to stderr.
        log_format: LogFormat = Choice::new(LOG_FORMATS);
        /// Largest request body; larger ones get 413.
        max_body_bytes: usize = Number::new(|| 64 * 1024, 1024, 64 * 1024 * 1024);
        /// Seconds a client may take to send a request body; a slower one gets `408` (headers
        /// have actix's own 5 s limit).
        body_read_timeout: u64 = Number::seconds(|| 10, 1, 3600);
        /// Header a trusted reverse proxy puts the client address in (`x-forwarded-for`: its
        /// right-most entry; `x-real-ip`). Without it the socket address is used. Set it only
        /// behind a proxy that overwrites the header.
        trusted_proxy_header: Option<String> = OptionalText::new("(none: socket address)")
            .check(|h| h.as_deref().is_none_or(valid_header_name), "is not a valid header name");
    }
}

/// `host:port`, the port a number.
pub fn valid_bind(bind: &str) -> bool {
    match bind.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

fn valid_public_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !url.ends_with('/')
        && !rest.contains(['?', '#', ' '])
}

/// An HTTP field name: one or more `tchar`s (RFC 9110, section 5.6.2).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_needs_host_and_port() {
        assert!(valid_bind("127.0.0.1:8000"));
        assert!(valid_bind("[::1]:0"));
        assert!(!valid_bind("8000"));
        assert!(!valid_bind("localhost:http"));
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(valid_header_name("x-forwarded-for"));
        assert!(valid_header_name("X-Real-IP"));
        assert!(!valid_header_name("x forwarded"));
        assert!(!valid_header_name("x:y"));
    }
}
