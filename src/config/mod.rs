//! Settings: one typed value, loaded once from defaults → `latchkey.toml` → environment.
//!
//! Each setting is declared once, in the file of its area (`server`, `database`, `tokens`,
//! `accounts`, `sessions`, `throttle`, `mail`, `cors`): name, environment
//! variable, type, default, checks, doc line. Loading, `latchkey check` and the README's table
//! ([`settings_table`], compared with the README by a test) all come from those declarations.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

mod accounts;
mod clients;
mod cors;
mod database;
mod declare;
mod django;
mod mail;
mod server;
mod sessions;
mod social;
mod throttle;
mod tokens;

pub use accounts::AccountSettings;
pub use clients::DeclaredClient;
pub use cors::CorsSettings;
pub use database::DatabaseSettings;
pub use declare::SettingDoc;
pub use django::DjangoSettings;
pub use mail::MailSettings;
pub use server::ServerSettings;
pub use sessions::SessionSettings;
pub use social::{GITHUB_ISSUER, GOOGLE_ISSUER, GitHubEndpoints, SocialKind, SocialProvider};
pub use throttle::ThrottleLimits;
pub use tokens::TokenSettings;

use declare::Layer;

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

/// How the JSON API signs its own access and refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a key derived from `secret_key` (SimpleJWT's default): only Latchkey
    /// can check these.
    Hs256,
    /// RSA (PKCS#1 v1.5, SHA-256) with the active key of the database's key set: anyone can
    /// check them against `/.well-known/jwks.json`.
    Rs256,
    /// ECDSA P-256 with SHA-256, likewise published.
    Es256,
}

