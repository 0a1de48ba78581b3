//! The OpenID provider, driven by a real relying party (the `openidconnect` crate: discovery,
//! code + PKCE + nonce, ID-token validation against the fetched JWKS, userinfo, refresh)
//! through Latchkey's own login form; and the negative cases of the OpenID Foundation's Basic
//! OP plan, sent by hand because no well-behaved client sends them.

use std::future::Future;
use std::pin::Pin;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::helpers::{
    Backend, PERSONA_PASSWORD, Spawn, Tab, TestApp, backend_tests, clock_start, json_body,
    location, spawn_app_with,
};
use latchkey::clock::Clock;
use latchkey::keys::KeyAlg;
use latchkey::oauth::NewClient;

backend_tests!(
    a_relying_party_signs_in_through_the_login_form,
    discovery_says_what_openid_client_needs,
    a_replayed_code_is_refused_and_revokes_what_it_bought,
    racing_exchanges_of_one_code_issue_one_grant,
    the_token_request_must_repeat_what_the_code_is_bound_to,
    a_code_expires_after_sixty_seconds,
    a_code_not_exchanged_when_the_password_changes_buys_nothing,
    client_authentication_is_basic_post_or_none,
    bad_authorization_requests_never_redirect_to_unregistered_addresses,
    authorization_errors_go_back_to_the_client_with_state_and_iss,
    prompt_and_max_age_ask_for_the_password_again,
    the_nonce_is_echoed_only_when_sent,
    third_party_clients_ask_for_consent_once_and_it_can_be_withdrawn,
    a_grant_is_a_session_the_person_can_end,
    the_refresh_grant_rotates_and_detects_reuse,
    revocation_and_introspection_follow_rfc_7009_and_7662,
    userinfo_refuses_tokens_it_should_not_accept,
    rp_initiated_logout_ends_the_login_and_the_grant,
    a_key_rotation_is_seen_by_a_client_holding_the_old_key_set,
    an_es256_client_gets_es256_id_tokens,
    malformed_token_requests_get_rfc_6749_errors,
);

/// The public issuer: a deployment's TLS proxy in front of the test server, which the relying
/// party's HTTP client plays (it sends every request for this origin to the server).
const ISSUER: &str = "https://auth.latchkey.test";
const CALLBACK: &str = "https://app.example.com/api/auth/callback/latchkey";
const LOGGED_OUT: &str = "https://app.example.com/goodbye";

type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party's HTTP: requests for [`ISSUER`] go to the test server.
#[derive(Clone)]
struct Relay {
    base: String,
    client: reqwest::Client,
}

type Sent = Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>>>>;

impl Relay {
    fn send(&self, request: openidconnect::HttpRequest) -> Sent {
        let relay = self.clone();
        Box::pin(async move {
            let url = request.uri().to_string().replacen(ISSUER, &relay.base, 1);
            let mut builder = relay.client.request(request.method().clone(), url);
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            let response = builder.body(request.into_body()).send().await?;
            let mut out = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            Ok(out.body(response.bytes().await?.to_vec()).unwrap())
        })
    }
}

/// A provider under test, with its clients.
struct Op {
    app: TestApp,
    clock: Option<Clock>,
    relay: Relay,
}

/// A registered client, as its relying party sees it.
struct Registered {
    id: String,
    secret: Option<String>,
}

/// What one authorization round trip gave the relying party.
struct Authorized {
    code: String,
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

impl Op {
    async fn start(backend: Backend, manual_clock: bool) -> Option<Self> {
        let clock = manual_clock.then(|| Clock::manual(clock_start()));
        let options = Spawn {
            env: vec![("LATCHKEY_PUBLIC_URL", ISSUER.to_owned())],
            clock: clock.clone(),
            ..Spawn::default()
        };
        let app = spawn_app_with(backend, options).await?;
        let relay = Relay {
            base: app.address.clone(),
            client: app.client.clone(),
        };
        Some(Self { app, clock, relay })
    }

    fn http(&self) -> impl Fn(openidconnect::HttpRequest) -> Sent + '_ {
        |request| self.relay.send(request)
    }

    async fn register(&self, first_party: bool, public: bool) -> Registered {
        self.register_with(NewClient {
            name: "Acme dashboard".into(),
            redirect_uris: vec![CALLBACK.into()],
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            public,
            first_party,
            id_token_alg: None,
        })
        .await
    }

    async fn register_with(&self, new: NewClient) -> Registered {
        let state = &self.app.state;
        let made = latchkey::oauth::register_client(&state.db, &state.clock, new)
            .await
            .unwrap();
        Registered {
            id: made.client.client_id,
            secret: made.secret,
        }
    }

