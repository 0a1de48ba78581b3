//! Tokens: signing, lifetimes and rotation.

use std::path::PathBuf;

use super::declare::{Choice, Decl, Layer, Number, Parse, Text, settings_area};
use super::{
    DEFAULT_SECRET_FILE, Environment, JwtAlgorithm, MIN_SECRET_BYTES, RefreshRotation, Secret,
    Source,
};

const JWT_ALGORITHMS: &[(&str, JwtAlgorithm)] = &[
    ("HS256", JwtAlgorithm::Hs256),
    ("RS256", JwtAlgorithm::Rs256),
    ("ES256", JwtAlgorithm::Es256),
];

const ROTATIONS: &[(&str, RefreshRotation)] = &[
    ("forgiving", RefreshRotation::Forgiving),
    ("strict", RefreshRotation::Strict),
    ("off", RefreshRotation::Off),
];

settings_area! {
    /// What the tokens carry and how long they live.
    #[derive(Debug, Clone)]
    pub struct TokenSettings {
        /// The `iss` of every token minted, and the one every token must carry.
        jwt_issuer: String = Text::new("").default_doc("`public_url`");
        /// The `aud` of the API's tokens, and the one they must carry.
        jwt_audience: String = Text::new("").default_doc("`public_url`");
        /// Signing key, at least 32 bytes. In development a random one is generated on first
        /// start and kept in the secret file.
        secret_key: Secret = SecretKey::declaration();
        /// Where the key is read from when `LATCHKEY_SECRET_KEY` is not set. In production the
        /// file must already exist.
        secret_key_file: String = Text::new(DEFAULT_SECRET_FILE);
        /// How the API signs its access and refresh tokens: `HS256` (SimpleJWT's, with a key
        /// derived from `secret_key`), or `RS256`/`ES256` with the database's published keys,
        /// so other services can verify them from `/.well-known/jwks.json`. Bearer
        /// authentication accepts every kind whatever this says.
        jwt_algorithm: JwtAlgorithm = Choice::new(JWT_ALGORITHMS);
        /// Seconds a new signing key is published before it signs (`latchkey keys rotate`):
        /// clients that cache the key set see it before any token it signed.
        key_publish_delay: u64 = Number::seconds(|| 600, 0, 86_400);
        /// Rotate a signing key automatically once it has signed for this many seconds (for
        /// example 7776000, 90 days); 0 leaves rotation to `latchkey keys rotate`.
        key_rotate_after: u64 = Number::seconds(|| 0, 0, 315_360_000);
        /// Access-token lifetime in seconds (SimpleJWT: 5 minutes).
        access_token_lifetime: u64 = Number::seconds(|| 300, 1, 31_536_000);
        /// Refresh-token lifetime in seconds (SimpleJWT: 1 day); not shorter than the access
        /// lifetime.
        refresh_token_lifetime: u64 = Number::seconds(|| 86_400, 1, 31_536_000);
        /// `forgiving`, `strict` or `off`: how `jwt/refresh` treats refresh tokens (see
        /// "Rotation and reuse detection"). Replaces `rotate_refresh_tokens`, which is refused
        /// with a pointer here (`false` meant `off`).
        refresh_rotation: RefreshRotation = Choice::new(ROTATIONS);
        /// Seconds after a rotation during which the old refresh token returns the same new
        /// pair (tabs refreshing at once).
        rotation_grace: u64 = Number::seconds(|| 10, 0, 300);
        /// `/users/session/` re-issues the access token when it has fewer seconds than this
        /// left (or has expired).
        session_refresh_margin: u64 = Number::seconds(|| 60, 0, 86_400);
    }
}

