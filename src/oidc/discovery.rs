//! OpenID Connect Discovery 1.0 §3 and RFC 8414: what the provider supports, at absolute URLs
//! built from its issuer.

use serde::Serialize;

use super::SUPPORTED_SCOPES;

/// The provider's metadata document.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderMetadata {
    /// The issuer: every token's `iss`.
    pub issuer: String,
    /// `/oauth/authorize`.
    pub authorization_endpoint: String,
    /// `/oauth/token`.
    pub token_endpoint: String,
    /// `/oauth/userinfo`.
    pub userinfo_endpoint: String,
    /// `/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// `/oauth/revoke`.
    pub revocation_endpoint: String,
    /// `/oauth/introspect`.
    pub introspection_endpoint: String,
    /// `/oauth/logout`.
    pub end_session_endpoint: String,
    /// The scopes.
    pub scopes_supported: [&'static str; 4],
    /// `code` only.
    pub response_types_supported: [&'static str; 1],
    /// `query` only.
    pub response_modes_supported: [&'static str; 1],
    /// Code and refresh.
    pub grant_types_supported: [&'static str; 2],
    /// `public` subject identifiers.
    pub subject_types_supported: [&'static str; 1],
    /// RS256 (the default) and ES256 (per client).
    pub id_token_signing_alg_values_supported: [&'static str; 2],
    /// Basic, post, and none for public clients.
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    /// Basic and post.
    pub revocation_endpoint_auth_methods_supported: [&'static str; 3],
    /// Basic and post (confidential clients only).
    pub introspection_endpoint_auth_methods_supported: [&'static str; 2],
    /// S256 only.
    pub code_challenge_methods_supported: [&'static str; 1],
    /// The claims an ID token or userinfo may carry.
    pub claims_supported: [&'static str; 17],
    /// RFC 9207: every authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// The prompts understood.
    pub prompt_values_supported: [&'static str; 4],
    /// The logout endpoint takes `id_token_hint` and ends the login.
    pub frontchannel_logout_supported: bool,
    /// Request objects are not supported.
    pub request_parameter_supported: bool,
    /// Request URIs are not supported.
    pub request_uri_parameter_supported: bool,
}

/// The metadata for this issuer (`public_url`, no trailing slash).
pub fn metadata(issuer: &str) -> ProviderMetadata {
    let at = |path: &str| format!("{issuer}{path}");
    ProviderMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: at("/oauth/authorize"),
        token_endpoint: at("/oauth/token"),
        userinfo_endpoint: at("/oauth/userinfo"),
        jwks_uri: at("/.well-known/jwks.json"),
        revocation_endpoint: at("/oauth/revoke"),
        introspection_endpoint: at("/oauth/introspect"),
        end_session_endpoint: at("/oauth/logout"),
        scopes_supported: SUPPORTED_SCOPES,
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256", "ES256"],
        token_endpoint_auth_methods_supported: [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        revocation_endpoint_auth_methods_supported: [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        introspection_endpoint_auth_methods_supported: [
            "client_secret_basic",
            "client_secret_post",
        ],
        code_challenge_methods_supported: ["S256"],
        claims_supported: [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "sid",
            "name",
            "nickname",
            "preferred_username",
            "given_name",
            "family_name",
            "email",
            "email_verified",
            "client_id",
        ],
        authorization_response_iss_parameter_supported: true,
        prompt_values_supported: ["none", "login", "consent", "select_account"],
        frontchannel_logout_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    }
}
