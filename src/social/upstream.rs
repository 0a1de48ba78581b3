//! Talking to upstream providers with the `openidconnect` crate: discovery (cached), ID-token
//! validation against the provider's JWKS, userinfo, and the code exchange.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};

use super::SocialError;
use crate::clock::Clock;
use crate::config::SocialProvider;

/// How long one request to a provider may take: a slow provider gets a clear 503, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long discovery (with its key set) is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The shortest time between two fetches forced by an unknown `kid`: tokens with made-up key
/// ids must not turn Latchkey into a way to flood the provider.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(60);

/// The person a provider vouched for, from a verified ID token.
#[derive(Debug, Clone)]
pub struct UpstreamPerson {
    /// The provider's issuer.
    pub issuer: String,
    /// Its stable id for the person.
    pub subject: String,
    /// Their address, if shared.
    pub email: Option<String>,
    /// Whether the provider says the address is theirs.
    pub email_verified: bool,
    /// Their preferred username, if shared.
    pub preferred_username: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
}

/// What checking a provider at start found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reachability {
    /// Its discovery document and key set were fetched.
    Answered,
    /// It has nothing to fetch ahead of a sign-in (GitHub has no discovery document).
    NothingToFetch,
}

/// What a front end posts: an ID token (with the access token it came with, if any), an
/// access token alone (GitHub), or a code to exchange.
#[derive(Debug, Clone, Default)]
pub struct SocialTokens {
    /// The provider's access token.
    pub access_token: Option<String>,
    /// The provider's ID token.
    pub id_token: Option<String>,
    /// An authorization code the front end obtained.
    pub code: Option<String>,
    /// The redirect URI the code was sent to.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier of that request.
    pub code_verifier: Option<String>,
}

/// A sign-in to start at the provider: where to send the browser, and what its callback must
/// find again (kept in the browser's encrypted session cookie meanwhile).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignInRequest {
    /// The provider's authorization URL with every parameter.
    pub url: String,
    /// The `state` sent (the callback must bring it back).
    pub state: String,
    /// The `nonce` sent (the ID token must carry it).
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub verifier: String,
}

/// The provider's answer to a sign-in Latchkey started for a browser.
#[derive(Debug, Clone, Copy)]
pub struct Returned<'a> {
    /// The provider's name.
    pub provider: &'a str,
    /// The code it sent back.
    pub code: &'a str,
    /// The sign-in as it was started.
    pub started: &'a SignInRequest,
    /// The callback URL the code was sent to.
    pub redirect_uri: &'a str,
}

/// Latchkey as the provider's client, as discovery describes the provider.
type RelyingParty = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn relying_party(
    provider: &SocialProvider,
    metadata: &CoreProviderMetadata,
    redirect: RedirectUrl,
) -> RelyingParty {
    CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(
            provider.client_secret.expose().to_owned(),
        )),
    )
    .set_redirect_uri(redirect)
}

/// The configured providers and what was discovered about them.
#[derive(Clone)]
pub struct Social {
    providers: Arc<Vec<SocialProvider>>,
    pub(super) http: reqwest::Client,
    clock: Clock,
    discovered: Arc<RwLock<HashMap<String, Discovered>>>,
}

/// A provider's discovery document (with its key set) and when it was fetched.
type Discovered = (chrono::DateTime<chrono::Utc>, Arc<CoreProviderMetadata>);

impl std::fmt::Debug for Social {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
        f.debug_tuple("Social").field(&names).finish()
    }
}

type Sent =
    Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>> + Send>>;

