//! Upstream identity providers for social login: `[social.<name>]` tables in the config file
//! and `LATCHKEY_SOCIAL_<NAME>_*` variables (the environment wins, key by key).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Secret;
use super::declare::Layer;

/// Google's issuer, the `google` kind's default.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// What GitHub identities are keyed under (GitHub speaks OAuth 2 only and names no issuer).
pub const GITHUB_ISSUER: &str = "https://github.com";

/// How Latchkey talks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialKind {
    /// Any OpenID Connect provider, found by discovery from its issuer.
    Oidc,
    /// OpenID Connect with Google's issuer unless another is given.
    Google,
    /// GitHub: OAuth 2 without OpenID Connect; who the person is comes from its REST API.
    GitHub,
}

impl SocialKind {
    /// The configured word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Google => "google",
            Self::GitHub => "github",
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
    /// The issuer, whose discovery document names the rest (GitHub's identities are keyed
    /// under [`GITHUB_ISSUER`]).
    pub issuer: String,
    /// Whether a sign-in whose address the provider verified may link, without the account's
    /// password, to the local account with that address (only if the account verified it too).
    pub auto_link: bool,
    /// GitHub's endpoints (overridable for tests and GitHub Enterprise); `None` for OpenID
    /// providers, whose discovery names theirs.
    pub github: Option<GitHubEndpoints>,
}

/// Where GitHub's OAuth 2 and REST endpoints are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubEndpoints {
    /// The authorization page (`https://github.com/login/oauth/authorize`).
    pub authorize_url: String,
    /// The code exchange (`https://github.com/login/oauth/access_token`).
    pub token_url: String,
    /// The REST API root (`https://api.github.com`): `/user`, `/user/emails`,
    /// `/applications/{client_id}/token`.
    pub api_url: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    kind: Option<String>,
    name: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    issuer: Option<String>,
    auto_link: Option<bool>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    api_url: Option<String>,
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
    let kind_word = env("KIND").or(raw.kind).unwrap_or_else(|| {
        match name {
            "google" | "github" => name,
            _ => "oidc",
        }
        .to_owned()
    });
    let kind = match kind_word.as_str() {
        "oidc" => SocialKind::Oidc,
        "google" => SocialKind::Google,
        "github" => SocialKind::GitHub,
        other => {
            return Err(format!(
                "kind must be oidc, google or github (got {other:?})"
            ));
        }
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
        (SocialKind::GitHub, None) => GITHUB_ISSUER.to_owned(),
        (SocialKind::Oidc, None) => {
            return Err("issuer is required for an oidc provider".to_owned());
        }
    };
    http_url("issuer", &issuer)?;
    let auto_link = match env("AUTO_LINK") {
        Some(word) => match word.as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => return Err(format!("auto_link must be true or false (got {other:?})")),
        },
        None => raw.auto_link.unwrap_or(false),
    };
    let authorize_url = env("AUTHORIZE_URL").or(raw.authorize_url);
    let token_url = env("TOKEN_URL").or(raw.token_url);
    let api_url = env("API_URL").or(raw.api_url);
    let github = match kind {
        SocialKind::GitHub => {
            let endpoint = |key: &str, given: Option<String>, default: &str| {
                let url = given.unwrap_or_else(|| default.to_owned());
                http_url(key, &url).map(|()| url)
            };
            Some(GitHubEndpoints {
                authorize_url: endpoint(
                    "authorize_url",
                    authorize_url,
                    "https://github.com/login/oauth/authorize",
                )?,
                token_url: endpoint(
                    "token_url",
                    token_url,
                    "https://github.com/login/oauth/access_token",
                )?,
                api_url: endpoint("api_url", api_url, "https://api.github.com")?
                    .trim_end_matches('/')
                    .to_owned(),
            })
        }
        _ if authorize_url.is_some() || token_url.is_some() || api_url.is_some() => {
            return Err(
                "authorize_url, token_url and api_url are for kind github (OpenID providers are found by discovery)"
                    .to_owned(),
            );
        }
        _ => None,
    };
    let display_name = env("NAME").or(raw.name).unwrap_or_else(|| match kind {
        SocialKind::GitHub => "GitHub".to_owned(),
        _ => {
            let mut chars = name.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    });
    Ok(SocialProvider {
        name: name.to_owned(),
        kind,
        display_name,
        client_id,
        client_secret: Secret::new(client_secret),
        issuer: issuer.trim_end_matches('/').to_owned(),
        auto_link,
        github,
    })
}

/// `Ok` when `value` is an http(s) URL without a fragment.
fn http_url(key: &str, value: &str) -> Result<(), String> {
    let ok = url::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.fragment().is_none());
    if ok {
        Ok(())
    } else {
        Err(format!("{key} {value:?} must be an http(s) URL"))
    }
}
