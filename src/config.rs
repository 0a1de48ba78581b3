//! Settings: one typed value, loaded once from defaults → `latchkey.toml` → environment.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::throttle::ThrottleLimits;

/// Shortest secret accepted: HS256 wants at least 256 bits of key.
pub const MIN_SECRET_BYTES: usize = 32;
/// Config file read when present (or the path in `LATCHKEY_CONFIG`, which must exist).
pub const DEFAULT_CONFIG_FILE: &str = "latchkey.toml";
/// Where a development secret is generated and kept.
pub const DEFAULT_SECRET_FILE: &str = "latchkey.secret";
/// The embedded default database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://latchkey.sqlite3";
/// The default log filter. actix's HTTP/1 dispatcher logs every malformed request it refuses
/// (bad header, bad request line) at ERROR, though the client already got its 400: that is a
/// client's fault, not something to look at, so it is silenced unless asked for.
pub const DEFAULT_LOG: &str = "info,actix_http::h1::dispatcher=off";
/// Where the server is reached in development (the default bind address).
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8000";

/// Deployment mode: development has working defaults, production demands explicit secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local use; a secret is generated on first start.
    Development,
    /// Refuses to start without explicit secrets.
    Production,
}

/// What `jwt/refresh` does with the refresh token it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRotation {
    /// Rotate, with reuse detection that forgives one case: the parent of a session's newest
    /// token presented again while that newest token was never used (front ends that never
    /// store the rotated token).
    Forgiving,
    /// Rotate; any rotated token presented after the grace window revokes the session.
    Strict,
    /// No rotation: the refresh token stays valid until it expires or is blacklisted.
    Off,
}

impl RefreshRotation {
    /// The setting's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forgiving => "forgiving",
            Self::Strict => "strict",
            Self::Off => "off",
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A secret that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret's bytes, for keying.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// How mail leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTransport {
    /// The whole message printed to stdout (development).
    Console,
    /// One `.eml` file per message in a directory.
    File,
    /// An SMTP server (`LATCHKEY_SMTP_URL`).
    Smtp,
}

/// Mail settings and the switches of the flows that send mail (Djoser's names).
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Console, file or SMTP.
    pub transport: EmailTransport,
    /// Directory of the file transport.
    pub file_dir: PathBuf,
    /// `smtp://user:pass@host:587` (STARTTLS), `smtps://…` (implicit TLS) or plain `smtp://host:port`.
    pub smtp_url: Option<Secret>,
    /// The sender.
    pub default_from_email: String,
    /// `site_name` in mail.
    pub site_name: String,
    /// `domain` in mail links (never taken from a request's Host header).
    pub frontend_domain: String,
    /// `protocol` in mail links.
    pub frontend_protocol: String,
    /// Front-end path template with `{uid}` and `{token}`; `None` links to Latchkey's own page.
    pub password_reset_confirm_url: Option<String>,
    /// Front-end path template with `{uid}` and `{token}`; `None` links to Latchkey's own page.
    pub activation_url: Option<String>,
    /// Front-end path template with `{uid}` and `{token}` for confirming a new address; `None`
    /// links to Latchkey's own page.
    pub email_change_confirm_url: Option<String>,
    /// New users start inactive and get an activation mail.
    pub send_activation_email: bool,
    /// "Account created" mail after registration (activation off) or activation.
    pub send_confirmation_email: bool,
    /// "Your password was changed" mail after set_password and reset.
    pub password_changed_email_confirmation: bool,
    /// "Your email was changed" mail (to the old address).
    pub email_changed_email_confirmation: bool,
    /// Registration with a taken address answers as for a new one and mails the owner instead.
    pub prevent_enumeration: bool,
    /// Reset-link lifetime in seconds.
    pub password_reset_timeout: u64,
    /// Activation-link lifetime in seconds.
    pub activation_timeout: u64,
    /// Lifetime of the link that confirms a new address, in seconds.
    pub email_change_timeout: u64,
    /// Seconds a delivered message is kept (bodies blanked) before `flushexpiredtokens` deletes it.
    pub sent_mail_retention: u64,
    /// Seconds between two reset (or activation) mails to one address.
    pub mail_cooldown: u64,
    /// Directory whose `email/<name>/…` templates override the built-in ones.
    pub template_dir: Option<PathBuf>,
    /// How often the outbox worker looks for due mail, in milliseconds.
    pub outbox_poll_ms: u64,
}