impl Social {
    /// The providers, with an HTTP client whose every request is bounded in time.
    pub fn new(providers: Vec<SocialProvider>, clock: Clock) -> Result<Self, SocialError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            // Discovery and token endpoints never redirect; following one could leak a code.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SocialError::Unexpected(anyhow::Error::new(e)))?;
        Ok(Self {
            providers: Arc::new(providers),
            http,
            clock,
            discovered: Arc::default(),
        })
    }

    /// The configured providers.
    pub fn providers(&self) -> &[SocialProvider] {
        &self.providers
    }

    /// The provider configured as `name`.
    pub fn provider(&self, name: &str) -> Result<&SocialProvider, SocialError> {
        self.providers
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| SocialError::UnknownProvider(name.to_owned()))
    }

    /// One HTTP exchange for openidconnect, through the bounded client.
    pub(super) fn send(&self, request: openidconnect::HttpRequest) -> Sent {
        let client = self.http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut builder = client.request(parts.method, parts.uri.to_string());
            for (name, value) in &parts.headers {
                builder = builder.header(name, value);
            }
            let response = builder.body(body).send().await?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let bytes = response.bytes().await?;
            // A response built from a received status and headers always assembles.
            Ok(out.body(bytes.to_vec()).unwrap_or_default())
        })
    }

    /// The provider's discovery document and key set (cached; `fresh` fetches again).
    pub async fn metadata(
        &self,
        provider: &SocialProvider,
        fresh: bool,
    ) -> Result<Arc<CoreProviderMetadata>, SocialError> {
        if !fresh && let Some(cached) = self.cached(&provider.name) {
            return Ok(cached);
        }
        let issuer = IssuerUrl::new(provider.issuer.clone())
            .map_err(|e| SocialError::ProviderUnavailable(e.to_string()))?;
        let http = |request| self.send(request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| {
                let chain = crate::telemetry::error_chain(&e);
                SocialError::ProviderUnavailable(format!(
                    "discovery at {}: {chain}",
                    provider.issuer
                ))
            })?;
        let metadata = Arc::new(metadata);
        if let Ok(mut held) = self.discovered.write() {
            held.insert(
                provider.name.clone(),
                (self.clock.now(), Arc::clone(&metadata)),
            );
        }
        Ok(metadata)
    }

    /// How long ago the provider's discovery was fetched, if it was.
    fn age(&self, name: &str) -> Option<Duration> {
        let held = self.discovered.read().ok()?;
        let (at, _) = held.get(name)?;
        Some((self.clock.now() - *at).to_std().unwrap_or_default())
    }

    fn cached(&self, name: &str) -> Option<Arc<CoreProviderMetadata>> {
        if self.age(name)? >= DISCOVERY_TTL {
            return None;
        }
        let held = self.discovered.read().ok()?;
        held.get(name).map(|(_, metadata)| Arc::clone(metadata))
    }

    /// Whether the provider answers: an OpenID provider's discovery document and key set are
    /// fetched (and cached); GitHub has none to fetch.
    pub async fn check_reachable(
        &self,
        provider: &SocialProvider,
    ) -> Result<Reachability, SocialError> {
        if provider.github.is_some() {
            return Ok(Reachability::NothingToFetch);
        }
        self.metadata(provider, true).await?;
        Ok(Reachability::Answered)
    }

    /// Each provider's name and whether it answers ([`Social::check_reachable`]), all asked at
    /// once.
    pub async fn check_all(&self) -> Vec<(String, Result<Reachability, SocialError>)> {
        let checks = self
            .providers
            .iter()
            .map(|p| async move { (p.name.clone(), self.check_reachable(p).await) });
        futures_util::future::join_all(checks).await
    }

    /// The person the tokens a front end posted name, checked as the provider's kind needs:
    /// an ID token (with, when an access token comes too, a userinfo `sub` equal to its own),
    /// or a code exchanged for one; for GitHub, an access token GitHub says is this client's,
    /// or a code. An access token alone is refused by OpenID providers: only an ID token says
    /// which application the tokens were issued to.
    pub async fn api_person(
        &self,
        provider: &SocialProvider,
        posted: SocialTokens,
    ) -> Result<UpstreamPerson, SocialError> {
        if provider.github.is_some() {
            return self.github_api_person(provider, posted).await;
        }
        let (id_token, access_token) = match (posted.id_token, posted.access_token, posted.code) {
            (Some(id_token), access_token, _) => (id_token, access_token),
            (None, None, Some(code)) => {
                let redirect_uri = posted.redirect_uri.ok_or_else(|| {
                    SocialError::Refused("redirect_uri is required with a code".into())
                })?;
                let verifier = posted.code_verifier.as_deref();
                let (id, access) = self
                    .exchange_code(provider, &code, &redirect_uri, verifier)
                    .await?;
                (id, Some(access))
            }
            (None, Some(_), _) => return Err(SocialError::IdTokenRequired),
            (None, None, None) => return Err(SocialError::MissingInput),
        };
        let person = self.verify_id_token(provider, &id_token, None).await?;
        if let Some(access_token) = access_token {
            let subject = self.userinfo_subject(provider, &access_token).await?;
            if subject != person.subject {
                return Err(SocialError::Refused(
                    "the access token belongs to someone else than the ID token".into(),
                ));
            }
        }
        Ok(person)
    }

    async fn github_api_person(
        &self,
        provider: &SocialProvider,
        posted: SocialTokens,
    ) -> Result<UpstreamPerson, SocialError> {
        match (posted.access_token, posted.code, posted.id_token) {
            (Some(token), _, _) => {
                let owner = self.github_token_owner(provider, &token).await?;
                let person = self.github_person(provider, &token).await?;
                if person.subject != owner {
                    return Err(SocialError::Refused(
                        "GitHub names two people for one token".into(),
                    ));
                }
                Ok(person)
            }
            (None, Some(code), _) => {
                let (redirect, verifier) = (posted.redirect_uri, posted.code_verifier);
                let token = self
                    .github_exchange(provider, &code, redirect.as_deref(), verifier.as_deref())
                    .await?;
                self.github_person(provider, &token).await
            }
            (None, None, Some(_)) => Err(SocialError::Refused(
                "GitHub issues no ID tokens: send its access_token or a code".into(),
            )),
            (None, None, None) => Err(SocialError::MissingInput),
        }
    }

    /// The person a browser callback's code names: exchanged with the request's PKCE verifier,
    /// then the ID token verified with the request's nonce (GitHub: its REST API asked).
    pub async fn callback_person(
        &self,
        provider: &SocialProvider,
        code: &str,
        started: &SignInRequest,
        redirect_uri: &str,
    ) -> Result<UpstreamPerson, SocialError> {
        let verifier = Some(started.verifier.as_str());
        if provider.github.is_some() {
            let token = self
                .github_exchange(provider, code, Some(redirect_uri), verifier)
                .await?;
            return self.github_person(provider, &token).await;
        }
        let (id_token, _) = self
            .exchange_code(provider, code, redirect_uri, verifier)
            .await?;
        self.verify_id_token(provider, &id_token, Some(&started.nonce))
            .await
    }

    /// A sign-in at the provider for the browser: authorization code with PKCE (S256), `state`
    /// and `nonce`, scopes `openid email profile`, back to `redirect_uri` (GitHub: its own
    /// scopes, no nonce).
    pub async fn sign_in_request(
        &self,
        provider: &SocialProvider,
        redirect_uri: &str,
    ) -> Result<SignInRequest, SocialError> {
        if provider.github.is_some() {
            return self.github_sign_in(provider, redirect_uri);
        }
        let metadata = self.metadata(provider, false).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| SocialError::Unexpected(anyhow::anyhow!("callback URL: {e}")))?;
        let client = relying_party(provider, &metadata, redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(SignInRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// The person an ID token names, once its signature (a key of the provider's JWKS, by
    /// `kid`), issuer, audience (this client, or `azp` among several) and expiry hold. A key the
    /// cached set lacks makes one fresh discovery (the provider rotated).
    /// With `nonce`, the token must carry exactly it (Latchkey started that sign-in itself).
    async fn verify_id_token(
        &self,
        provider: &SocialProvider,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<UpstreamPerson, SocialError> {
        let token = CoreIdToken::from_str(id_token.trim())
            .map_err(|e| SocialError::Refused(format!("not an ID token: {e}")))?;
        let mut metadata = self.metadata(provider, false).await?;
        for attempt in 0..2 {
            match self.check(provider, &metadata, &token, nonce) {
                Ok(person) => return Ok(person),
                // A `kid` the cached key set lacks: the provider may have rotated its keys.
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if attempt == 0
                    && self
                        .age(&provider.name)
                        .is_none_or(|age| age >= REFETCH_COOLDOWN) =>
                {
                    metadata = self.metadata(provider, true).await?;
                }
                Err(e) => {
                    let reason = crate::telemetry::error_chain(&e);
                    return Err(SocialError::Refused(reason));
                }
            }
        }
        Err(SocialError::Refused(
            "no key of the provider verifies it".to_owned(),
        ))
    }

    fn check(
        &self,
        provider: &SocialProvider,
        metadata: &CoreProviderMetadata,
        token: &CoreIdToken,
        nonce: Option<&str>,
    ) -> Result<UpstreamPerson, ClaimsVerificationError> {
        let clock = self.clock.clone();
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(provider.client_id.clone()),
            ClientSecret::new(provider.client_secret.expose().to_owned()),
            metadata.issuer().clone(),
            metadata.jwks().clone(),
        )
        .set_time_fn(move || clock.now());
        let claims = match nonce {
            Some(expected) => token.claims(&verifier, &Nonce::new(expected.to_owned())),
            // A front end chose the nonce and checked it; the back end never saw it.
            None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }?;
        Ok(UpstreamPerson {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
            given_name: claims
                .given_name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str().to_owned()),
            family_name: claims
                .family_name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str().to_owned()),
        })
    }

    /// Asks the provider's userinfo who `access_token` belongs to; its `sub`.
    async fn userinfo_subject(
        &self,
        provider: &SocialProvider,
        access_token: &str,
    ) -> Result<String, SocialError> {
        let metadata = self.metadata(provider, false).await?;
        let Some(endpoint) = metadata.userinfo_endpoint() else {
            return Err(SocialError::Refused(
                "the provider has no userinfo endpoint".into(),
            ));
        };
        let response = self
            .http
            .get(endpoint.url().as_str())
            .bearer_auth(access_token.trim())
            .send()
            .await
            .map_err(|e| SocialError::ProviderUnavailable(format!("userinfo: {e}")))?;
        if response.status().is_client_error() {
            return Err(SocialError::Refused(
                "userinfo refused the access token".into(),
            ));
        }
        let info: serde_json::Value = response
            .json()
            .await
            .map_err(|e| SocialError::ProviderUnavailable(format!("userinfo: {e}")))?;
        info["sub"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SocialError::Refused("userinfo has no sub".into()))
    }

    /// Exchanges an authorization code the front end obtained (with its redirect URI and PKCE
    /// verifier) for the ID token and access token.
    async fn exchange_code(
        &self,
        provider: &SocialProvider,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> Result<(String, String), SocialError> {
        let metadata = self.metadata(provider, false).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| SocialError::Refused(format!("redirect_uri: {e}")))?;
        let client = relying_party(provider, &metadata, redirect);
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SocialError::ProviderUnavailable(e.to_string()))?;
        if let Some(verifier) = verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let http = |request| self.send(request);
        let tokens = request.request_async(&http).await.map_err(|e| match e {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                SocialError::Refused(format!("the code was refused: {r}"))
            }
            other => SocialError::ProviderUnavailable(format!("token endpoint: {other}")),
        })?;
        let id_token = tokens
            .id_token()
            .ok_or(SocialError::IdTokenRequired)?
            .to_string();
        use openidconnect::OAuth2TokenResponse;
        Ok((id_token, tokens.access_token().secret().clone()))
    }
}
