//! The OpenID provider's machine-to-machine endpoints: discovery, token, userinfo, revocation
//! and introspection. Form bodies in, RFC 6749 JSON out (`{"error", "error_description"}`),
//! never cached. The browser endpoints (authorize, logout) are pages, in [`super::html`].

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::oidc::{self, ClientCredentials, ErrorCode, OidcError, TokenRequest};
use crate::state::AppState;
use crate::web::api::allow_only;
use crate::web::client::{BearerHeader, bearer_header, client_meta};

/// The discovery document's path under the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Paths any origin may call from a browser: they carry no cookie, only what the caller sends
/// (a public client's code and verifier, a bearer token), so CORS opens them to single-page
/// apps without trusting their origins.
pub fn is_open_to_any_origin(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        DISCOVERY_PATH
            | "/.well-known/jwks.json"
            | "/oauth/token"
            | "/oauth/userinfo"
            | "/oauth/revoke"
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(DISCOVERY_PATH)
            .route(web::get().to(discovery))
            .default_service(allow_only("GET")),
    )
    .service(
        web::resource("/oauth/token")
            .route(web::post().to(token))
            .default_service(allow_only("POST")),
    )
    .service(
        web::resource("/oauth/userinfo")
            .route(web::get().to(userinfo))
            .route(web::post().to(userinfo))
            .default_service(allow_only("GET, POST")),
    )
    .service(
        web::resource("/oauth/revoke")
            .route(web::post().to(revoke))
            .default_service(allow_only("POST")),
    )
    .service(
        web::resource("/oauth/introspect")
            .route(web::post().to(introspect))
            .default_service(allow_only("POST")),
    );
}

/// GET /.well-known/openid-configuration
async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let metadata = oidc::metadata(&state.settings.server.public_url);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(metadata)
}

/// An RFC 6749 §5.2 error response (RFC 6750 §3 for bearer endpoints).
struct Failure(OidcError);

impl From<OidcError> for Failure {
    fn from(e: OidcError) -> Self {
        Self(e)
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl actix_web::ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            OidcError::Refused { code, .. } => match code {
                ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
                ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            },
            OidcError::NoRedirect(_) => StatusCode::BAD_REQUEST,
            OidcError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            OidcError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::PRAGMA, "no-cache"));
        let (code, description) = match &self.0 {
            OidcError::Refused { code, description } => (code.as_str(), *description),
            OidcError::NoRedirect(_) => ("invalid_request", "the request is malformed"),
            OidcError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
                ("temporarily_unavailable", "try again in a moment")
            }
            OidcError::Unexpected(e) => {
                tracing::error!(error.chain = %crate::telemetry::error_chain(e.as_ref()), "OpenID endpoint failed");
                ("server_error", "the server failed; the log has the cause")
            }
        };
        match &self.0 {
            OidcError::Refused {
                code: ErrorCode::InvalidClient,
                ..
            } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"latchkey\""));
            }
            OidcError::Refused {
                code: code @ (ErrorCode::InvalidToken | ErrorCode::InsufficientScope),
                description,
            } => {
                let challenge = format!(
                    "Bearer realm=\"latchkey\", error=\"{code}\", error_description=\"{description}\""
                );
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            _ => {}
        }
        response.json(serde_json::json!({"error": code, "error_description": description}))
    }
}

fn invalid_request(description: &'static str) -> Failure {
    Failure(OidcError::refused(ErrorCode::InvalidRequest, description))
}

/// A form body (RFC 6749 §3.2: `application/x-www-form-urlencoded`; a parameter given twice is
/// refused, as §3.1 requires).
fn form<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, Failure> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| invalid_request("the form is malformed or repeats a parameter"))
}

/// The client's credentials: `Authorization: Basic` (each part form-url-decoded, RFC 6749
/// §2.3.1, as openid-client sends them) and the body's `client_id`/`client_secret`.
fn credentials(
    req: &HttpRequest,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<ClientCredentials, Failure> {
    let basic = match req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::to_str)
    {
        None => None,
        Some(Ok(value)) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
            Some(basic_credentials(value[6..].trim()).ok_or_else(|| {
                Failure(OidcError::refused(
                    ErrorCode::InvalidClient,
                    "the Basic credentials are malformed",
                ))
            })?)
        }
        Some(_) => {
            return Err(invalid_request(
                "client authentication must use the Basic scheme",
            ));
        }
    };
    Ok(ClientCredentials {
        basic,
        client_id,
        client_secret,
    })
}

fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |part: &str| -> String {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// The token endpoint's answers are never stored anywhere (RFC 6749 §5.1).
fn no_store(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(flatten)]
    request: TokenRequest,
}

/// POST /oauth/token
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let TokenForm {
        client_id,
        client_secret,
        request,
    } = form(&req, &body)?;
    let credentials = credentials(&req, client_id, client_secret)?;
    let client = oidc::authenticate_client(&state, &credentials).await?;
    let issued = oidc::token(&state, &client, &request, &client_meta(&req)).await?;
    let mut body = serde_json::json!({
        "access_token": issued.tokens.access_token,
        "token_type": "Bearer",
        "expires_in": issued.tokens.expires_in,
        "id_token": issued.tokens.id_token,
        "scope": issued.tokens.scope,
    });
    if let (Some(refresh), Some(map)) = (issued.refresh_token, body.as_object_mut()) {
        map.insert("refresh_token".into(), refresh.into());
    }
    Ok(no_store(body))
}

/// GET/POST /oauth/userinfo
async fn userinfo(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Failure> {
    let token = match bearer_header(&req) {
        BearerHeader::Token(token) => token,
        BearerHeader::Missing | BearerHeader::Malformed => {
            return Ok(HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"latchkey\""))
                .json(serde_json::json!({"error": "invalid_request", "error_description": "send the access token as Authorization: Bearer"})));
        }
    };
    let profile = oidc::userinfo(&state, &token).await?;
    Ok(HttpResponse::Ok().json(profile))
}

#[derive(Deserialize)]
struct TokenOnlyForm {
    token: Option<String>,
    #[serde(rename = "token_type_hint")]
    _hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The authenticated client and the `token` of a revocation or introspection request.
async fn client_and_token(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(crate::oauth::Client, String), Failure> {
    let form: TokenOnlyForm = form(req, body)?;
    let credentials = credentials(req, form.client_id, form.client_secret)?;
    let client = oidc::authenticate_client(state, &credentials).await?;
    let token = form
        .token
        .ok_or_else(|| invalid_request("token is required"))?;
    Ok((client, token))
}

/// POST /oauth/revoke — RFC 7009: 200 whatever the token was.
async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let (client, token) = client_and_token(&state, &req, &body).await?;
    oidc::revoke(&state, &client, &token).await?;
    Ok(HttpResponse::Ok().finish())
}

/// POST /oauth/introspect — RFC 7662, for confidential clients.
async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Failure> {
    let (client, token) = client_and_token(&state, &req, &body).await?;
    let answer = oidc::introspect(&state, &client, &token).await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[cfg(test)]
mod tests {
    use super::basic_credentials;
    use base64::Engine;

    #[test]
    fn basic_parts_are_form_url_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%3Aclient:s%2Be+cret%25");
        assert_eq!(
            basic_credentials(&encoded),
            Some(("my:client".to_owned(), "s+e cret%".to_owned()))
        );
        assert_eq!(basic_credentials("%%%"), None);
    }
}