/// Where a setting's value came from, shown by `latchkey check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built-in default.
    Default,
    /// The config file.
    File,
    /// An environment variable (its name).
    Env(&'static str),
    /// A command-line flag.
    Flag,
    /// Read from, or generated into, a secret file.
    SecretFile(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File => f.write_str("config file"),
            Self::Env(name) => write!(f, "env {name}"),
            Self::Flag => f.write_str("command line"),
            Self::SecretFile(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Every setting of the server, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Development or production.
    pub environment: Environment,
    /// `sqlite://path`, a plain path, or `postgres://…`.
    pub database_url: String,
    /// Connections kept by the pool.
    pub db_pool_size: u32,
    /// How long a request waits for a pooled connection before answering 503, in milliseconds.
    pub db_pool_timeout_ms: u64,
    /// `host:port` to listen on.
    pub bind: String,
    /// The public base URL of this server (no trailing slash): the default `iss` and `aud`.
    pub public_url: String,
    /// The `iss` claim of every token Latchkey mints, and the one it requires.
    pub jwt_issuer: String,
    /// The `aud` claim of the JSON API's tokens, and the one it requires.
    pub jwt_audience: String,
    /// Signing and cookie key material.
    pub secret_key: Secret,
    /// Access-token lifetime in seconds.
    pub access_token_lifetime: u64,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_lifetime: u64,
    /// Password hashes allowed to run at once.
    pub hash_workers: usize,
    /// Hashes allowed to wait for a worker overall; beyond it requests get 503.
    pub hash_queue_limit: usize,
    /// Hashes one account (or unknown identifier) may have running or waiting; beyond it 429.
    pub hash_queue_per_account: usize,
    /// tracing filter directives.
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a client may take to send a request body before it gets 408.
    pub body_read_timeout: u64,
    /// How `jwt/refresh` treats the refresh token: forgiving rotation, strict rotation, or none.
    pub refresh_rotation: RefreshRotation,
    /// Seconds after a rotation during which the old refresh token returns the same new pair.
    pub rotation_grace: u64,
    /// Whether registration requires `re_password` (Djoser's USER_CREATE_PASSWORD_RETYPE).
    pub user_create_password_retype: bool,
    /// Whether set_password requires `re_new_password` (Djoser's SET_PASSWORD_RETYPE).
    pub set_password_retype: bool,
    /// Whether reset_password_confirm requires `re_new_password` (PASSWORD_RESET_CONFIRM_RETYPE).
    pub password_reset_confirm_retype: bool,
    /// `/users/session/` re-issues the access token when it has less than this many seconds left.
    pub session_refresh_margin: u64,
    /// Page size of `GET /auth/users/?page=N`.
    pub users_page_size: u32,
    /// Origins allowed to call the API from a browser (exact `scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    /// Login and per-IP throttling limits.
    pub throttle: ThrottleLimits,
    /// Header carrying the client address set by a trusted reverse proxy (lower-case), if any.
    pub trusted_proxy_header: Option<String>,
    /// Mail delivery and the flows that send mail.
    pub mail: MailSettings,
    /// Browser sessions: `Secure` cookies with the `__Host-` prefix (production default).
    pub secure_cookies: bool,
    /// A browser session ends after this many seconds without a request (Django: 2 weeks).
    pub session_idle_timeout: u64,
    /// A browser session ends this many seconds after login, however active.
    pub session_absolute_lifetime: u64,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Where each setting came from, by name.
    pub sources: Vec<(&'static str, Source)>,
}

/// Why the settings are unusable: one line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ConfigError {
    /// Each problem as one clear sentence naming the setting.
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: impl Into<String>) -> Self {
        Self {
            problems: vec![problem.into()],
        }
    }
}

/// Values as written in `latchkey.toml`; unknown keys are refused so typos are caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    env: Option<String>,
    database_url: Option<String>,
    db_pool_size: Option<u32>,
    db_pool_timeout_ms: Option<u64>,
    bind: Option<String>,
    public_url: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    secret_key: Option<String>,
    secret_key_file: Option<PathBuf>,
    access_token_lifetime: Option<u64>,
    refresh_token_lifetime: Option<u64>,
    hash_workers: Option<usize>,
    hash_queue_limit: Option<usize>,
    hash_queue_per_account: Option<usize>,
    log: Option<String>,
    log_format: Option<String>,
    max_body_bytes: Option<usize>,
    body_read_timeout: Option<u64>,
    refresh_rotation: Option<String>,
    /// Replaced by `refresh_rotation`; read only to say so.
    rotate_refresh_tokens: Option<bool>,
    rotation_grace: Option<u64>,
    user_create_password_retype: Option<bool>,
    set_password_retype: Option<bool>,
    password_reset_confirm_retype: Option<bool>,
    session_refresh_margin: Option<u64>,
    users_page_size: Option<u32>,
    cors_origins: Option<Vec<String>>,
    throttle_enabled: Option<bool>,
    throttle_ip_burst: Option<u32>,
    throttle_ip_per_minute: Option<u32>,
    throttle_free_failures: Option<u32>,
    throttle_max_delay: Option<u64>,
    throttle_lock_after: Option<u32>,
    trusted_proxy_header: Option<String>,
    email_transport: Option<String>,
    email_file_dir: Option<PathBuf>,
    smtp_url: Option<String>,
    default_from_email: Option<String>,
    site_name: Option<String>,
    frontend_domain: Option<String>,
    frontend_protocol: Option<String>,
    password_reset_confirm_url: Option<String>,
    activation_url: Option<String>,
    email_change_confirm_url: Option<String>,
    send_activation_email: Option<bool>,
    send_confirmation_email: Option<bool>,
    password_changed_email_confirmation: Option<bool>,
    email_changed_email_confirmation: Option<bool>,
    prevent_enumeration: Option<bool>,
    password_reset_timeout: Option<u64>,
    activation_timeout: Option<u64>,
    email_change_timeout: Option<u64>,
    sent_mail_retention: Option<u64>,
    mail_cooldown: Option<u64>,
    email_template_dir: Option<PathBuf>,
    outbox_poll_ms: Option<u64>,
    secure_cookies: Option<bool>,
    session_idle_timeout: Option<u64>,
    session_absolute_lifetime: Option<u64>,
}

/// Inputs to [`Settings::load`]: the environment and the directory to resolve files against.
#[derive(Debug, Clone)]
pub struct LoadContext {
    /// Environment variables (the process's, or a test's own map).
    pub env: HashMap<String, String>,
    /// Directory holding `latchkey.toml` and the generated secret.
    pub dir: PathBuf,
    /// `serve --bind`, which wins over everything.
    pub bind_flag: Option<String>,
}