    async fn rp(&self, client: &Registered) -> Rp {
        let issuer = IssuerUrl::new(ISSUER.to_owned()).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http())
            .await
            .expect("discovery");
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.id.clone()),
            client.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap())
    }

    /// The path (and query) of a URL on the issuer, for a tab.
    fn path(url: &str) -> String {
        url.strip_prefix(ISSUER)
            .expect("a URL on the issuer")
            .to_owned()
    }

    /// A relying party's authorization URL for `scope`, with PKCE and a nonce.
    fn auth_url(rp: &Rp, extra: &[(&str, &str)]) -> (String, CsrfToken, PkceCodeVerifier, Nonce) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state, nonce) = request.url();
        (url.to_string(), state, verifier, nonce)
    }

    /// The whole browser round trip for a first-party client: authorize, log in on the form,
    /// back to authorize, back to the client with a code (state and iss checked).
    async fn sign_in(&self, rp: &Rp, tab: &Tab<'_>, username: &str) -> Authorized {
        let (url, state, verifier, nonce) = Self::auth_url(rp, &[]);
        let to_login = tab.get(&Self::path(&url)).await;
        assert_eq!(to_login.status(), 303, "no login yet: to the login page");
        let login_page = location(&to_login);
        assert!(
            login_page.starts_with("/accounts/login/?next="),
            "{login_page}"
        );
        let next = query_param(&format!("{ISSUER}{login_page}"), "next").unwrap();
        let back = tab.log_in(username, PERSONA_PASSWORD, &next).await;
        assert_eq!(back.status(), 303, "logged in: back to the request");
        let answer = tab.get(&location(&back)).await;
        let code = code_from(&answer, &state);
        Authorized {
            code,
            verifier,
            nonce,
        }
    }

    /// The relying party's ID-token verifier, on the test's clock.
    fn verifier<'a>(&self, rp: &'a Rp) -> openidconnect::core::CoreIdTokenVerifier<'a> {
        let clock = self.clock.clone().unwrap_or(Clock::System);
        rp.id_token_verifier().set_time_fn(move || clock.now())
    }

    /// A code for `tab`'s logged-in person (no consent needed) exchanged by `client`: the
    /// token endpoint's JSON answer.
    async fn tokens_for(&self, client: &Registered, rp: &Rp, tab: &Tab<'_>) -> Value {
        let (url, state, verifier, _) = Self::auth_url(rp, &[]);
        let code = code_from(&tab.get(&Self::path(&url)).await, &state);
        let form = code_form(code.as_str(), verifier.secret().as_str());
        let response = self.token_request(client, &form).await;
        assert_eq!(response.status(), 200);
        json_body(response).await
    }

    async fn advance(&self, seconds: i64) {
        self.clock
            .as_ref()
            .expect("a manual clock")
            .advance(chrono::Duration::seconds(seconds));
    }

    /// A hand-made token request (the negative cases), with Basic client authentication when
    /// `client` has a secret.
    async fn token_request(&self, client: &Registered, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url("/oauth/token"))
            .form(form);
        if let Some(secret) = &client.secret {
            request = request.basic_auth(&client.id, Some(secret));
        }
        request.send().await.unwrap()
    }
}

/// The token request of an authorization code with its PKCE verifier.
fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The code of a redirect back to the client, after checking its state and RFC 9207 iss.
fn code_from(answer: &reqwest::Response, state: &CsrfToken) -> String {
    assert_eq!(answer.status(), 302, "back to the client");
    let to = location(answer);
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(
        query_param(&to, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
    query_param(&to, "code").expect("a code")
}

/// The error of a redirect back to the client (state and iss present).
fn error_from(answer: &reqwest::Response) -> (String, Option<String>) {
    assert_eq!(answer.status(), 302, "back to the client");
    let to = location(answer);
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
    assert!(query_param(&to, "code").is_none(), "{to}");
    (
        query_param(&to, "error").expect("an error"),
        query_param(&to, "state"),
    )
}

async fn error_body(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status);
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(cache.as_deref(), Some("no-store"));
    let body = json_body(response).await;
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

async fn a_relying_party_signs_in_through_the_login_form(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    let ada = op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;

    let tokens = rp
        .exchange_code(AuthorizationCode::new(authorized.code))
        .unwrap()
        .set_pkce_verifier(authorized.verifier)
        .request_async(&op.http())
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &authorized.nonce)
        .expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), ada.id.to_string());
    assert_eq!(claims.issuer().as_str(), ISSUER);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(claims.email_verified(), Some(false), "no link was opened");
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("ada"));
    assert!(claims.auth_time().is_some());
    // at_hash binds the access token to the ID token.
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    let header = crate::helpers::claims_header(id_token.to_string().as_str());
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let raw = crate::helpers::claims(&id_token.to_string());
    assert!(raw["sid"].is_string() && raw["nickname"] == "ada", "{raw}");

    // The access token: RFC 9068, verifiable from JWKS, and a bearer at Latchkey's own API.
    let access = tokens.access_token().secret();
    let header = crate::helpers::claims_header(access);
    assert_eq!(header["typ"], "at+jwt");
    let at = crate::helpers::claims(access);
    assert_eq!(at["client_id"], client.id.as_str());
    assert_eq!(at["sub"], ada.id.to_string());
    assert_eq!(at["scope"], "openid profile email");
    let me = op.app.get_bearer("/auth/users/me/", access).await;
    assert_eq!(me.status(), 200);
    assert_eq!(json_body(me).await["email"], "ada@example.com");

    let info: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&op.http())
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("ada@example.com"));

    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&op.http())
        .await
        .expect("the refresh grant");
    assert_ne!(refreshed.access_token().secret(), access);
    assert!(refreshed.refresh_token().is_some(), "rotated");
    let again = refreshed.id_token().expect("an ID token on refresh too");
    let again = again
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("valid");
    assert_eq!(again.subject(), claims.subject());
    assert_eq!(
        again.auth_time(),
        claims.auth_time(),
        "the original login's time"
    );
}

