//! A local stand-in for GitHub's OAuth 2 and REST endpoints, in the shapes GitHub documents
//! (`docs.github.com`: "Authorizing OAuth apps", "REST API endpoints for users" and "for OAuth
//! authorizations / Check a token"). GitHub itself cannot be reached from the test machine;
//! this is the one test double of the social-login suite. It signs in whoever the test says
//! is signed in at GitHub, and checks client ids, secrets, redirect URIs and PKCE as GitHub does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// One GitHub account: `/user` and `/user/emails` as GitHub answers them.
#[derive(Clone)]
pub struct GitHubAccount {
    pub id: u64,
    pub login: &'static str,
    pub name: Option<&'static str>,
    /// (address, primary, verified)
    pub emails: Vec<(&'static str, bool, bool)>,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    login: String,
}

#[derive(Default)]
struct State {
    /// client_id -> secret
    clients: HashMap<String, String>,
    accounts: HashMap<String, GitHubAccount>,
    /// Who is signed in at GitHub in "the browser".
    signed_in: Option<String>,
    codes: HashMap<String, Code>,
    /// access token -> (client_id, login)
    tokens: HashMap<String, (String, String)>,
}

/// A running stand-in.
pub struct GitHub {
    pub url: String,
    state: Arc<Mutex<State>>,
    _server: actix_web::dev::ServerHandle,
}

impl GitHub {
    /// Starts the stand-in with these OAuth apps (client id, secret) and accounts.
    pub async fn start(clients: &[(&str, &str)], accounts: Vec<GitHubAccount>) -> GitHub {
        let state = Arc::new(Mutex::new(State {
            clients: clients
                .iter()
                .map(|(id, secret)| ((*id).to_owned(), (*secret).to_owned()))
                .collect(),
            accounts: accounts
                .into_iter()
                .map(|a| (a.login.to_owned(), a))
                .collect(),
            ..State::default()
        }));
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/login/oauth/authorize", web::get().to(authorize))
                .route("/login/oauth/access_token", web::post().to(access_token))
                .route("/user", web::get().to(user))
                .route("/user/emails", web::get().to(emails))
                .route(
                    "/applications/{client_id}/token",
                    web::post().to(check_token),
                )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("bind the GitHub stand-in");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        GitHub {
            url: format!("http://127.0.0.1:{port}"),
            state,
            _server: handle,
        }
    }

    /// Environment for a Latchkey whose `github` provider is this stand-in.
    pub fn env(&self, client_id: &str, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("LATCHKEY_SOCIAL_GITHUB_CLIENT_ID", client_id.to_owned()),
            ("LATCHKEY_SOCIAL_GITHUB_CLIENT_SECRET", secret.to_owned()),
            (
                "LATCHKEY_SOCIAL_GITHUB_AUTHORIZE_URL",
                format!("{}/login/oauth/authorize", self.url),
            ),
            (
                "LATCHKEY_SOCIAL_GITHUB_TOKEN_URL",
                format!("{}/login/oauth/access_token", self.url),
            ),
            ("LATCHKEY_SOCIAL_GITHUB_API_URL", self.url.clone()),
        ]
    }

    /// `login` is now the person signed in at GitHub in the browser.
    pub fn sign_in_as(&self, login: &str) {
        self.state.lock().unwrap().signed_in = Some(login.to_owned());
    }

    /// An access token GitHub issued to `client_id` for `login` (what a front end's own code
    /// exchange would have obtained).
    pub fn token_for(&self, client_id: &str, login: &str) -> String {
        let token = format!("gho_{}", crate::helpers::random_hex(18));
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(token.clone(), (client_id.to_owned(), login.to_owned()));
        token
    }
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// GET /login/oauth/authorize — the signed-in person approves at once; back to the redirect URI
/// with a code and the state.
async fn authorize(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let q = query(&req);
    let mut s = state.lock().unwrap();
    let (Some(client_id), Some(redirect_uri)) = (q.get("client_id"), q.get("redirect_uri")) else {
        return HttpResponse::BadRequest().body("client_id and redirect_uri are required");
    };
    if !s.clients.contains_key(client_id) {
        return HttpResponse::NotFound().finish();
    }
    let Some(login) = s.signed_in.clone() else {
        return HttpResponse::Ok().body("Sign in to GitHub");
    };
    if q.contains_key("code_challenge")
        && q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return HttpResponse::BadRequest().body("code_challenge_method must be S256");
    }
    let code = crate::helpers::random_hex(10);
    s.codes.insert(
        code.clone(),
        Code {
            client_id: client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge: q.get("code_challenge").cloned(),
            login,
        },
    );
    let mut back = url::Url::parse(redirect_uri).unwrap();
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(st) = q.get("state") {
        back.query_pairs_mut().append_pair("state", st);
    }
    HttpResponse::Found()
        .insert_header(("location", back.to_string()))
        .finish()
}