impl LoadContext {
    /// The process environment and working directory.
    pub fn from_process() -> Self {
        Self {
            env: std::env::vars().collect(),
            dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            bind_flag: None,
        }
    }
}

/// Collects one setting's value from file then env, recording the source.
struct Layer<'a> {
    ctx: &'a LoadContext,
    sources: Vec<(&'static str, Source)>,
    problems: Vec<String>,
}

impl Layer<'_> {
    fn env(&self, name: &str) -> Option<&str> {
        self.ctx
            .env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn string(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<String>,
        default: &str,
    ) -> String {
        if let Some(value) = self.env(var) {
            let value = value.to_owned();
            self.sources.push((key, Source::Env(var)));
            value
        } else if let Some(value) = file {
            self.sources.push((key, Source::File));
            value
        } else {
            self.sources.push((key, Source::Default));
            default.to_owned()
        }
    }

    /// A yes/no setting: `true/false`, `1/0`, `yes/no` or `on/off` in the environment.
    fn flag(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<bool>,
        default: bool,
    ) -> bool {
        let (value, source) = match self.env(var) {
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => (true, Source::Env(var)),
                "false" | "0" | "no" | "off" => (false, Source::Env(var)),
                _ => {
                    self.problems
                        .push(format!("{var} must be true or false (got {raw:?})"));
                    (default, Source::Env(var))
                }
            },
            None => match file {
                Some(v) => (v, Source::File),
                None => (default, Source::Default),
            },
        };
        self.sources.push((key, source));
        value
    }

    /// A list of browser origins (`scheme://host[:port]`), comma-separated in the environment.
    fn origins(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<Vec<String>>,
    ) -> Vec<String> {
        let (list, source) = match self.env(var) {
            Some(raw) => (
                raw.split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
                Source::Env(var),
            ),
            None => match file {
                Some(list) => (list, Source::File),
                None => (Vec::new(), Source::Default),
            },
        };
        for origin in &list {
            if !valid_origin(origin) {
                self.problems.push(format!(
                    "{var} entries must be origins like https://app.example.com, with no path or trailing slash (got {origin:?})"
                ));
            }
        }
        self.sources.push((key, source));
        list
    }

    /// One of a fixed set of words; the first option is the default.
    fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<String>,
        default: (&'static str, T),
        others: &[(&'static str, T)],
    ) -> T {
        let (default_word, default) = default;
        let options: Vec<(&str, T)> = std::iter::once((default_word, default))
            .chain(others.iter().copied())
            .collect();
        let raw = self.string(key, var, file, default_word);
        let word = raw.trim();
        if let Some((_, value)) = options.iter().find(|(name, _)| *name == word) {
            return *value;
        }
        let names: Vec<String> = options
            .iter()
            .map(|(name, _)| format!("{name:?}"))
            .collect();
        let allowed = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        };
        self.problems
            .push(format!("{var} must be {allowed} (got {word:?})"));
        default
    }

    fn number<T>(
        &mut self,
        key: &'static str,
        var: &'static str,
        file: Option<T>,
        default: T,
        range: (T, T),
    ) -> T
    where
        T: std::str::FromStr + PartialOrd + Copy + fmt::Display,
    {
        let (value, source) = if let Some(raw) = self.env(var) {
            match raw.trim().parse::<T>() {
                Ok(v) => (v, Source::Env(var)),
                Err(_) => {
                    self.problems.push(format!(
                        "{var} must be a whole number from {} to {} (got {raw:?})",
                        range.0, range.1
                    ));
                    (default, Source::Env(var))
                }
            }
        } else if let Some(v) = file {
            (v, Source::File)
        } else {
            (default, Source::Default)
        };
        if value < range.0 || value > range.1 {
            let name = match &source {
                Source::File => key.to_owned(),
                _ => var.to_owned(),
            };
            self.problems.push(format!(
                "{name} must be from {} to {} (got {value})",
                range.0, range.1
            ));
        }
        self.sources.push((key, source));
        value
    }
}