async fn discovery_says_what_openid_client_needs(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    let response = op.app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    let doc = json_body(response).await;
    assert_eq!(doc["issuer"], ISSUER);
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("userinfo_endpoint", "/oauth/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("end_session_endpoint", "/oauth/logout"),
    ] {
        assert_eq!(doc[field], format!("{ISSUER}{path}"), "{field}");
    }
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let has = |field: &str, value: &str| {
        doc[field]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == value))
    };
    assert!(has("response_types_supported", "code"));
    assert!(has("id_token_signing_alg_values_supported", "RS256"));
    assert!(has(
        "token_endpoint_auth_methods_supported",
        "client_secret_basic"
    ));
    assert!(has(
        "token_endpoint_auth_methods_supported",
        "client_secret_post"
    ));
    assert!(has("grant_types_supported", "refresh_token"));
    for scope in ["openid", "email", "profile"] {
        assert!(has("scopes_supported", scope));
    }
    // JWKS answers with at least one RSA key, public parts only.
    let jwks = json_body(op.app.get("/.well-known/jwks.json").await).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["kty"] == "RSA" && k["alg"] == "RS256" && k["kid"].is_string())
    );
    assert!(
        keys.iter()
            .all(|k| k.get("d").is_none() && k.get("p").is_none())
    );
}

async fn a_replayed_code_is_refused_and_revokes_what_it_bought(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;
    let verifier = authorized.verifier.secret().clone();
    let form = code_form(authorized.code.as_str(), verifier.as_str());
    let first = op.token_request(&client, &form).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first = json_body(first).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        200
    );

    let replay = op.token_request(&client, &form).await;
    error_body(replay, 400, "invalid_grant").await;
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        401,
        "the replay revoked the grant the code bought"
    );
    let refresh = first["refresh_token"].as_str().unwrap();
    let refreshed = op
        .token_request(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    error_body(refreshed, 400, "invalid_grant").await;
}

async fn racing_exchanges_of_one_code_issue_one_grant(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;
    let verifier = authorized.verifier.secret().clone();
    let form = code_form(authorized.code.as_str(), verifier.as_str());
    let answers =
        futures_util::future::join_all((0..8).map(|_| op.token_request(&client, &form))).await;
    let mut issued = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            200 => issued.push(json_body(answer).await),
            400 => assert_eq!(json_body(answer).await["error"], "invalid_grant"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(issued.len(), 1, "exactly one exchange wins");
    let access = issued[0]["access_token"].as_str().unwrap();
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        401,
        "the losers' replays revoked the winner's grant"
    );
}

async fn the_token_request_must_repeat_what_the_code_is_bound_to(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let other = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;
    let code = authorized.code.as_str();
    let verifier = authorized.verifier.secret().clone();
    let wrong_verifier = "w".repeat(43);
    for (form, who, why) in [
        (
            vec![
                ("redirect_uri", "https://app.example.com/other"),
                ("code_verifier", verifier.as_str()),
            ],
            &client,
            "another redirect_uri",
        ),
        (
            vec![
                ("redirect_uri", CALLBACK),
                ("code_verifier", wrong_verifier.as_str()),
            ],
            &client,
            "a wrong verifier",
        ),
        (vec![("redirect_uri", CALLBACK)], &client, "no verifier"),
        (
            vec![
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier.as_str()),
            ],
            &other,
            "another client",
        ),
    ] {
        let mut full = vec![("grant_type", "authorization_code"), ("code", code)];
        full.extend(form);
        let response = op.token_request(who, &full).await;
        assert_eq!(response.status(), 400, "{why}");
        assert_eq!(json_body(response).await["error"], "invalid_grant", "{why}");
    }
    // None of those used the code up: the right request still works.
    let right = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    assert_eq!(op.token_request(&client, &right).await.status(), 200);

    // A verifier for a code issued without a challenge is a downgrade: refused.
    let (url, state, _, _) = Op::auth_url(&rp, &[]);
    let url = strip_param(&url, &["code_challenge", "code_challenge_method"]);
    let code = code_from(&tab.get(&Op::path(&url)).await, &state);
    let downgrade = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    error_body(
        op.token_request(&client, &downgrade).await,
        400,
        "invalid_grant",
    )
    .await;
}

/// `url` without the named query parameters.
fn strip_param(url: &str, names: &[&str]) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !names.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    parsed.to_string()
}

/// `url` with `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(&strip_param(url, &[name])).unwrap();
    parsed.query_pairs_mut().append_pair(name, value);
    parsed.to_string()
}