/// What GitHub answers (with status 200) to a code it does not accept.
fn bad_code() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "error": "bad_verification_code",
        "error_description": "The code passed is incorrect or expired.",
        "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
    }))
}

/// POST /login/oauth/access_token — client_id and client_secret in the body (or Basic), code,
/// redirect_uri, code_verifier; JSON when asked for it.
async fn access_token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let basic = basic_auth(&req);
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.0.clone()))
        .unwrap_or_default();
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.1.clone()))
        .unwrap_or_default();
    if s.clients.get(&client_id) != Some(&secret) {
        return HttpResponse::Ok().json(json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."}));
    }
    let Some(code) = form.get("code").and_then(|c| s.codes.remove(c)) else {
        return bad_code();
    };
    if code.client_id != client_id {
        return bad_code();
    }
    if let Some(uri) = form.get("redirect_uri")
        && *uri != code.redirect_uri
    {
        return HttpResponse::Ok().json(json!({"error": "redirect_uri_mismatch", "error_description": "The redirect_uri MUST match the registered callback URL for this application."}));
    }
    if let Some(challenge) = &code.challenge {
        use sha2::Digest;
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = crate::helpers::base64url(&sha2::Sha256::digest(verifier.as_bytes()));
        if computed != *challenge {
            return bad_code();
        }
    }
    assert!(
        req.headers()
            .get("accept")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("application/json")),
        "Latchkey asks for JSON (GitHub answers form-encoded otherwise)"
    );
    let token = format!("gho_{}", crate::helpers::random_hex(18));
    s.tokens
        .insert(token.clone(), (client_id, code.login.clone()));
    HttpResponse::Ok().json(
        json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}),
    )
}

fn basic_auth(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine;
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn account_of_bearer(req: &HttpRequest, s: &State) -> Option<GitHubAccount> {
    assert!(
        req.headers().contains_key("user-agent"),
        "GitHub requires a User-Agent"
    );
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("token "))?;
    let (_, login) = s.tokens.get(token)?;
    s.accounts.get(login).cloned()
}

fn bad_credentials() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}))
}

fn user_json(a: &GitHubAccount) -> Value {
    let public_email = a.emails.iter().find(|e| e.1).map(|e| e.0);
    json!({"login": a.login, "id": a.id, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false, "name": a.name, "email": public_email})
}

/// GET /user
async fn user(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let s = state.lock().unwrap();
    match account_of_bearer(&req, &s) {
        Some(a) => HttpResponse::Ok().json(user_json(&a)),
        None => bad_credentials(),
    }
}

/// GET /user/emails
async fn emails(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let s = state.lock().unwrap();
    let Some(a) = account_of_bearer(&req, &s) else {
        return bad_credentials();
    };
    let list: Vec<Value> = a
        .emails
        .iter()
        .map(|(email, primary, verified)| json!({"email": email, "primary": primary, "verified": verified, "visibility": if *primary { Some("public") } else { None }}))
        .collect();
    HttpResponse::Ok().json(list)
}

/// POST /applications/{client_id}/token — Basic client_id:client_secret; 200 with the token's
/// user when the token belongs to that OAuth app, 404 otherwise.
async fn check_token(
    req: HttpRequest,
    client_id: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let s = state.lock().unwrap();
    let authorized = basic_auth(&req)
        .is_some_and(|(id, secret)| id == *client_id && s.clients.get(&id) == Some(&secret));
    if !authorized {
        return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
    }
    let token = body["access_token"].as_str().unwrap_or_default();
    match s.tokens.get(token) {
        Some((issued_to, login)) if issued_to == &*client_id => {
            let account = &s.accounts[login];
            HttpResponse::Ok().json(json!({
                "id": 1, "token": token, "scopes": ["read:user", "user:email"],
                "app": {"client_id": issued_to, "name": "app", "url": "https://example.com"},
                "user": user_json(account),
            }))
        }
        _ => HttpResponse::NotFound().json(json!({"message": "Not Found"})),
    }
}