impl TokenSettings {
    /// Rules between settings, and the replaced setting.
    pub(super) fn check(&mut self, layer: &mut Layer<'_>, public_url: &str) {
        for claim in [&mut self.jwt_issuer, &mut self.jwt_audience] {
            if claim.is_empty() {
                public_url.clone_into(claim);
            }
        }
        let (access, refresh) = (self.access_token_lifetime, self.refresh_token_lifetime);
        if refresh < access {
            layer.problem(format!(
                "LATCHKEY_REFRESH_TOKEN_LIFETIME ({refresh} s) must not be shorter than LATCHKEY_ACCESS_TOKEN_LIFETIME ({access} s)"
            ));
        }
        if layer.take_file("rotate_refresh_tokens").is_some()
            || layer.env("LATCHKEY_ROTATE_REFRESH_TOKENS").is_some()
        {
            layer.problem(
                "LATCHKEY_ROTATE_REFRESH_TOKENS (rotate_refresh_tokens) was replaced by LATCHKEY_REFRESH_ROTATION (refresh_rotation): forgiving (the default), strict, or off (what false meant)",
            );
        }
    }
}

/// The signing key: given outright, or read from (in development, generated into) a file.
struct SecretKey;

impl SecretKey {
    const fn declaration() -> Decl<Self> {
        Decl::new(Self)
    }
}

impl Parse for SecretKey {
    type Value = Secret;
    fn default(&self, _: Environment) -> Secret {
        Secret::new(String::new())
    }
    fn parse_env(&self, raw: &str) -> Result<Secret, String> {
        Ok(Secret::new(raw.to_owned()))
    }
    fn parse_file(&self, _: toml::Value) -> Result<Secret, String> {
        Err("a string".to_owned())
    }
    fn show(&self, value: &Secret) -> String {
        format!("******** ({} bytes)", value.expose().len())
    }
    fn default_doc(&self) -> String {
        "generated".to_owned()
    }
    fn load_custom(&self, layer: &mut Layer<'_>, key: &'static str) -> Option<Secret> {
        Some(resolve_secret(layer, key).unwrap_or_else(|| Secret::new(String::new())))
    }
}

/// The key from `LATCHKEY_SECRET_KEY` or the file's `secret_key`, else from the secret file
/// (generated on first start in development; required to exist in production).
fn resolve_secret(layer: &mut Layer<'_>, key: &'static str) -> Option<Secret> {
    const VAR: &str = "LATCHKEY_SECRET_KEY";
    let given = match layer.env(VAR) {
        Some(value) => Some((value.to_owned(), Source::Env(VAR.to_owned()))),
        None => match layer.take_file(key) {
            Some(toml::Value::String(value)) => Some((value, Source::File)),
            Some(_) => {
                layer.problem("secret_key must be a string");
                return None;
            }
            None => None,
        },
    };
    if let Some((value, source)) = given {
        layer.sources.push((key, source));
        return check_length(layer, value, VAR);
    }
    let named = layer
        .env("LATCHKEY_SECRET_KEY_FILE")
        .map(PathBuf::from)
        .or_else(|| match layer.peek_file("secret_key_file") {
            Some(toml::Value::String(path)) => Some(PathBuf::from(path)),
            _ => None,
        });
    let path = layer.ctx.dir.join(
        named
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SECRET_FILE)),
    );
    match (layer.environment, &named) {
        (Environment::Production, None) => {
            layer.problem(format!(
                "LATCHKEY_SECRET_KEY must be set (at least {MIN_SECRET_BYTES} bytes) when LATCHKEY_ENV=production"
            ));
            return None;
        }
        // In production a named secret file must already exist: generating one would hide a
        // missing mount and silently invalidate every token on the next deploy.
        (Environment::Production, Some(_)) if !path.exists() => {
            layer.problem(format!(
                "LATCHKEY_SECRET_KEY_FILE {} does not exist (required when LATCHKEY_ENV=production)",
                path.display()
            ));
            return None;
        }
        _ => {}
    }
    layer.sources.push((key, Source::SecretFile(path.clone())));
    match read_or_create_secret(&path) {
        Ok(value) => check_length(layer, value, "LATCHKEY_SECRET_KEY_FILE"),
        Err(e) => {
            layer.problem(format!("cannot use secret file {}: {e}", path.display()));
            None
        }
    }
}

fn check_length(layer: &mut Layer<'_>, value: String, name: &str) -> Option<Secret> {
    let value = value.trim().to_owned();
    if value.len() < MIN_SECRET_BYTES {
        layer.problem(format!(
            "{name} must be at least {MIN_SECRET_BYTES} bytes (got {})",
            value.len()
        ));
        return None;
    }
    Some(Secret::new(value))
}

fn read_or_create_secret(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Write;
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