async fn a_code_expires_after_sixty_seconds(backend: Backend) {
    let Some(op) = Op::start(backend, true).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;
    op.advance(61).await;
    let verifier = authorized.verifier.secret().clone();
    let form = code_form(authorized.code.as_str(), verifier.as_str());
    let body = error_body(op.token_request(&client, &form).await, 400, "invalid_grant").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

/// Someone signed in with the password just before its owner changed it: the code they hold
/// must not open a grant after the change ended every session.
async fn a_code_not_exchanged_when_the_password_changes_buys_nothing(backend: Backend) {
    let Some(op) = Op::start(backend, true).await else {
        return;
    };
    let ada = op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;
    let changed = op
        .app
        .as_user(&ada)
        .send(
            reqwest::Method::POST,
            "/auth/users/set_password/",
            serde_json::json!({"current_password": PERSONA_PASSWORD, "new_password": "a changed passphrase 31"}),
        )
        .await;
    assert_eq!(changed.status(), 204);
    let verifier = authorized.verifier.secret().clone();
    let form = code_form(authorized.code.as_str(), verifier.as_str());
    error_body(op.token_request(&client, &form).await, 400, "invalid_grant").await;
}

async fn client_authentication_is_basic_post_or_none(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let confidential = op.register(true, false).await;
    let public = op.register(true, true).await;
    let tab = op.app.tab_logged_in("ada").await;

    // client_secret_basic with every character form-url-encoded (RFC 6749 §2.3.1), then
    // client_secret_post: both work.
    let encode = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let secret = confidential.secret.clone().unwrap();
    for post in [false, true] {
        let rp = op.rp(&confidential).await;
        let (url, state, verifier, _) = Op::auth_url(&rp, &[]);
        let code = code_from(&tab.get(&Op::path(&url)).await, &state);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.secret().as_str()),
        ];
        let mut request = op.app.client.post(op.app.url("/oauth/token"));
        if post {
            form.push(("client_id", confidential.id.as_str()));
            form.push(("client_secret", secret.as_str()));
        } else {
            request = request.basic_auth(encode(&confidential.id), Some(encode(&secret)));
        }
        let response = request.form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200, "post={post}");
    }

    // A wrong secret: 401 invalid_client with a Basic challenge.
    let wrong = Registered {
        id: confidential.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let response = op
        .token_request(
            &wrong,
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    error_body(response, 401, "invalid_client").await;
    // A confidential client without its secret, and an unknown client, are refused alike.
    for id in [confidential.id.as_str(), "nobody"] {
        let response = op
            .app
            .client
            .post(op.app.url("/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", id),
            ])
            .send()
            .await
            .unwrap();
        error_body(response, 401, "invalid_client").await;
    }

    // A public client: no secret, PKCE, and CORS from any origin (a single-page app).
    let rp = op.rp(&public).await;
    let (url, state, verifier, _) = Op::auth_url(&rp, &[]);
    let code = code_from(&tab.get(&Op::path(&url)).await, &state);
    let response = op
        .app
        .client
        .post(op.app.url("/oauth/token"))
        .header("origin", "https://spa.example.net")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.secret().as_str()),
            ("client_id", public.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://spa.example.net"
    );
    let preflight = op
        .app
        .client
        .request(reqwest::Method::OPTIONS, op.app.url("/oauth/token"))
        .header("origin", "https://spa.example.net")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://spa.example.net"
    );
    assert!(
        preflight
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // The cookie pages stay closed to other origins.
    let page = op
        .app
        .client
        .get(op.app.url("/accounts/login/"))
        .header("origin", "https://spa.example.net")
        .send()
        .await
        .unwrap();
    assert!(page.headers().get("access-control-allow-origin").is_none());
}

async fn bad_authorization_requests_never_redirect_to_unregistered_addresses(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let (url, _, _, _) = Op::auth_url(&rp, &[]);
    let tab = op.app.tab_logged_in("ada").await;
    for (bad, words) in [
        (with_param(&url, "client_id", "nobody"), "not registered"),
        (strip_param(&url, &["client_id"]), "client_id is missing"),
        (
            with_param(&url, "redirect_uri", "https://evil.example/cb"),
            "registered (redirect_uri)",
        ),
        (
            with_param(&url, "redirect_uri", &format!("{CALLBACK}/")),
            "registered (redirect_uri)",
        ),
        (
            strip_param(&url, &["redirect_uri"]),
            "redirect_uri is missing",
        ),
    ] {
        let response = tab.get(&Op::path(&bad)).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert!(location(&response).is_empty(), "never redirected: {bad}");
        let html = response.text().await.unwrap();
        assert!(html.contains(words), "{bad}: {html}");
    }
}

