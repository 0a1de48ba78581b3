//! Talking to upstream providers with the `openidconnect` crate: discovery (cached), ID-token
//! validation against the provider's JWKS, userinfo, and the code exchange.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

use super::SocialError;
use crate::clock::Clock;
use crate::config::SocialProvider;

/// How long one request to a provider may take: a slow provider gets a clear 503, not a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long discovery (with its key set) is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);

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
    http: reqwest::Client,
    clock: Clock,
    discovered: Arc<RwLock<HashMap<String, Discovered>>>,
}

/// A provider's discovery document (with its key set) and when it was fetched.
type Discovered = (Instant, Arc<CoreProviderMetadata>);

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
    fn send(&self, request: openidconnect::HttpRequest) -> Sent {
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
            .map_err(|e| SocialError::ProviderUnavailable(format!("discovery: {e}")))?;
        let metadata = Arc::new(metadata);
        if let Ok(mut held) = self.discovered.write() {
            held.insert(
                provider.name.clone(),
                (Instant::now(), Arc::clone(&metadata)),
            );
        }
        Ok(metadata)
    }

    fn cached(&self, name: &str) -> Option<Arc<CoreProviderMetadata>> {
        let held = self.discovered.read().ok()?;
        let (at, metadata) = held.get(name)?;
        (at.elapsed() < DISCOVERY_TTL).then(|| Arc::clone(metadata))
    }

    /// A sign-in at the provider for the browser: authorization code with PKCE (S256), `state`
    /// and `nonce`, scopes `openid email profile`, back to `redirect_uri`.
    pub async fn sign_in_request(
        &self,
        provider: &SocialProvider,
        redirect_uri: &str,
    ) -> Result<SignInRequest, SocialError> {
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
    pub async fn verify_id_token(
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
                Err(e) if attempt == 0 && e.contains("key") => {
                    metadata = self.metadata(provider, true).await?;
                }
                Err(e) => return Err(SocialError::Refused(e)),
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
    ) -> Result<UpstreamPerson, String> {
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
        }
        .map_err(|e| e.to_string())?;
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
    pub async fn userinfo_subject(
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
    pub async fn exchange_code(
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
