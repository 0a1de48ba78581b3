//! OpenID clients declared in the config file, for deployments that keep configuration in
//! files: `[[clients]]` tables, each secret read from an environment variable it names.

use serde::Deserialize;

use super::Secret;
use super::declare::Layer;

/// The shortest secret a declared client may have (as long as a generated one's 256 bits).
const MIN_CLIENT_SECRET_BYTES: usize = 32;

/// A client as the config file declares it.
#[derive(Debug, Clone)]
pub struct DeclaredClient {
    /// The fixed public identifier.
    pub client_id: String,
    /// The name people see.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Trusted: no consent page.
    pub first_party: bool,
    /// `RS256` or `ES256`.
    pub id_token_alg: String,
    /// The secret of a confidential client (from the environment); `None` for a public one.
    pub secret: Option<Secret>,
    /// The environment variable the secret came from (shown by `latchkey check`).
    pub secret_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    client_id: String,
    name: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    first_party: bool,
    #[serde(default)]
    public: bool,
    client_secret_env: Option<String>,
    id_token_alg: Option<String>,
}

/// The `[[clients]]` of the config file, each problem reported through the layer.
pub(super) fn load(layer: &mut Layer<'_>) -> Vec<DeclaredClient> {
    let Some(value) = layer.take_file("clients") else {
        return Vec::new();
    };
    let Some(tables) = value.as_array().cloned() else {
        layer.problem("clients must be an array of tables ([[clients]] blocks)".to_owned());
        return Vec::new();
    };
    let mut clients: Vec<DeclaredClient> = Vec::new();
    for (index, table) in tables.into_iter().enumerate() {
        let raw = match Raw::deserialize(table) {
            Ok(raw) => raw,
            Err(e) => {
                layer.problem(format!("clients[{index}] is invalid: {e}"));
                continue;
            }
        };
        match check(layer, raw) {
            Ok(client) if clients.iter().any(|c| c.client_id == client.client_id) => {
                layer.problem(format!(
                    "clients[{index}]: client_id {:?} is declared twice",
                    client.client_id
                ));
            }
            Ok(client) => clients.push(client),
            Err(problem) => layer.problem(format!("clients[{index}]: {problem}")),
        }
    }
    clients
}

fn check(layer: &Layer<'_>, raw: Raw) -> Result<DeclaredClient, String> {
    let id_ok = !raw.client_id.is_empty()
        && raw.client_id.len() <= 64
        && raw
            .client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !id_ok {
        return Err(format!(
            "client_id {:?} must be 1 to 64 letters, digits, '-', '.' or '_'",
            raw.client_id
        ));
    }
    if raw.name.trim().is_empty() {
        return Err("name must not be empty".to_owned());
    }
    if raw.redirect_uris.is_empty() {
        return Err("redirect_uris must list at least one URI".to_owned());
    }
    let id_token_alg = raw.id_token_alg.unwrap_or_else(|| "RS256".to_owned());
    if !matches!(id_token_alg.as_str(), "RS256" | "ES256") {
        return Err(format!(
            "id_token_alg must be RS256 or ES256 (got {id_token_alg:?})"
        ));
    }
    let secret = match (raw.public, &raw.client_secret_env) {
        (true, None) => None,
        (true, Some(_)) => {
            return Err("a public client has no secret: remove client_secret_env".to_owned());
        }
        (false, None) => {
            return Err(
                "set client_secret_env (the environment variable holding its secret), or public = true"
                    .to_owned(),
            );
        }
        (false, Some(var)) => match layer.env(var) {
            Some(secret) if secret.len() >= MIN_CLIENT_SECRET_BYTES => {
                Some(Secret::new(secret.to_owned()))
            }
            Some(_) => {
                return Err(format!(
                    "the secret in {var} must be at least {MIN_CLIENT_SECRET_BYTES} characters"
                ));
            }
            None => {
                return Err(format!(
                    "the environment variable {var} (client_secret_env) is not set"
                ));
            }
        },
    };
    Ok(DeclaredClient {
        client_id: raw.client_id,
        name: raw.name.trim().to_owned(),
        redirect_uris: raw.redirect_uris,
        post_logout_redirect_uris: raw.post_logout_redirect_uris,
        first_party: raw.first_party,
        id_token_alg,
        secret,
        secret_env: raw.client_secret_env,
    })
}