async fn authorization_errors_go_back_to_the_client_with_state_and_iss(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let public = op.register(true, true).await;
    let rp = op.rp(&client).await;
    let public_rp = op.rp(&public).await;
    let (url, state, _, _) = Op::auth_url(&rp, &[]);
    let (public_url, _, _, _) = Op::auth_url(&public_rp, &[]);
    let anonymous = op.app.tab();
    let tab = op.app.tab_logged_in("ada").await;
    for (who, bad, expected) in [
        (
            &tab,
            with_param(&url, "response_type", "token"),
            "unsupported_response_type",
        ),
        (
            &tab,
            with_param(&url, "scope", "email profile"),
            "invalid_scope",
        ),
        (
            &tab,
            with_param(&url, "code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            &tab,
            with_param(&url, "code_challenge", "short"),
            "invalid_request",
        ),
        (&tab, with_param(&url, "max_age", "soon"), "invalid_request"),
        (
            &tab,
            with_param(&url, "prompt", "none login"),
            "invalid_request",
        ),
        (
            &tab,
            strip_param(&public_url, &["code_challenge", "code_challenge_method"]),
            "invalid_request",
        ),
        (
            &anonymous,
            with_param(&url, "prompt", "none"),
            "login_required",
        ),
    ] {
        let (error, echoed) = error_from(&who.get(&Op::path(&bad)).await);
        assert_eq!(error, expected, "{bad}");
        if !bad.contains(&public.id) {
            assert_eq!(echoed.as_deref(), Some(state.secret().as_str()));
        }
    }
}

async fn prompt_and_max_age_ask_for_the_password_again(backend: Backend) {
    let Some(op) = Op::start(backend, true).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    op.advance(120).await;
    // A recent enough login is used as it is.
    let (url, state, _, _) = Op::auth_url(&rp, &[("max_age", "3600")]);
    code_from(&tab.get(&Op::path(&url)).await, &state);
    // prompt=none with an old login: login_required, never a page.
    let (url, _, _, _) = Op::auth_url(&rp, &[("max_age", "60"), ("prompt", "none")]);
    assert_eq!(
        error_from(&tab.get(&Op::path(&url)).await).0,
        "login_required"
    );

    for extra in [("prompt", "login"), ("max_age", "60")] {
        op.advance(120).await;
        let (url, state, verifier, _) = Op::auth_url(&rp, &[extra]);
        let to_login = tab.get(&Op::path(&url)).await;
        assert_eq!(to_login.status(), 303, "{extra:?}");
        let login = location(&to_login);
        assert!(login.contains("reauth=1"), "{login}");
        // The form shows although the tab is logged in.
        let html = tab.page(&login).await;
        assert!(html.contains("name=\"password\""), "{extra:?}");
        let next = query_param(&format!("{ISSUER}{login}"), "next").unwrap();
        op.advance(5).await;
        let fields = [
            ("username", "ada"),
            ("password", PERSONA_PASSWORD),
            ("next", next.as_str()),
        ];
        let back = tab.post_from(&html, "/accounts/login/", &fields).await;
        assert_eq!(back.status(), 303);
        let code = code_from(&tab.get(&location(&back)).await, &state);
        let form = code_form(code.as_str(), verifier.secret().as_str());
        let tokens = json_body(op.token_request(&client, &form).await).await;
        let id = crate::helpers::claims(tokens["id_token"].as_str().unwrap());
        let now = op.clock.as_ref().unwrap().now().timestamp();
        assert_eq!(id["auth_time"], now, "the new login's time: {extra:?}");
    }
    // The replaced login ended: one browser session is live.
    let html = tab.page("/accounts/profile/").await;
    assert_eq!(html.matches("this device").count(), 1);
    assert_eq!(html.matches(">browser<").count(), 1, "{html}");
}

async fn the_nonce_is_echoed_only_when_sent(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    for send_nonce in [true, false] {
        let (url, state, verifier, nonce) = Op::auth_url(&rp, &[]);
        let url = if send_nonce {
            url
        } else {
            strip_param(&url, &["nonce"])
        };
        let code = code_from(&tab.get(&Op::path(&url)).await, &state);
        let form = code_form(code.as_str(), verifier.secret().as_str());
        let tokens = json_body(op.token_request(&client, &form).await).await;
        let id = crate::helpers::claims(tokens["id_token"].as_str().unwrap());
        if send_nonce {
            assert_eq!(id["nonce"], nonce.secret().as_str());
        } else {
            assert!(id.get("nonce").is_none(), "{id}");
        }
    }
}

async fn third_party_clients_ask_for_consent_once_and_it_can_be_withdrawn(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(false, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;

    // prompt=none cannot show the page.
    let (url, _, _, _) = Op::auth_url(&rp, &[("prompt", "none")]);
    assert_eq!(
        error_from(&tab.get(&Op::path(&url)).await).0,
        "consent_required"
    );

    // Deny, then Allow (its code kept for later, never exchanged).
    let mut pending = None;
    for (decision, allowed) in [("deny", false), ("allow", true)] {
        let (url, state, verifier, _) = Op::auth_url(&rp, &[]);
        let page = tab.get(&Op::path(&url)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Allow Acme dashboard"), "{html}");
        assert!(html.contains("See your email address"), "{html}");
        let fields: Vec<(String, String)> = hidden_fields(&html);
        let mut form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.push(("decision", decision));
        let answer = tab
            .post("/oauth/authorize/")
            .form(&form)
            .send()
            .await
            .unwrap();
        if allowed {
            pending = Some((code_from(&answer, &state), verifier.secret().clone()));
        } else {
            assert_eq!(error_from(&answer).0, "access_denied");
        }
    }
    // Forged consent (no CSRF token) is refused.
    let (url, _, _, _) = Op::auth_url(&rp, &[]);
    let query = url::Url::parse(&url).unwrap().query().unwrap().to_owned();
    let forged = tab
        .post("/oauth/authorize/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&decision=allow"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // Remembered: no page the second time.
    let tokens = op.tokens_for(&client, &rp, &tab).await;
    let access = tokens["access_token"].as_str().unwrap();

    // Listed under Connected apps; revoking it ends the grant and asks again next time.
    let html = tab.page("/accounts/profile/").await;
    assert!(
        html.contains("Connected apps") && html.contains("Acme dashboard"),
        "{html}"
    );
    let revoke = format!("/accounts/apps/{}/revoke/", client.id);
    let response = tab.post_from(&html, &revoke, &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        401
    );
    // Nor does a code given before the withdrawal open a grant after it.
    let (code, verifier) = pending.unwrap();
    let late = op
        .token_request(&client, &code_form(&code, &verifier))
        .await;
    error_body(late, 400, "invalid_grant").await;
    let (url, _, _, _) = Op::auth_url(&rp, &[]);
    assert_eq!(
        tab.get(&Op::path(&url)).await.status(),
        200,
        "the consent page again"
    );
    let html = tab.page("/accounts/profile/").await;
    assert!(html.contains("No app has asked"), "{html}");
}

/// The hidden inputs of the consent form (CSRF token included).
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let form = html
        .split("action=\"/oauth/authorize/\"")
        .nth(1)
        .expect("the consent form");
    let form = form.split("</form>").next().unwrap();
    form.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            let value = value
                .replace("&amp;", "&")
                .replace("&#x2F;", "/")
                .replace("&quot;", "\"");
            Some((name.to_owned(), value))
        })
        .collect()
}

async fn a_grant_is_a_session_the_person_can_end(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    let ada = op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    let mut grants = Vec::new();
    for _ in 0..2 {
        let tokens = op.tokens_for(&client, &rp, &tab).await;
        grants.push(tokens["access_token"].as_str().unwrap().to_owned());
    }

    // On the account page: ended there, its tokens stop.
    let html = tab.page("/accounts/profile/").await;
    assert_eq!(html.matches("app: Acme dashboard").count(), 2, "{html}");
    let row = html.split("app: Acme dashboard").nth(1).unwrap();
    let action = row
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(tab.post_from(&html, action, &[]).await.status(), 303);
    let live: Vec<u16> = futures_util::future::join_all(
        grants
            .iter()
            .map(|t| op.app.get_bearer("/auth/users/me/", t)),
    )
    .await
    .iter()
    .map(|r| r.status().as_u16())
    .collect();
    assert_eq!(live.iter().filter(|s| **s == 401).count(), 1, "{live:?}");
    let survivor = grants[live.iter().position(|s| *s == 200).unwrap()].clone();

    // Through the API's session list: kind oauth with the client's name, ended by DELETE.
    let listed = op.app.as_user(&ada).get("/auth/users/me/sessions/").await;
    assert_eq!(listed.status(), 200);
    let listed = json_body(listed).await;
    let grant = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "oauth")
        .expect("the grant")
        .clone();
    assert_eq!(grant["client"], "Acme dashboard");
    assert_eq!(grant["current"], false);
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"browser") && kinds.contains(&"api"),
        "{kinds:?}"
    );
    let current = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap();
    assert_eq!(current["kind"], "api");
    let path = format!("/auth/users/me/sessions/{}/", grant["id"].as_str().unwrap());
    let ended = op
        .app
        .as_user(&ada)
        .send(reqwest::Method::DELETE, &path, Value::Null)
        .await;
    assert_eq!(ended.status(), 204);
    assert_eq!(
        op.app
            .get_bearer("/auth/users/me/", &survivor)
            .await
            .status(),
        401
    );
    assert_eq!(
        op.app
            .get_bearer("/oauth/userinfo", &survivor)
            .await
            .status(),
        401
    );
    let again = op
        .app
        .as_user(&ada)
        .send(reqwest::Method::DELETE, &path, Value::Null)
        .await;
    assert_eq!(again.status(), 404);
    // Someone else's handle is not found either.
    let bob = op.app.persona("bob").await;
    let bobs = json_body(op.app.as_user(&bob).get("/auth/users/me/sessions/").await).await;
    let handle = bobs[0]["id"].as_str().unwrap();
    let foreign = format!("/auth/users/me/sessions/{handle}/");
    let refused = op
        .app
        .as_user(&ada)
        .send(reqwest::Method::DELETE, &foreign, Value::Null)
        .await;
    assert_eq!(refused.status(), 404);
    assert_eq!(
        op.app.as_user(&bob).get("/auth/users/me/").await.status(),
        200
    );
}