impl Settings {
    /// Loads defaults → config file → environment (→ `--bind`), then validates everything,
    /// reporting every problem at once. In development a missing secret is generated once and
    /// kept in `latchkey.secret` (mode 0600) so restarts keep tokens valid.
    pub fn load(ctx: &LoadContext) -> Result<Self, ConfigError> {
        let (mut file, config_file) = read_config_file(ctx)?;
        let mut layer = Layer {
            ctx,
            sources: Vec::new(),
            problems: Vec::new(),
        };

        let environment = layer.choice(
            "env",
            "LATCHKEY_ENV",
            file.env.take(),
            ("development", Environment::Development),
            &[("production", Environment::Production)],
        );
        let database_url = layer.string(
            "database_url",
            "DATABASE_URL",
            file.database_url.take(),
            DEFAULT_DATABASE_URL,
        );
        let db_pool_size = layer.number(
            "db_pool_size",
            "LATCHKEY_DB_POOL_SIZE",
            file.db_pool_size.take(),
            10,
            (1, 512),
        );
        let db_pool_timeout_ms = layer.number(
            "db_pool_timeout_ms",
            "LATCHKEY_DB_POOL_TIMEOUT_MS",
            file.db_pool_timeout_ms.take(),
            1000,
            (50, 60_000),
        );
        let mut bind = layer.string("bind", "LATCHKEY_BIND", file.bind.take(), "127.0.0.1:8000");
        if let Some(flag) = &ctx.bind_flag {
            bind.clone_from(flag);
            layer.sources.retain(|(k, _)| *k != "bind");
            layer.sources.push(("bind", Source::Flag));
        }
        if !valid_bind(&bind) {
            layer.problems.push(format!(
                "LATCHKEY_BIND must be host:port, for example 127.0.0.1:8000 (got {bind:?})"
            ));
        }
        let public_url = layer.string(
            "public_url",
            "LATCHKEY_PUBLIC_URL",
            file.public_url.take(),
            DEFAULT_PUBLIC_URL,
        );
        if !valid_public_url(&public_url) {
            layer.problems.push(format!(
                "LATCHKEY_PUBLIC_URL must be an http(s) URL with no trailing slash, query or fragment, like https://auth.example.com (got {public_url:?})"
            ));
        }
        if environment == Environment::Production
            && layer
                .sources
                .last()
                .is_some_and(|(_, source)| *source == Source::Default)
        {
            layer.problems.push(
                "LATCHKEY_PUBLIC_URL must be set when LATCHKEY_ENV=production (tokens name it as their issuer)"
                    .to_owned(),
            );
        }
        let jwt_issuer = layer.string(
            "jwt_issuer",
            "LATCHKEY_JWT_ISSUER",
            file.jwt_issuer.take(),
            &public_url,
        );
        let jwt_audience = layer.string(
            "jwt_audience",
            "LATCHKEY_JWT_AUDIENCE",
            file.jwt_audience.take(),
            &public_url,
        );
        let access_token_lifetime = layer.number(
            "access_token_lifetime",
            "LATCHKEY_ACCESS_TOKEN_LIFETIME",
            file.access_token_lifetime.take(),
            300,
            (1, 31_536_000),
        );
        let refresh_token_lifetime = layer.number(
            "refresh_token_lifetime",
            "LATCHKEY_REFRESH_TOKEN_LIFETIME",
            file.refresh_token_lifetime.take(),
            86_400,
            (1, 31_536_000),
        );
        if refresh_token_lifetime < access_token_lifetime {
            layer.problems.push(format!(
                "LATCHKEY_REFRESH_TOKEN_LIFETIME ({refresh_token_lifetime} s) must not be shorter than LATCHKEY_ACCESS_TOKEN_LIFETIME ({access_token_lifetime} s)"
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let hash_workers = layer.number(
            "hash_workers",
            "LATCHKEY_HASH_WORKERS",
            file.hash_workers.take(),
            cores,
            (1, 1024),
        );
        let hash_queue_limit = layer.number(
            "hash_queue_limit",
            "LATCHKEY_HASH_QUEUE_LIMIT",
            file.hash_queue_limit.take(),
            64,
            (1, 1_000_000),
        );
        let hash_queue_per_account = layer.number(
            "hash_queue_per_account",
            "LATCHKEY_HASH_QUEUE_PER_ACCOUNT",
            file.hash_queue_per_account.take(),
            2,
            (1, 1000),
        );
        let log = layer.string("log", "LATCHKEY_LOG", file.log.take(), DEFAULT_LOG);
        let log_format = layer.choice(
            "log_format",
            "LATCHKEY_LOG_FORMAT",
            file.log_format.take(),
            ("text", LogFormat::Text),
            &[("json", LogFormat::Json)],
        );
        let max_body_bytes = layer.number(
            "max_body_bytes",
            "LATCHKEY_MAX_BODY_BYTES",
            file.max_body_bytes.take(),
            64 * 1024,
            (1024, 64 * 1024 * 1024),
        );
        let body_read_timeout = layer.number(
            "body_read_timeout",
            "LATCHKEY_BODY_READ_TIMEOUT",
            file.body_read_timeout.take(),
            10,
            (1, 3600),
        );

        let refresh_rotation = layer.choice(
            "refresh_rotation",
            "LATCHKEY_REFRESH_ROTATION",
            file.refresh_rotation.take(),
            ("forgiving", RefreshRotation::Forgiving),
            &[
                ("strict", RefreshRotation::Strict),
                ("off", RefreshRotation::Off),
            ],
        );
        if file.rotate_refresh_tokens.take().is_some()
            || layer.env("LATCHKEY_ROTATE_REFRESH_TOKENS").is_some()
        {
            layer.problems.push(
                "LATCHKEY_ROTATE_REFRESH_TOKENS (rotate_refresh_tokens) was replaced by LATCHKEY_REFRESH_ROTATION (refresh_rotation): forgiving (the default), strict, or off (what false meant)"
                    .to_owned(),
            );
        }
        let rotation_grace = layer.number(
            "rotation_grace",
            "LATCHKEY_ROTATION_GRACE",
            file.rotation_grace.take(),
            10,
            (0, 300),
        );
        let user_create_password_retype = layer.flag(
            "user_create_password_retype",
            "LATCHKEY_USER_CREATE_PASSWORD_RETYPE",
            file.user_create_password_retype.take(),
            false,
        );
        let set_password_retype = layer.flag(
            "set_password_retype",
            "LATCHKEY_SET_PASSWORD_RETYPE",
            file.set_password_retype.take(),
            false,
        );
        let password_reset_confirm_retype = layer.flag(
            "password_reset_confirm_retype",
            "LATCHKEY_PASSWORD_RESET_CONFIRM_RETYPE",
            file.password_reset_confirm_retype.take(),
            false,
        );
        let session_refresh_margin = layer.number(
            "session_refresh_margin",
            "LATCHKEY_SESSION_REFRESH_MARGIN",
            file.session_refresh_margin.take(),
            60,
            (0, 86_400),
        );
        let users_page_size = layer.number(
            "users_page_size",
            "LATCHKEY_USERS_PAGE_SIZE",
            file.users_page_size.take(),
            100,
            (1, 1000),
        );
        let cors_origins = layer.origins(
            "cors_origins",
            "LATCHKEY_CORS_ORIGINS",
            file.cors_origins.take(),
        );
        let throttle = ThrottleLimits {
            enabled: layer.flag(
                "throttle_enabled",
                "LATCHKEY_THROTTLE_ENABLED",
                file.throttle_enabled.take(),
                true,
            ),
            ip_burst: layer.number(
                "throttle_ip_burst",
                "LATCHKEY_THROTTLE_IP_BURST",
                file.throttle_ip_burst.take(),
                20,
                (1, 1_000_000),
            ),
            ip_per_minute: layer.number(
                "throttle_ip_per_minute",
                "LATCHKEY_THROTTLE_IP_PER_MINUTE",
                file.throttle_ip_per_minute.take(),
                30,
                (1, 1_000_000),
            ),
            free_failures: layer.number(
                "throttle_free_failures",
                "LATCHKEY_THROTTLE_FREE_FAILURES",
                file.throttle_free_failures.take(),
                5,
                (1, 1000),
            ),
            max_delay: layer.number(
                "throttle_max_delay",
                "LATCHKEY_THROTTLE_MAX_DELAY",
                file.throttle_max_delay.take(),
                900,
                (1, 86_400),
            ),
            lock_after: layer.number(
                "throttle_lock_after",
                "LATCHKEY_THROTTLE_LOCK_AFTER",
                file.throttle_lock_after.take(),
                100,
                (2, 1_000_000),
            ),
        };
        let trusted_proxy_header = Some(layer.string(
            "trusted_proxy_header",
            "LATCHKEY_TRUSTED_PROXY_HEADER",
            file.trusted_proxy_header.take(),
            "",
        ))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty());
        if let Some(h) = &trusted_proxy_header
            && actix_web::http::header::HeaderName::from_bytes(h.as_bytes()).is_err()
        {
            layer.problems.push(format!(
                "LATCHKEY_TRUSTED_PROXY_HEADER is not a valid header name (got {h:?})"
            ));
        }

        let mail = load_mail(&mut layer, &mut file, environment);
        let secure_cookies = layer.flag(
            "secure_cookies",
            "LATCHKEY_SECURE_COOKIES",
            file.secure_cookies.take(),
            environment == Environment::Production,
        );
        if environment == Environment::Production && !secure_cookies {
            layer.problems.push(
                "LATCHKEY_SECURE_COOKIES must be true when LATCHKEY_ENV=production".to_owned(),
            );
        }
        let session_idle_timeout = layer.number(
            "session_idle_timeout",
            "LATCHKEY_SESSION_IDLE_TIMEOUT",
            file.session_idle_timeout.take(),
            1_209_600,
            (60, 31_536_000),
        );
        let session_absolute_lifetime = layer.number(
            "session_absolute_lifetime",
            "LATCHKEY_SESSION_ABSOLUTE_LIFETIME",
            file.session_absolute_lifetime.take(),
            2_592_000,
            (60, 31_536_000),
        );
        let secret = resolve_secret(
            &mut layer,
            file.secret_key,
            file.secret_key_file,
            environment,
        );
        let Layer {
            sources, problems, ..
        } = layer;
        match secret {
            Some(secret_key) if problems.is_empty() => Ok(Self {
                environment,
                database_url,
                db_pool_size,
                db_pool_timeout_ms,
                bind,
                public_url,
                jwt_issuer,
                jwt_audience,
                secret_key,
                access_token_lifetime,
                refresh_token_lifetime,
                hash_workers,
                hash_queue_limit,
                hash_queue_per_account,
                log,
                log_format,
                max_body_bytes,
                body_read_timeout,
                refresh_rotation,
                rotation_grace,
                user_create_password_retype,
                set_password_retype,
                password_reset_confirm_retype,
                session_refresh_margin,
                users_page_size,
                cors_origins,
                throttle,
                trusted_proxy_header,
                mail,
                secure_cookies,
                session_idle_timeout,
                session_absolute_lifetime,
                config_file,
                sources,
            }),
            _ => Err(ConfigError { problems }),
        }
    }

    /// The source of a setting, by its config-file key.
    pub fn source_of(&self, key: &str) -> Source {
        self.sources
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Source::Default, |(_, s)| s.clone())
    }

    /// The effective configuration as `key = value  (source)` lines, secrets masked.
    pub fn describe(&self) -> Vec<String> {
        let env = match self.environment {
            Environment::Development => "development",
            Environment::Production => "production",
        };
        let log_format = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        let rows: Vec<(&str, String)> = vec![
            ("env", env.to_owned()),
            ("database_url", mask_url_password(&self.database_url)),
            ("db_pool_size", self.db_pool_size.to_string()),
            ("db_pool_timeout_ms", self.db_pool_timeout_ms.to_string()),
            ("bind", self.bind.clone()),
            ("public_url", self.public_url.clone()),
            ("jwt_issuer", self.jwt_issuer.clone()),
            ("jwt_audience", self.jwt_audience.clone()),
            (
                "secret_key",
                format!("******** ({} bytes)", self.secret_key.expose().len()),
            ),
            (
                "access_token_lifetime",
                format!("{} s", self.access_token_lifetime),
            ),
            (
                "refresh_token_lifetime",
                format!("{} s", self.refresh_token_lifetime),
            ),
            ("hash_workers", self.hash_workers.to_string()),
            ("hash_queue_limit", self.hash_queue_limit.to_string()),
            (
                "hash_queue_per_account",
                self.hash_queue_per_account.to_string(),
            ),
            ("log", self.log.clone()),
            ("log_format", log_format.to_owned()),
            ("max_body_bytes", self.max_body_bytes.to_string()),
            ("body_read_timeout", format!("{} s", self.body_read_timeout)),
            (
                "refresh_rotation",
                self.refresh_rotation.as_str().to_owned(),
            ),
            ("rotation_grace", format!("{} s", self.rotation_grace)),
            (
                "user_create_password_retype",
                self.user_create_password_retype.to_string(),
            ),
            ("set_password_retype", self.set_password_retype.to_string()),
            (
                "password_reset_confirm_retype",
                self.password_reset_confirm_retype.to_string(),
            ),
            (
                "session_refresh_margin",
                format!("{} s", self.session_refresh_margin),
            ),
            ("users_page_size", self.users_page_size.to_string()),
            ("cors_origins", self.cors_origins.join(",")),
            ("throttle_enabled", self.throttle.enabled.to_string()),
            ("throttle_ip_burst", self.throttle.ip_burst.to_string()),
            (
                "throttle_ip_per_minute",
                self.throttle.ip_per_minute.to_string(),
            ),
            (
                "throttle_free_failures",
                self.throttle.free_failures.to_string(),
            ),
            (
                "throttle_max_delay",
                format!("{} s", self.throttle.max_delay),
            ),
            ("throttle_lock_after", self.throttle.lock_after.to_string()),
            (
                "trusted_proxy_header",
                self.trusted_proxy_header
                    .clone()
                    .unwrap_or_else(|| "(none: socket address)".into()),
            ),
        ];
        let mail = &self.mail;
        let transport = match mail.transport {
            EmailTransport::Console => "console",
            EmailTransport::File => "file",
            EmailTransport::Smtp => "smtp",
        };
        let optional =
            |v: &Option<String>| v.clone().unwrap_or_else(|| "(Latchkey's own page)".into());
        let mut rows = rows;
        rows.extend([
            ("email_transport", transport.to_owned()),
            ("email_file_dir", mail.file_dir.display().to_string()),
            (
                "smtp_url",
                mail.smtp_url
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), |u| mask_url_password(u.expose())),
            ),
            ("default_from_email", mail.default_from_email.clone()),
            ("site_name", mail.site_name.clone()),
            ("frontend_domain", mail.frontend_domain.clone()),
            ("frontend_protocol", mail.frontend_protocol.clone()),
            (
                "password_reset_confirm_url",
                optional(&mail.password_reset_confirm_url),
            ),
            ("activation_url", optional(&mail.activation_url)),
            (
                "email_change_confirm_url",
                optional(&mail.email_change_confirm_url),
            ),
            (
                "send_activation_email",
                mail.send_activation_email.to_string(),
            ),
            (
                "send_confirmation_email",
                mail.send_confirmation_email.to_string(),
            ),
            (
                "password_changed_email_confirmation",
                mail.password_changed_email_confirmation.to_string(),
            ),
            (
                "email_changed_email_confirmation",
                mail.email_changed_email_confirmation.to_string(),
            ),
            ("prevent_enumeration", mail.prevent_enumeration.to_string()),
            (
                "password_reset_timeout",
                format!("{} s", mail.password_reset_timeout),
            ),
            (
                "activation_timeout",
                format!("{} s", mail.activation_timeout),
            ),
            (
                "email_change_timeout",
                format!("{} s", mail.email_change_timeout),
            ),
            (
                "sent_mail_retention",
                format!("{} s", mail.sent_mail_retention),
            ),
            ("mail_cooldown", format!("{} s", mail.mail_cooldown)),
            (
                "email_template_dir",
                mail.template_dir
                    .as_ref()
                    .map_or_else(|| "(built-in)".to_owned(), |d| d.display().to_string()),
            ),
            ("outbox_poll_ms", mail.outbox_poll_ms.to_string()),
            ("secure_cookies", self.secure_cookies.to_string()),
            (
                "session_idle_timeout",
                format!("{} s", self.session_idle_timeout),
            ),
            (
                "session_absolute_lifetime",
                format!("{} s", self.session_absolute_lifetime),
            ),
        ]);
        let mut lines = Vec::with_capacity(rows.len() + 1);
        lines.push(match &self.config_file {
            Some(path) => format!("config file: {}", path.display()),
            None => "config file: none".to_owned(),
        });
        for (key, value) in rows {
            lines.push(format!("{key:<36}= {value}  ({})", self.source_of(key)));
        }
        lines
    }
}

