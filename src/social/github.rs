//! GitHub, which speaks OAuth 2 without OpenID Connect: the `oauth2` crate builds the sign-in
//! (state, PKCE) and exchanges codes; who the person is comes from GitHub's REST API (`/user`
//! and `/user/emails`, whose verified primary address is the one used). An access token a
//! front end posts is first checked with GitHub's `POST /applications/{client_id}/token`, which
//! answers only for tokens issued to this client: a token of another app is refused, as an ID
//! token of another audience is for OpenID providers.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use super::SocialError;
use super::upstream::{SignInRequest, Social, UpstreamPerson};
use crate::config::{GitHubEndpoints, SocialProvider};

/// GitHub's answer to `GET /user` (the fields used).
#[derive(Debug, Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Debug, Deserialize)]
struct GitHubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// `POST /applications/{client_id}/token`'s answer: the token's owner.
#[derive(Debug, Deserialize)]
struct TokenCheck {
    user: GitHubUser,
}

fn endpoints(provider: &SocialProvider) -> Result<&GitHubEndpoints, SocialError> {
    provider.github.as_ref().ok_or_else(|| {
        SocialError::Unexpected(anyhow::anyhow!(
            "{} is not a GitHub provider",
            provider.name
        ))
    })
}

fn url_error(e: impl std::fmt::Display) -> SocialError {
    SocialError::Unexpected(anyhow::anyhow!("GitHub endpoint: {e}"))
}

impl Social {
    /// The GitHub sign-in for the browser: code flow with `state` and PKCE (S256), scopes
    /// `read:user user:email`. GitHub has no nonce; the state binds the callback.
    pub(super) fn github_sign_in(
        &self,
        provider: &SocialProvider,
        redirect_uri: &str,
    ) -> Result<SignInRequest, SocialError> {
        let ends = endpoints(provider)?;
        let client = BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_auth_uri(AuthUrl::new(ends.authorize_url.clone()).map_err(url_error)?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(url_error)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(SignInRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: String::new(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges a code for GitHub's access token (client id and secret in the body, as
    /// GitHub's documentation shows). GitHub reports a bad code with status 200 and an `error`
    /// field, which is a refusal, not an outage.
    pub(super) async fn github_exchange(
        &self,
        provider: &SocialProvider,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<String, SocialError> {
        let ends = endpoints(provider)?;
        let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                provider.client_secret.expose().to_owned(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(ends.token_url.clone()).map_err(url_error)?);
        if let Some(redirect_uri) = redirect_uri {
            let redirect = RedirectUrl::new(redirect_uri.to_owned())
                .map_err(|e| SocialError::Refused(format!("redirect_uri: {e}")))?;
            client = client.set_redirect_uri(redirect);
        }
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(verifier) = verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let http = |request| self.send(request);
        let token = request.request_async(&http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                SocialError::Refused(format!("the code was refused: {r}"))
            }
            RequestTokenError::Parse(_, body) if github_error(&body).is_some() => {
                let error = github_error(&body).unwrap_or_default();
                SocialError::Refused(format!("the code was refused: {error}"))
            }
            other => SocialError::ProviderUnavailable(format!("token endpoint: {other}")),
        })?;
        Ok(token.access_token().secret().clone())
    }

    /// The GitHub id of the owner of an access token a front end posted, if GitHub says it
    /// was issued to this client (`404` otherwise).
    pub(super) async fn github_token_owner(
        &self,
        provider: &SocialProvider,
        access_token: &str,
    ) -> Result<String, SocialError> {
        let ends = endpoints(provider)?;
        let url = format!("{}/applications/{}/token", ends.api_url, provider.client_id);
        let response = self
            .http
            .post(url)
            .basic_auth(&provider.client_id, Some(provider.client_secret.expose()))
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "latchkey")
            .json(&serde_json::json!({ "access_token": access_token.trim() }))
            .send()
            .await
            .map_err(|e| SocialError::ProviderUnavailable(format!("token check: {e}")))?;
        match response.status().as_u16() {
            200 => {
                let check = response
                    .json::<TokenCheck>()
                    .await
                    .map_err(|e| SocialError::ProviderUnavailable(format!("token check: {e}")))?;
                Ok(check.user.id.to_string())
            }
            404 | 422 => Err(SocialError::Refused(
                "GitHub does not know this access token for this client".into(),
            )),
            other => Err(SocialError::ProviderUnavailable(format!(
                "token check answered {other}"
            ))),
        }
    }

    /// The person an access token belongs to: `/user`, and the verified primary address of
    /// `/user/emails` (an unverified primary address is kept as unverified).
    pub(super) async fn github_person(
        &self,
        provider: &SocialProvider,
        access_token: &str,
    ) -> Result<UpstreamPerson, SocialError> {
        let user: GitHubUser = self.github_get(provider, "/user", access_token).await?;
        let emails: Vec<GitHubEmail> = self
            .github_get(provider, "/user/emails", access_token)
            .await?;
        let chosen = emails
            .iter()
            .find(|e| e.primary && e.verified)
            .or_else(|| emails.iter().find(|e| e.verified))
            .or_else(|| emails.iter().find(|e| e.primary));
        Ok(UpstreamPerson {
            issuer: provider.issuer.clone(),
            subject: user.id.to_string(),
            email: chosen.map(|e| e.email.clone()),
            email_verified: chosen.is_some_and(|e| e.verified),
            preferred_username: Some(user.login),
            given_name: user.name,
            family_name: None,
        })
    }

    async fn github_get<T: serde::de::DeserializeOwned>(
        &self,
        provider: &SocialProvider,
        path: &str,
        access_token: &str,
    ) -> Result<T, SocialError> {
        let ends = endpoints(provider)?;
        let response = self
            .http
            .get(format!("{}{path}", ends.api_url))
            .bearer_auth(access_token.trim())
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "latchkey")
            .send()
            .await
            .map_err(|e| SocialError::ProviderUnavailable(format!("GitHub {path}: {e}")))?;
        if response.status() == 401 || response.status() == 403 {
            return Err(SocialError::Refused(format!(
                "GitHub {path} refused the access token"
            )));
        }
        if !response.status().is_success() {
            return Err(SocialError::ProviderUnavailable(format!(
                "GitHub {path} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| SocialError::ProviderUnavailable(format!("GitHub {path}: {e}")))
    }
}

/// GitHub's `error` of a 200 answer to the code exchange, if it is one.
fn github_error(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"].as_str().map(str::to_owned)
}
