use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;

use super::throttled;
use super::{ApiError, Input, allow_only};
use crate::domain::FieldErrors;
use crate::state::AppState;
use crate::tokens::service;
use crate::tokens::{TokenError, UserIdClaim};
use crate::web::client::client_meta;

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/auth/jwt/create", throttled(web::post().to(create))),
        ("/auth/jwt/refresh", throttled(web::post().to(refresh))),
        ("/auth/jwt/verify", web::post().to(verify)),
        ("/auth/jwt/blacklist", web::post().to(blacklist)),
        ("/auth/logout", web::post().to(logout)),
    ] {
        cfg.service(
            web::resource(path)
                .route(handler)
                .default_service(allow_only("POST")),
        );
    }
}

#[derive(Serialize)]
struct Pair {
    refresh: String,
    access: String,
}

#[derive(Serialize)]
struct Refreshed {
    access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh: Option<String>,
}

/// Login credentials from a body.
pub struct Credentials {
    /// The field the identifier came in: `username` or `email` (either may carry either).
    pub field: &'static str,
    /// A username or an email.
    pub identifier: String,
    /// The password as typed.
    pub password: String,
}

/// Reads the identifier (`username`, else `email`) and the password, or every missing field.
pub fn credentials(input: &Input) -> Result<Credentials, FieldErrors> {
    let mut errors = FieldErrors::new();
    let field = if !input.has("username") && input.has("email") {
        "email"
    } else {
        "username"
    };
    let identifier = input.required(field, true, &mut errors);
    let password = input.required("password", false, &mut errors);
    match (identifier, password) {
        (Some(identifier), Some(password)) if errors.is_empty() => Ok(Credentials {
            field,
            identifier,
            password,
        }),
        _ => Err(errors),
    }
}

/// POST /auth/jwt/create/ — `{"refresh","access"}`; one 401 for every kind of bad login.
#[utoipa::path(
    operation_id = "jwt_create",
    post,
    path = "/auth/jwt/create/",
    tag = "jwt",
    request_body = crate::web::api::openapi::CredentialsRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::openapi::PairResponse),
        (status = 400, description = "Field errors", body = crate::web::api::openapi::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::openapi::Detail),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::openapi::Detail),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let login = credentials(&input).map_err(ApiError::Validation)?;
    let meta = client_meta(&req);
    let (_, pair) = service::obtain_pair(
        &state,
        &login.identifier,
        &login.password,
        &meta,
        UserIdClaim::Text,
    )
    .await
    .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Ok().json(Pair {
        refresh: pair.refresh,
        access: pair.access,
    }))
}

fn required_token(input: &Input, field: &str) -> Result<String, ApiError> {
    let mut errors = FieldErrors::new();
    input
        .required(field, true, &mut errors)
        .ok_or(ApiError::Validation(errors))
}

/// POST /auth/jwt/refresh/ — `{"access","refresh"}` when rotating, `{"access"}` otherwise.
#[utoipa::path(
    operation_id = "jwt_refresh",
    post,
    path = "/auth/jwt/refresh/",
    tag = "jwt",
    request_body = crate::web::api::openapi::RefreshRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::openapi::RefreshResponse),
        (status = 400, description = "Field errors", body = crate::web::api::openapi::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::openapi::Detail),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::openapi::Detail),
    ),
)]
async fn refresh(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let token = required_token(&input, "refresh")?;
    let refreshed = service::refresh(&state, &token, UserIdClaim::Text)
        .await
        .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Ok().json(Refreshed {
        access: refreshed.access,
        refresh: refreshed.refresh,
    }))
}

/// POST /auth/jwt/verify/ — `{}`; a blacklisted token is a 400 as in SimpleJWT.
#[utoipa::path(
    operation_id = "jwt_verify",
    post,
    path = "/auth/jwt/verify/",
    tag = "jwt",
    request_body = crate::web::api::openapi::VerifyRequest,
    responses(
        (status = 200, description = "Valid: {}"),
        (status = 400, description = "Blacklisted", body = crate::web::api::openapi::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::openapi::Detail),
    ),
)]
async fn verify(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let token = required_token(&input, "token")?;
    match service::verify(&state, &token).await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({}))),
        Err(TokenError::Blacklisted) => {
            let mut errors = FieldErrors::new();
            errors.add("non_field_errors", "Token is blacklisted");
            Err(ApiError::Validation(errors))
        }
        Err(e) => Err(ApiError::from_token_endpoint(e)),
    }
}

/// POST /auth/jwt/blacklist/ — blacklists the refresh token and ends its session.
#[utoipa::path(
    operation_id = "jwt_blacklist",
    post,
    path = "/auth/jwt/blacklist/",
    tag = "jwt",
    request_body = crate::web::api::openapi::RefreshRequest,
    responses(
        (status = 200, description = "Blacklisted: {}"),
        (status = 400, description = "Field errors", body = crate::web::api::openapi::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::openapi::Detail),
    ),
)]
async fn blacklist(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let token = required_token(&input, "refresh")?;
    service::blacklist(&state, &token)
        .await
        .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// POST /auth/logout/ — the same as blacklist, under the name front ends call.
#[utoipa::path(
    operation_id = "jwt_logout",
    post,
    path = "/auth/logout/",
    tag = "jwt",
    request_body = crate::web::api::openapi::RefreshRequest,
    responses(
        (status = 200, description = "Logged out: {}"),
        (status = 400, description = "Field errors", body = crate::web::api::openapi::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::openapi::Detail),
    ),
)]
async fn logout(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    blacklist(state, input).await
}