async fn the_refresh_grant_rotates_and_detects_reuse(backend: Backend) {
    let Some(op) = Op::start(backend, true).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let other = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    let tokens = op.tokens_for(&client, &rp, &tab).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Another client cannot use it; nor can the JSON API's refresh route.
    let stolen = op
        .token_request(
            &other,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        )
        .await;
    error_body(stolen, 400, "invalid_grant").await;
    assert_eq!(op.app.refresh(&first).await.status(), 401);
    // A wider scope is refused; a narrower one is granted.
    let wider = op
        .token_request(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first),
                ("scope", "openid offline_access"),
            ],
        )
        .await;
    error_body(wider, 400, "invalid_scope").await;

    let rotated = op
        .token_request(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &first),
                ("scope", "openid email"),
            ],
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated = json_body(rotated).await;
    assert_eq!(rotated["scope"], "openid email");
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(second, first);
    op.advance(60).await;
    let third = op
        .token_request(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", second)],
        )
        .await;
    let third = json_body(third).await;
    let third = third["refresh_token"].as_str().unwrap();
    // After the grace window an older one is reuse: the whole grant ends.
    op.advance(60).await;
    let reuse = op
        .token_request(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        )
        .await;
    error_body(reuse, 400, "invalid_grant").await;
    let after = op
        .token_request(
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", third)],
        )
        .await;
    error_body(after, 400, "invalid_grant").await;
}