/// The mail settings (taking their values out of the file settings).
fn load_mail(
    layer: &mut Layer<'_>,
    file: &mut FileSettings,
    environment: Environment,
) -> MailSettings {
    let transport = layer.choice(
        "email_transport",
        "LATCHKEY_EMAIL_TRANSPORT",
        file.email_transport.take(),
        ("console", EmailTransport::Console),
        &[
            ("file", EmailTransport::File),
            ("smtp", EmailTransport::Smtp),
        ],
    );
    let file_dir = layer.string(
        "email_file_dir",
        "LATCHKEY_EMAIL_FILE_DIR",
        file.email_file_dir.take().map(|p| p.display().to_string()),
        "sent-mail",
    );
    let smtp_url = Some(layer.string("smtp_url", "LATCHKEY_SMTP_URL", file.smtp_url.take(), ""))
        .filter(|u| !u.is_empty());
    if transport == EmailTransport::Smtp {
        match &smtp_url {
            None => layer.problems.push(
                "LATCHKEY_SMTP_URL must be set when LATCHKEY_EMAIL_TRANSPORT=smtp".to_owned(),
            ),
            Some(url) if !(url.starts_with("smtp://") || url.starts_with("smtps://")) => {
                layer.problems.push(format!(
                    "LATCHKEY_SMTP_URL must start with smtp:// or smtps:// (got {:?})",
                    mask_url_password(url)
                ));
            }
            Some(_) => {}
        }
    }
    if environment == Environment::Production && transport == EmailTransport::Console {
        layer.problems.push(
            "LATCHKEY_EMAIL_TRANSPORT must be smtp or file when LATCHKEY_ENV=production".to_owned(),
        );
    }
    let default_from_email = layer.string(
        "default_from_email",
        "LATCHKEY_DEFAULT_FROM_EMAIL",
        file.default_from_email.take(),
        "webmaster@localhost",
    );
    if default_from_email
        .parse::<lettre::message::Mailbox>()
        .is_err()
    {
        layer.problems.push(format!(
            "LATCHKEY_DEFAULT_FROM_EMAIL must be an address like \"Latchkey <no-reply@example.com>\" (got {default_from_email:?})"
        ));
    }
    let site_name = layer.string(
        "site_name",
        "LATCHKEY_SITE_NAME",
        file.site_name.take(),
        "Latchkey",
    );
    let frontend_domain = layer.string(
        "frontend_domain",
        "LATCHKEY_FRONTEND_DOMAIN",
        file.frontend_domain.take(),
        "localhost:8000",
    );
    if environment == Environment::Production
        && layer
            .sources
            .last()
            .is_some_and(|(_, source)| *source == Source::Default)
    {
        layer.problems.push(
            "LATCHKEY_FRONTEND_DOMAIN must be set when LATCHKEY_ENV=production (mail links use it)"
                .to_owned(),
        );
    }
    let default_protocol = match environment {
        Environment::Development => "http",
        Environment::Production => "https",
    };
    let frontend_protocol = layer.choice(
        "frontend_protocol",
        "LATCHKEY_FRONTEND_PROTOCOL",
        file.frontend_protocol.take(),
        (default_protocol, default_protocol),
        &[("http", "http"), ("https", "https")],
    );
    let url_template =
        |layer: &mut Layer<'_>, key: &'static str, var: &'static str, value: Option<String>| {
            let url = Some(layer.string(key, var, value, "")).filter(|u| !u.is_empty());
            if let Some(u) = &url
                && (!u.contains("{uid}") || !u.contains("{token}"))
            {
                layer.problems.push(format!(
                    "{var} must contain {{uid}} and {{token}} (got {u:?})"
                ));
            }
            url.map(|u| u.trim_start_matches('/').to_owned())
        };
    let password_reset_confirm_url = url_template(
        layer,
        "password_reset_confirm_url",
        "LATCHKEY_PASSWORD_RESET_CONFIRM_URL",
        file.password_reset_confirm_url.take(),
    );
    let activation_url = url_template(
        layer,
        "activation_url",
        "LATCHKEY_ACTIVATION_URL",
        file.activation_url.take(),
    );
    let email_change_confirm_url = url_template(
        layer,
        "email_change_confirm_url",
        "LATCHKEY_EMAIL_CHANGE_CONFIRM_URL",
        file.email_change_confirm_url.take(),
    );
    MailSettings {
        transport,
        file_dir: layer.ctx.dir.join(file_dir),
        smtp_url: smtp_url.map(Secret::new),
        default_from_email,
        site_name,
        frontend_domain,
        frontend_protocol: frontend_protocol.to_owned(),
        password_reset_confirm_url,
        activation_url,
        email_change_confirm_url,
        send_activation_email: layer.flag(
            "send_activation_email",
            "LATCHKEY_SEND_ACTIVATION_EMAIL",
            file.send_activation_email.take(),
            false,
        ),
        send_confirmation_email: layer.flag(
            "send_confirmation_email",
            "LATCHKEY_SEND_CONFIRMATION_EMAIL",
            file.send_confirmation_email.take(),
            false,
        ),
        password_changed_email_confirmation: layer.flag(
            "password_changed_email_confirmation",
            "LATCHKEY_PASSWORD_CHANGED_EMAIL_CONFIRMATION",
            file.password_changed_email_confirmation.take(),
            true,
        ),
        email_changed_email_confirmation: layer.flag(
            "email_changed_email_confirmation",
            "LATCHKEY_EMAIL_CHANGED_EMAIL_CONFIRMATION",
            file.email_changed_email_confirmation.take(),
            true,
        ),
        prevent_enumeration: layer.flag(
            "prevent_enumeration",
            "LATCHKEY_PREVENT_ENUMERATION",
            file.prevent_enumeration.take(),
            false,
        ),
        password_reset_timeout: layer.number(
            "password_reset_timeout",
            "LATCHKEY_PASSWORD_RESET_TIMEOUT",
            file.password_reset_timeout.take(),
            3600,
            (60, 31_536_000),
        ),
        activation_timeout: layer.number(
            "activation_timeout",
            "LATCHKEY_ACTIVATION_TIMEOUT",
            file.activation_timeout.take(),
            259_200,
            (60, 31_536_000),
        ),
        email_change_timeout: layer.number(
            "email_change_timeout",
            "LATCHKEY_EMAIL_CHANGE_TIMEOUT",
            file.email_change_timeout.take(),
            86_400,
            (60, 31_536_000),
        ),
        sent_mail_retention: layer.number(
            "sent_mail_retention",
            "LATCHKEY_SENT_MAIL_RETENTION",
            file.sent_mail_retention.take(),
            604_800,
            (0, 31_536_000),
        ),
        mail_cooldown: layer.number(
            "mail_cooldown",
            "LATCHKEY_MAIL_COOLDOWN",
            file.mail_cooldown.take(),
            60,
            (0, 86_400),
        ),
        template_dir: Some(
            layer.string(
                "email_template_dir",
                "LATCHKEY_EMAIL_TEMPLATE_DIR",
                file.email_template_dir
                    .take()
                    .map(|p| p.display().to_string()),
                "",
            ),
        )
        .filter(|d| !d.is_empty())
        .map(|d| layer.ctx.dir.join(d)),
        outbox_poll_ms: layer.number(
            "outbox_poll_ms",
            "LATCHKEY_OUTBOX_POLL_MS",
            file.outbox_poll_ms.take(),
            1000,
            (10, 3_600_000),
        ),
    }
}

