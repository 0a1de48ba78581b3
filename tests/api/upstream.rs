//! A real, certified OpenID provider standing in for Google in the social-login tests: panva's
//! oidc-provider on Node (`tests/oidc-provider`, installed from npm with its lock file by
//! `.ci/run`: `npm ci --prefix tests/oidc-provider`), on a loopback port of its own.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{base64url, location, missing_tool};

/// A running provider.
pub struct Upstream {
    /// Its issuer (`http://127.0.0.1:<port>`).
    pub issuer: String,
    _child: Child,
}

/// What a sign-in at the provider gave the client.
#[derive(Debug, Clone)]
pub struct UpstreamTokens {
    pub access_token: String,
    pub id_token: String,
    pub nonce: String,
}

/// Starts the provider with these clients (oidc-provider client metadata) and accounts (sub,
/// which is also the login name, -> claims); `None` (loudly, or a failure under CI=true) when Node or the package is
/// missing.
pub async fn start_upstream(clients: &Value, accounts: &Value) -> Option<Upstream> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc-provider");
    let installed = std::path::Path::new(dir).join("node_modules/oidc-provider/package.json");
    let node = Command::new("node").arg("--version").output().await;
    if node.is_err() || !installed.exists() {
        missing_tool(
            "node or tests/oidc-provider/node_modules is missing (npm ci --prefix tests/oidc-provider)",
        );
        return None;
    }
    let mut child = Command::new("node")
        .arg("server.js")
        .current_dir(dir)
        .env("OP_CLIENTS", clients.to_string())
        .env("OP_ACCOUNTS", accounts.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the oidc-provider");
    let stdout = child.stdout.take().expect("its stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("read its output") {
            if let Some(port) = line.strip_prefix("listening ") {
                return port.trim().to_owned();
            }
        }
        panic!("oidc-provider exited without listening");
    })
    .await
    .expect("oidc-provider listens within 20 s");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some(Upstream {
        issuer: format!("http://127.0.0.1:{port}"),
        _child: child,
    })
}

impl Upstream {
    /// The authorization code flow as a browser and the client's back end would run it: the
    /// provider's login form (as the account `login`, its sub) and consent form, then the code exchanged with
    /// client_secret_basic and PKCE.
    pub async fn sign_in(&self, client: (&str, &str, &str), login: &str) -> UpstreamTokens {
        let (client_id, secret, redirect_uri) = client;
        let (code, verifier, nonce) = self.code_for((client_id, redirect_uri), login).await;
        let tokens: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        UpstreamTokens {
            access_token: tokens["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            id_token: tokens["id_token"].as_str().expect("id_token").to_owned(),
            nonce,
        }
    }

    /// The browser's half: an authorization code for `login` (with PKCE), its verifier and
    /// the nonce sent.
    pub async fn code_for(
        &self,
        (client_id, redirect_uri): (&str, &str),
        login: &str,
    ) -> (String, String, String) {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let verifier = crate::helpers::random_hex(32);
        let challenge = {
            use sha2::Digest;
            base64url(&sha2::Sha256::digest(verifier.as_bytes()))
        };
        let nonce = crate::helpers::random_hex(8);
        let query = serde_urlencoded::to_string([
            ("client_id", client_id),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("redirect_uri", redirect_uri),
            ("state", "st"),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        let start = format!("{}/auth?{query}", self.issuer);
        let back = self.browse(&browser, &start, login, redirect_uri).await;
        let url = url::Url::parse(&back).unwrap();
        let code = url.query_pairs().find(|(k, _)| k == "code");
        (code.expect("a code").1.into_owned(), verifier, nonce)
    }

    /// A browser (`client`, keeping cookies, not following redirects) at the provider from
    /// `start`: it logs in as `login`, consents, and stops at the first redirect to
    /// `redirect_uri`, which it returns.
    pub async fn browse(
        &self,
        client: &reqwest::Client,
        start: &str,
        login: &str,
        redirect_uri: &str,
    ) -> String {
        let mut response = client.get(start).send().await.unwrap();
        loop {
            let to = location(&response);
            if to.starts_with(redirect_uri) {
                return to;
            }
            response = if to.is_empty() {
                self.submit_form(client, response, login).await
            } else {
                let url = if to.starts_with('/') {
                    format!("{}{to}", self.issuer)
                } else {
                    to
                };
                client.get(url).send().await.unwrap()
            };
        }
    }

    /// Posts the page's form: the login form with `login`, or the consent form as it is.
    async fn submit_form(
        &self,
        browser: &reqwest::Client,
        page: reqwest::Response,
        login: &str,
    ) -> reqwest::Response {
        let status = page.status();
        let html = page.text().await.unwrap();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("a form in the provider's page ({status}): {html}"));
        // The hidden inputs (oidc-provider's `prompt`), then the login form's own fields.
        let mut fields: Vec<(String, String)> = html
            .split("<input type=\"hidden\"")
            .skip(1)
            .filter_map(|rest| {
                let name = rest.split("name=\"").nth(1)?.split('"').next()?;
                let value = rest.split("value=\"").nth(1)?.split('"').next()?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        if html.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any".into()));
        }
        let action = if action.starts_with('/') {
            format!("{}{action}", self.issuer)
        } else {
            action.to_owned()
        };
        browser.post(action).form(&fields).send().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_provider_signs_a_person_in() {
    let clients = serde_json::json!([{
        "client_id": "latchkey",
        "client_secret": "s3cret-s3cret-s3cret-s3cret-s3cret",
        "redirect_uris": ["http://127.0.0.1:9/cb"],
    }]);
    let accounts = serde_json::json!({"g-123": {"email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace"}});
    let Some(op) = start_upstream(&clients, &accounts).await else {
        return;
    };
    let client = (
        "latchkey",
        "s3cret-s3cret-s3cret-s3cret-s3cret",
        "http://127.0.0.1:9/cb",
    );
    let tokens = op.sign_in(client, "g-123").await;
    let claims = crate::helpers::claims(&tokens.id_token);
    assert_eq!(claims["sub"], "g-123");
    assert_eq!(claims["aud"], "latchkey");
    assert_eq!(claims["iss"], op.issuer.as_str());
    assert_eq!(
        claims["email"], "ada@example.com",
        "profile claims in the ID token: {claims}"
    );
    assert_eq!(claims["nonce"], tokens.nonce.as_str());
    // Its userinfo answers the access token with the same sub.
    let info: Value = reqwest::Client::new()
        .get(format!("{}/me", op.issuer))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], "g-123");
}