async fn revocation_and_introspection_follow_rfc_7009_and_7662(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    let ada = op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let public = op.register(true, true).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    let tokens = op.tokens_for(&client, &rp, &tab).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let secret = client.secret.clone().unwrap();
    let call = |path: &'static str, token: String, basic: Option<(String, String)>| {
        let mut request = op
            .app
            .client
            .post(op.app.url(path))
            .form(&[("token", token)]);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    let basic = Some((client.id.clone(), secret.clone()));
    let active = json_body(
        call("/oauth/introspect", access.into(), basic.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], client.id.as_str());
    assert_eq!(active["sub"], ada.id.to_string());
    assert_eq!(active["username"], "ada");
    assert_eq!(active["scope"], "openid profile email");
    // The API's own tokens can be introspected too (a resource server checking any bearer).
    let api = json_body(
        call(
            "/oauth/introspect",
            ada.tokens.access.clone(),
            basic.clone(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(api["active"], true, "{api}");
    let garbage = json_body(
        call("/oauth/introspect", "garbage".into(), basic.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(garbage, serde_json::json!({"active": false}));
    // Only confidential clients introspect.
    let refused = op
        .app
        .client
        .post(op.app.url("/oauth/introspect"))
        .form(&[("token", access), ("client_id", public.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Revoking another client's or an unknown token answers 200 and does nothing.
    let foreign = op
        .app
        .client
        .post(op.app.url("/oauth/revoke"))
        .form(&[("token", refresh), ("client_id", public.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        200
    );
    let unknown = call("/oauth/revoke", "garbage".into(), basic.clone())
        .await
        .unwrap();
    assert_eq!(unknown.status(), 200);
    // Revoking the refresh token ends the grant: the access token stops as well.
    let revoked = call("/oauth/revoke", refresh.into(), basic.clone())
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        401
    );
    let inactive = json_body(
        call("/oauth/introspect", access.into(), basic.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(inactive, serde_json::json!({"active": false}));
    // Wrong client credentials: 401.
    let wrong = call(
        "/oauth/revoke",
        access.into(),
        Some((client.id.clone(), "x".into())),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
}

async fn userinfo_refuses_tokens_it_should_not_accept(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    let ada = op.app.persona("ada").await;
    let none = op.app.get("/oauth/userinfo").await;
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    for token in [
        ada.tokens.access.as_str(),
        ada.tokens.refresh.as_str(),
        "garbage",
    ] {
        let response = op.app.get_bearer("/oauth/userinfo", token).await;
        assert_eq!(response.status(), 401, "{token}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(json_body(response).await["error"], "invalid_token");
    }
}

async fn rp_initiated_logout_ends_the_login_and_the_grant(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    op.app.persona("bob").await;
    let client = op.register(true, false).await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    let tokens = op.tokens_for(&client, &rp, &tab).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let logout = |query: Vec<(&str, &str)>| {
        let encoded = serde_urlencoded::to_string(query).unwrap();
        format!("/oauth/logout/?{encoded}")
    };

    // Without a hint: a confirmation page, nobody logged out.
    let confirm = tab.page(&logout(vec![])).await;
    assert!(confirm.contains("Log out of"), "{confirm}");
    assert_eq!(tab.status("/accounts/profile/").await, 200);
    // A forged hint, or an unregistered address: Latchkey's error page, no redirect.
    for bad in [
        logout(vec![
            ("id_token_hint", "garbage"),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ]),
        logout(vec![
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ]),
    ] {
        let response = tab.get(&bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert!(location(&response).is_empty());
    }
    // Bob's login in another browser is not Ada's hint's to end.
    let bob = op.app.tab_logged_in("bob").await;
    let response = bob.get(&logout(vec![("id_token_hint", id_token)])).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        bob.status("/accounts/profile/").await,
        200,
        "bob stays logged in"
    );

    let response = tab
        .get(&logout(vec![
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "xyz"),
        ]))
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), format!("{LOGGED_OUT}?state=xyz"));
    assert_eq!(
        tab.status("/accounts/profile/").await,
        303,
        "logged out of Latchkey"
    );
    assert_eq!(
        op.app.get_bearer("/auth/users/me/", access).await.status(),
        401,
        "the grant ended"
    );
}

async fn a_key_rotation_is_seen_by_a_client_holding_the_old_key_set(backend: Backend) {
    let Some(op) = Op::start(backend, true).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op.register(true, false).await;
    let holding_old = op.rp(&client).await;
    let tab = op.app.tab_logged_in("ada").await;
    let exchange = |rp: &Rp| {
        let (url, state, verifier, nonce) = Op::auth_url(rp, &[]);
        let tab = &tab;
        let op = &op;
        let rp = rp.clone();
        async move {
            let code = code_from(&tab.get(&Op::path(&url)).await, &state);
            let tokens = rp
                .exchange_code(AuthorizationCode::new(code))
                .unwrap()
                .set_pkce_verifier(verifier)
                .request_async(&op.http())
                .await
                .unwrap();
            (tokens.id_token().unwrap().clone(), nonce)
        }
    };
    let (old_token, _) = exchange(&holding_old).await;
    let old_kid = crate::helpers::claims_header(&old_token.to_string())["kid"].clone();

    // Rotate: the new key is published first and signs only after the publish delay.
    op.app.state.keys.rotate(KeyAlg::Rs256).await.unwrap();
    let (token, nonce) = exchange(&holding_old).await;
    assert_eq!(
        crate::helpers::claims_header(&token.to_string())["kid"],
        old_kid
    );
    token
        .claims(&op.verifier(&holding_old), &nonce)
        .expect("still the key the client holds");
    op.advance(601).await;
    op.app.state.keys.reload().await.unwrap();
    let (token, nonce) = exchange(&holding_old).await;
    assert_ne!(
        crate::helpers::claims_header(&token.to_string())["kid"],
        old_kid
    );
    assert!(
        token.claims(&op.verifier(&holding_old), &nonce).is_err(),
        "a client that never refetched does not know the new key"
    );
    // A client that refetched the published set (it was published 600 s ago) accepts it, and
    // tokens of the old key still verify against it.
    let refetched = op.rp(&client).await;
    token
        .claims(&op.verifier(&refetched), &nonce)
        .expect("the new key is published");
    let when_issued = refetched.id_token_verifier().set_time_fn(clock_start);
    old_token
        .claims(&when_issued, |_: Option<&Nonce>| Ok(()))
        .expect("the old key is still published");
}

async fn an_es256_client_gets_es256_id_tokens(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    op.app.persona("ada").await;
    let client = op
        .register_with(NewClient {
            name: "EC app".into(),
            redirect_uris: vec![CALLBACK.into()],
            first_party: true,
            id_token_alg: Some(KeyAlg::Es256),
            ..NewClient::default()
        })
        .await;
    let rp = op.rp(&client).await;
    let tab = op.app.tab();
    let authorized = op.sign_in(&rp, &tab, "ada").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(authorized.code))
        .unwrap()
        .set_pkce_verifier(authorized.verifier)
        .request_async(&op.http())
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    assert!(
        id_token
            .claims(&rp.id_token_verifier(), &authorized.nonce)
            .is_err(),
        "RS256 expected by default"
    );
    // The relying party freshly discovers the key set (the EC key was made just now).
    let rp = op.rp(&client).await;
    let verifier = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    id_token
        .claims(&verifier, &authorized.nonce)
        .expect("ES256 from JWKS");
    let me = op
        .app
        .get_bearer("/auth/users/me/", tokens.access_token().secret())
        .await;
    assert_eq!(me.status(), 200);
}

async fn malformed_token_requests_get_rfc_6749_errors(backend: Backend) {
    let Some(op) = Op::start(backend, false).await else {
        return;
    };
    let client = op.register(true, false).await;
    let secret = client.secret.clone().unwrap();
    let post = |body: &'static str, content_type: &'static str| {
        op.app
            .client
            .post(op.app.url("/oauth/token"))
            .basic_auth(&client.id, Some(&secret))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    for (body, content_type, error) in [
        (
            "{\"grant_type\":\"authorization_code\"}",
            "application/json",
            "invalid_request",
        ),
        (
            "grant_type=authorization_code&grant_type=refresh_token",
            form,
            "invalid_request",
        ),
        ("code=abc", form, "invalid_request"),
        (
            "grant_type=password&username=a&password=b",
            form,
            "unsupported_grant_type",
        ),
        (
            "grant_type=authorization_code&redirect_uri=x",
            form,
            "invalid_request",
        ),
        (
            "grant_type=authorization_code&code=nope&redirect_uri=x",
            form,
            "invalid_grant",
        ),
        (
            "grant_type=refresh_token&refresh_token=forged.jwt.value",
            form,
            "invalid_grant",
        ),
        (
            "grant_type=authorization_code&code=%FF%FE&redirect_uri=x",
            form,
            "invalid_grant",
        ),
    ] {
        let response = post(body, content_type).await.unwrap();
        error_body(response, 400, error).await;
    }
    let huge = "a".repeat(200 * 1024);
    let response = op
        .app
        .client
        .post(op.app.url("/oauth/token"))
        .header("content-type", form)
        .body(format!("grant_type=authorization_code&code={huge}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // Two client authentication methods at once.
    let both = op
        .app
        .client
        .post(op.app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    error_body(both, 400, "invalid_request").await;
    let wrong_method = op.app.get("/oauth/token").await;
    assert_eq!(wrong_method.status(), 405);
}