fn read_config_file(ctx: &LoadContext) -> Result<(FileSettings, Option<PathBuf>), ConfigError> {
    let explicit = ctx.env.get("LATCHKEY_CONFIG").filter(|p| !p.is_empty());
    let path = match explicit {
        Some(p) => ctx.dir.join(p),
        None => ctx.dir.join(DEFAULT_CONFIG_FILE),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok((FileSettings::default(), None));
        }
        Err(e) => {
            return Err(ConfigError::one(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
    };
    let parsed: FileSettings = toml::from_str(&text).map_err(|e| {
        ConfigError::one(format!(
            "config file {} is invalid: {}",
            path.display(),
            e.message()
        ))
    })?;
    Ok((parsed, Some(path)))
}

fn resolve_secret(
    layer: &mut Layer<'_>,
    file_secret: Option<String>,
    file_secret_path: Option<PathBuf>,
    environment: Environment,
) -> Option<Secret> {
    let explicit = if let Some(value) = layer.env("LATCHKEY_SECRET_KEY") {
        Some((value.to_owned(), Source::Env("LATCHKEY_SECRET_KEY")))
    } else {
        file_secret.map(|value| (value, Source::File))
    };
    if let Some((value, source)) = explicit {
        layer.sources.push(("secret_key", source));
        return check_secret_length(layer, value, "LATCHKEY_SECRET_KEY");
    }
    let path_given = layer
        .env("LATCHKEY_SECRET_KEY_FILE")
        .map(PathBuf::from)
        .or(file_secret_path);
    let path = layer.ctx.dir.join(
        path_given
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SECRET_FILE)),
    );
    match (environment, &path_given) {
        (Environment::Production, None) => {
            layer.problems.push(format!(
                "LATCHKEY_SECRET_KEY must be set (at least {MIN_SECRET_BYTES} bytes) when LATCHKEY_ENV=production"
            ));
            return None;
        }
        // In production a named secret file must already exist: generating one would hide a
        // missing mount and silently invalidate every token on the next deploy.
        (Environment::Production, Some(_)) if !path.exists() => {
            layer.problems.push(format!(
                "LATCHKEY_SECRET_KEY_FILE {} does not exist (required when LATCHKEY_ENV=production)",
                path.display()
            ));
            return None;
        }
        _ => {}
    }
    layer
        .sources
        .push(("secret_key", Source::SecretFile(path.clone())));
    match read_or_create_secret(&path) {
        Ok(value) => check_secret_length(layer, value, "LATCHKEY_SECRET_KEY_FILE"),
        Err(e) => {
            layer
                .problems
                .push(format!("cannot use secret file {}: {e}", path.display()));
            None
        }
    }
}

