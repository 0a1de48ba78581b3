//! Upstream identity providers for social login: `[social.<name>]` tables in the config file
//! and `LATCHKEY_SOCIAL_<NAME>_*` variables (the environment wins, key by key).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Secret;
use super::declare::Layer;

/// Google's issuer, the `google` kind's default.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// How Latchkey talks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialKind {
    /// Any OpenID Connect provider, found by discovery from its issuer.
    Oidc,
    /// OpenID Connect with Google's issuer unless another is given.
    Google,
}

impl SocialKind {
    /// The configured word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Google => "google",
        }
    }
}

/// One configured provider.
#[derive(Debug, Clone)]
pub struct SocialProvider {
    /// Its id in URLs (`/api/social/login/<name>/`): lower-case letters, digits, `-`, `_`.
    pub name: String,
    /// How it is spoken to.
    pub kind: SocialKind,
    /// What the pages call it ("Continue with <display_name>").
    pub display_name: String,
    /// The client id Latchkey (and the front end) has at the provider.
    pub client_id: String,
    /// The client's secret there.
    pub client_secret: Secret,
    /// The issuer, whose discovery document names the rest.
    pub issuer: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    kind: Option<String>,
    name: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    issuer: Option<String>,
}

/// The configured providers, by name; each problem reported through the layer.
pub(super) fn load(layer: &mut Layer<'_>) -> Vec<SocialProvider> {
    let mut raws: BTreeMap<String, Raw> = BTreeMap::new();
    if let Some(value) = layer.take_file("social") {
        let Some(table) = value.as_table().cloned() else {
            layer.problem("social must be a table of providers ([social.<name>])".to_owned());
            return Vec::new();
        };
        for (name, value) in table {
            match Raw::deserialize(value) {
                Ok(raw) => {
                    raws.insert(name, raw);
                }
                Err(e) => layer.problem(format!("social.{name} is invalid: {e}")),
            }
        }
    }
    // LATCHKEY_SOCIAL_<NAME>_CLIENT_ID names a provider the file may not have.
    let from_env: Vec<String> = layer
        .ctx
        .env
        .keys()
        .filter_map(|k| {
            k.strip_prefix("LATCHKEY_SOCIAL_")?
                .strip_suffix("_CLIENT_ID")
        })
        .map(|name| name.to_ascii_lowercase())
        .collect();
    for name in from_env {
        raws.entry(name).or_default();
    }
    let mut providers = Vec::new();
    for (name, raw) in raws {
        match check(layer, &name, raw) {
            Ok(provider) => providers.push(provider),
            Err(problem) => layer.problem(format!("social.{name}: {problem}")),
        }
    }
    providers
}

fn check(layer: &Layer<'_>, name: &str, raw: Raw) -> Result<SocialProvider, String> {
    let name_ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !name_ok {
        return Err("the name must be 1 to 32 lower-case letters, digits, '-' or '_'".to_owned());
    }
    let env = |key: &str| {
        let var = format!(
            "LATCHKEY_SOCIAL_{}_{key}",
            name.to_ascii_uppercase().replace('-', "_")
        );
        layer.env(&var).map(str::to_owned)
    };
    let kind_word = env("KIND")
        .or(raw.kind)
        .unwrap_or_else(|| if name == "google" { "google" } else { "oidc" }.to_owned());
    let kind = match kind_word.as_str() {
        "oidc" => SocialKind::Oidc,
        "google" => SocialKind::Google,
        other => return Err(format!("kind must be oidc or google (got {other:?})")),
    };
    let client_id = env("CLIENT_ID")
        .or(raw.client_id)
        .ok_or("client_id is required")?;
    let client_secret = env("CLIENT_SECRET")
        .or(raw.client_secret)
        .ok_or("client_secret is required (LATCHKEY_SOCIAL_<NAME>_CLIENT_SECRET)")?;
    let issuer = env("ISSUER").or(raw.issuer);
    let issuer = match (kind, issuer) {
        (_, Some(issuer)) => issuer,
        (SocialKind::Google, None) => GOOGLE_ISSUER.to_owned(),
        (SocialKind::Oidc, None) => {
            return Err("issuer is required for an oidc provider".to_owned());
        }
    };
    let issuer_ok = url::Url::parse(&issuer)
        .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.fragment().is_none());
    if !issuer_ok {
        return Err(format!("issuer {issuer:?} must be an http(s) URL"));
    }
    let display_name = env("NAME").or(raw.name).unwrap_or_else(|| {
        let mut chars = name.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    });
    Ok(SocialProvider {
        name: name.to_owned(),
        kind,
        display_name,
        client_id,
        client_secret: Secret::new(client_secret),
        issuer: issuer.trim_end_matches('/').to_owned(),
    })
}