impl JwtAlgorithm {
    /// The setting's word (the JOSE `alg` name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
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

/// Where a setting's value came from, shown by `latchkey check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built-in default.
    Default,
    /// The config file.
    File,
    /// An environment variable (its name).
    Env(String),
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

/// Every setting of the server, validated, by area.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mode, address, logs, request limits.
    pub server: ServerSettings,
    /// The database and its pool.
    pub database: DatabaseSettings,
    /// Signing, lifetimes, rotation.
    pub tokens: TokenSettings,
    /// Hashing, retype rules, listings.
    pub accounts: AccountSettings,
    /// Browser (and FastAPI-style) sessions.
    pub sessions: SessionSettings,
    /// Per-IP buckets and the per-account backoff.
    pub throttle: ThrottleLimits,
    /// Mail delivery and the flows that send it.
    pub mail: MailSettings,
    /// Other origins allowed to call the API.
    pub cors: CorsSettings,
    /// Django's keys during the switch from it.
    pub django: DjangoSettings,
    /// OpenID clients declared in the config file (`[[clients]]`), synchronised at start.
    pub clients: Vec<DeclaredClient>,
    /// Upstream identity providers for social login (`[social.<name>]`).
    pub social: Vec<SocialProvider>,
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

/// The deployment mode as given, read before anything else (other defaults depend on it); a
/// bad value is reported when the setting itself is loaded.
fn environment_given(ctx: &LoadContext, file: &toml::Table) -> Environment {
    let from_env = ctx.env.get("LATCHKEY_ENV").filter(|v| !v.is_empty());
    let word = match (from_env, file.get("env")) {
        (Some(word), _) => word.trim(),
        (None, Some(toml::Value::String(word))) => word.trim(),
        _ => "development",
    };
    if word == "production" {
        Environment::Production
    } else {
        Environment::Development
    }
}

impl Settings {
    /// Loads defaults → config file → environment (→ `--bind`), then validates everything,
    /// reporting every problem at once. In development a missing secret is generated once and
    /// kept in `latchkey.secret` (mode 0600) so restarts keep tokens valid.
    pub fn load(ctx: &LoadContext) -> Result<Self, ConfigError> {
        let (file, config_file) = read_config_file(ctx)?;
        let environment = environment_given(ctx, &file);
        let mut layer = Layer::new(ctx, file, environment);
        let mut server = ServerSettings::load(&mut layer);
        if let Some(flag) = &ctx.bind_flag {
            server.bind.clone_from(flag);
            layer.sources.retain(|(k, _)| *k != "bind");
            layer.sources.push(("bind", Source::Flag));
        }
        let database = DatabaseSettings::load(&mut layer);
        let mut tokens = TokenSettings::load(&mut layer);
        tokens.check(&mut layer, &server.public_url);
        let accounts = AccountSettings::load(&mut layer);
        let sessions = SessionSettings::load(&mut layer);
        sessions.check(&mut layer);
        let throttle = ThrottleLimits::load(&mut layer);
        let mut mail = MailSettings::load(&mut layer);
        mail.check(&mut layer);
        let cors = CorsSettings::load(&mut layer);
        let django = DjangoSettings::load(&mut layer);
        let clients = clients::load(&mut layer);
        let social = social::load(&mut layer);
        if let (Some(path), Some(key)) = (&config_file, layer.unknown_keys().first()) {
            layer.problem(format!(
                "config file {} is invalid: unknown field `{key}` (the settings table of the README lists every key)",
                path.display()
            ));
        }
        if !layer.problems.is_empty() {
            return Err(ConfigError {
                problems: layer.problems,
            });
        }
        Ok(Self {
            server,
            database,
            tokens,
            accounts,
            sessions,
            throttle,
            mail,
            cors,
            django,
            clients,
            social,
            config_file,
            sources: layer.sources,
        })
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
        let mut rows = Vec::new();
        self.server.describe(&mut rows);
        self.database.describe(&mut rows);
        self.tokens.describe(&mut rows);
        self.accounts.describe(&mut rows);
        self.sessions.describe(&mut rows);
        self.throttle.describe(&mut rows);
        self.mail.describe(&mut rows);
        self.cors.describe(&mut rows);
        self.django.describe(&mut rows);
        let mut lines = Vec::with_capacity(rows.len() + 1);
        lines.push(match &self.config_file {
            Some(path) => format!("config file: {}", path.display()),
            None => "config file: none".to_owned(),
        });
        for (key, value) in rows {
            lines.push(format!("{key:<36}= {value}  ({})", self.source_of(key)));
        }
        lines.extend(self.django.horizon());
        for p in &self.social {
            let endpoints = match &p.github {
                Some(e) => format!(
                    ", authorize {}, token {}, api {}",
                    e.authorize_url, e.token_url, e.api_url
                ),
                None => String::new(),
            };
            let auto_link = if p.auto_link { ", auto_link" } else { "" };
            lines.push(format!(
                "social {:<29}= {:?} ({}, issuer {}{endpoints}), client_id {}, secret ********{auto_link}",
                p.name,
                p.display_name,
                p.kind.as_str(),
                p.issuer,
                p.client_id
            ));
        }
        for client in &self.clients {
            let secret = match &client.secret_env {
                Some(var) => format!("secret from {var} (********)"),
                None => "public".to_owned(),
            };
            let party = if client.first_party {
                ", first-party"
            } else {
                ""
            };
            lines.push(format!(
                "client {:<29}= {:?}, {secret}{party}, {}, redirect {}  (config file)",
                client.client_id,
                client.name,
                client.id_token_alg,
                client.redirect_uris.join(" ")
            ));
        }
        lines
    }
}

/// Every declared setting, in the order `latchkey check` shows them.
pub fn declarations() -> Vec<SettingDoc> {
    let mut docs = Vec::new();
    ServerSettings::docs(&mut docs);
    DatabaseSettings::docs(&mut docs);
    TokenSettings::docs(&mut docs);
    AccountSettings::docs(&mut docs);
    SessionSettings::docs(&mut docs);
    ThrottleLimits::docs(&mut docs);
    MailSettings::docs(&mut docs);
    CorsSettings::docs(&mut docs);
    DjangoSettings::docs(&mut docs);
    docs
}

/// The README's settings table (Markdown), made from the declarations.
pub fn settings_table() -> String {
    let mut table = String::from(
        "| setting (`latchkey.toml` key) | environment variable | default | meaning |\n|---|---|---|---|\n",
    );
    for doc in declarations() {
        table.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            doc.key, doc.env, doc.default, doc.doc
        ));
    }
    table.push_str(
        "| `[social.<name>]` | `LATCHKEY_SOCIAL_<NAME>_CLIENT_ID`, `_CLIENT_SECRET`, `_ISSUER`, `_NAME`, `_KIND`, `_AUTO_LINK`, `_AUTHORIZE_URL`, `_TOKEN_URL`, `_API_URL` | none | An upstream identity provider for social login (see \"Social login\"): `kind` (`oidc`; `google`, whose issuer defaults to Google's; `github`, OAuth 2 with GitHub's endpoints unless `authorize_url`, `token_url`, `api_url` say otherwise), `name` (shown on the pages), `client_id`, `client_secret`, `issuer`, `auto_link` (default false: link a sign-in to the local account with the same address when both sides verified it, without asking for the password). The environment wins key by key. |\n",
    );
    table.push_str(
        "| `[[clients]]` | — | none | OpenID clients declared in the file (see \"OpenID provider\"): `client_id`, `name`, `redirect_uris`, `post_logout_redirect_uris`, `first_party`, `public`, `client_secret_env` (the environment variable holding the secret), `id_token_alg`. Created or updated at start. |\n",
    );
    table.push_str(
        "| — | `LATCHKEY_CONFIG` | `latchkey.toml` | Path of the config file. A named file must exist; unknown keys in it are errors. |\n",
    );
    table
}

fn read_config_file(ctx: &LoadContext) -> Result<(toml::Table, Option<PathBuf>), ConfigError> {
    let explicit = ctx.env.get("LATCHKEY_CONFIG").filter(|p| !p.is_empty());
    let path = match explicit {
        Some(p) => ctx.dir.join(p),
        None => ctx.dir.join(DEFAULT_CONFIG_FILE),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok((toml::Table::new(), None));
        }
        Err(e) => {
            return Err(ConfigError::one(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
    };
    let parsed: toml::Table = toml::from_str(&text).map_err(|e| {
        ConfigError::one(format!(
            "config file {} is invalid: {}",
            path.display(),
            e.message()
        ))
    })?;
    Ok((parsed, Some(path)))
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
        use declare::valid_origin;
        assert!(valid_origin("https://app.example.com"));
        assert!(valid_origin("http://localhost:3000"));
        assert!(!valid_origin("https://app.example.com/"));
        assert!(!valid_origin("app.example.com"));
        assert!(!valid_origin("ftp://x"));
    }

    #[test]
    fn every_setting_has_a_distinct_key_variable_and_a_doc_line() {
        let docs = declarations();
        let mut keys: Vec<&str> = docs.iter().map(|d| d.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), docs.len(), "duplicate keys");
        assert!(
            docs.iter()
                .all(|d| !d.doc.is_empty() && d.env.starts_with(['L', 'D']))
        );
    }
}