fn check_secret_length(layer: &mut Layer<'_>, value: String, name: &str) -> Option<Secret> {
    let value = value.trim().to_owned();
    if value.len() < MIN_SECRET_BYTES {
        layer.problems.push(format!(
            "{name} must be at least {MIN_SECRET_BYTES} bytes (got {})",
            value.len()
        ));
        return None;
    }
    Some(Secret::new(value))
}

fn read_or_create_secret(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(value) => return Ok(value),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(value.as_bytes())?;
            file.write_all(b"\n")?;
            Ok(value)
        }
        // Another process created it first: use theirs so both agree.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path),
        Err(e) => Err(e),
    }
}

fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains(['/', '?', '#', ' '])
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

fn valid_bind(bind: &str) -> bool {
    match bind.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}

/// Hides the password part of `scheme://user:password@host/...`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_database_passwords() {
        assert_eq!(
            mask_url_password("postgres://u:hunter2@db:5432/x"),
            "postgres://u:********@db:5432/x"
        );
        assert_eq!(mask_url_password("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(mask_url_password("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert!(valid_origin("https://app.example.com"));
        assert!(valid_origin("http://localhost:3000"));
        assert!(!valid_origin("https://app.example.com/"));
        assert!(!valid_origin("app.example.com"));
        assert!(!valid_origin("ftp://x"));
    }

    #[test]
    fn bind_needs_host_and_port() {
        assert!(valid_bind("127.0.0.1:8000"));
        assert!(valid_bind("[::1]:0"));
        assert!(!valid_bind("8000"));
        assert!(!valid_bind("localhost:http"));
    }
}
