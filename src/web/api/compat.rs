//! Compat dialects over the same core: django-ninja-jwt (`/api/token/*`) and the FastAPI
//! pattern (`/users/login/`, `/users/session/`). Only the bodies differ.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::body::{
    AccessTokenResponse, CredentialsRequest, EmptyResponse, FromInput, NinjaPairResponse,
    PairResponse, RefreshRequest, VerifyRequest,
};
use super::error::NO_ACTIVE_ACCOUNT;
use super::throttled;
use super::{ApiError, Input, allow_only};
use crate::accounts::User;
use crate::domain::FieldErrors;
use crate::state::AppState;
use crate::tokens::service;
use crate::tokens::{TokenError, UserIdClaim};
use crate::web::client::{BearerHeader, bearer_header, client_meta};

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/api/token/pair", throttled(web::post().to(ninja_pair))),
        (
            "/api/token/refresh",
            throttled(web::post().to(ninja_refresh)),
        ),
        ("/api/token/verify", web::post().to(ninja_verify)),
        ("/api/token/blacklist", web::post().to(ninja_blacklist)),
        ("/users/login", throttled(web::post().to(fastapi_login))),
        ("/users/session", web::post().to(fastapi_session)),
        ("/users/logout", web::post().to(fastapi_logout)),
    ] {
        cfg.service(
            web::resource(path)
                .route(handler)
                .default_service(allow_only("POST")),
        );
    }
}

fn custom(status: StatusCode, body: Value) -> ApiError {
    ApiError::Custom {
        status,
        body,
        www_authenticate: None,
    }
}

/// Reads a ninja body: a malformed request is `{"detail": "Cannot parse request body"}`, a
/// refused field goes through `fields` (ninja words each route's its own way).
fn ninja_body<T: FromInput>(
    input: Result<Input, ApiError>,
    fields: impl FnOnce(FieldErrors) -> ApiError,
) -> Result<T, ApiError> {
    let input = input.map_err(|e| match e {
        ApiError::Parse(_) | ApiError::UnsupportedMediaType(_) | ApiError::Validation(_) => custom(
            StatusCode::BAD_REQUEST,
            json!({"detail": "Cannot parse request body"}),
        ),
        other => other,
    })?;
    T::from_input(&input).map_err(fields)
}

/// ninja's missing-field shape: `{"detail":"Invalid input.","code":"invalid","<field>":"<msg>"}`.
fn ninja_invalid(fields: &[(&str, impl AsRef<str>)]) -> ApiError {
    let mut body = json!({"detail": "Invalid input.", "code": "invalid"});
    for (field, message) in fields {
        body[*field] = json!(message.as_ref());
    }
    custom(StatusCode::BAD_REQUEST, body)
}

fn ninja_token_error(e: TokenError) -> ApiError {
    let detail = match e {
        TokenError::Unexpected(e) => return ApiError::Unexpected(e),
        TokenError::Unavailable => return ApiError::Unavailable,
        TokenError::Throttled { retry_after } => return ApiError::Throttled(retry_after),
        // ninja-jwt does not tell an expired token from an invalid one.
        TokenError::Invalid | TokenError::Expired | TokenError::UserNotFound => {
            "Token is invalid or expired".to_owned()
        }
        other => ApiError::token_message(&other).to_owned(),
    };
    custom(
        StatusCode::UNAUTHORIZED,
        json!({"detail": detail, "code": "token_not_valid"}),
    )
}

/// ninja's answer to a missing token field: one message of the route's own.
fn ninja_token_missing(
    field: &'static str,
    message: &'static str,
) -> impl FnOnce(FieldErrors) -> ApiError {
    move |_| ninja_invalid(&[(field, message)])
}

/// ninja's body for missing credentials: `"<field> is required"` per field.
fn ninja_missing(errors: FieldErrors) -> ApiError {
    let missing: Vec<(&str, String)> = errors
        .iter()
        .map(|(name, _)| (name, format!("{name} is required")))
        .collect();
    ninja_invalid(&missing)
}

/// ninja's answer to a failed login.
fn ninja_login_error(e: TokenError) -> ApiError {
    match e {
        TokenError::InvalidCredentials => custom(
            StatusCode::UNAUTHORIZED,
            json!({"detail": NO_ACTIVE_ACCOUNT, "code": "authentication_failed"}),
        ),
        other => ninja_token_error(other),
    }
}

/// POST /api/token/pair — echoes the identifier field it was given.
#[utoipa::path(
    operation_id = "compat_ninja_pair",
    post,
    path = "/api/token/pair",
    tag = "ninja-jwt",
    request_body = crate::web::api::body::CredentialsRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::body::NinjaPairResponse),
        (status = 400, description = "Bad request", body = crate::web::api::error::Detail),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn ninja_pair(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: Result<Input, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let login: CredentialsRequest = ninja_body(input, ninja_missing)?;
    let meta = client_meta(&req);
    let (identifier, password) = (&login.identifier, &login.password);
    let (_, pair) = service::obtain_pair(&state, identifier, password, &meta, UserIdClaim::Integer)
        .await
        .map_err(ninja_login_error)?;
    Ok(HttpResponse::Ok().json(NinjaPairResponse::new(login, pair.refresh, pair.access)))
}

/// POST /api/token/refresh — always both tokens (the same refresh token when not rotating).
#[utoipa::path(
    operation_id = "compat_ninja_refresh",
    post,
    path = "/api/token/refresh",
    tag = "ninja-jwt",
    request_body = crate::web::api::body::RefreshRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::body::PairResponse),
        (status = 400, description = "Bad request", body = crate::web::api::error::Detail),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn ninja_refresh(
    state: web::Data<AppState>,
    input: Result<Input, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body: RefreshRequest =
        ninja_body(input, ninja_token_missing("refresh", "token is required"))?;
    let refreshed = service::refresh(&state, &body.refresh, UserIdClaim::Integer)
        .await
        .map_err(ninja_token_error)?;
    Ok(HttpResponse::Ok().json(PairResponse {
        refresh: refreshed.refresh.unwrap_or(body.refresh),
        access: refreshed.access,
    }))
}

/// POST /api/token/verify — `{}`; blacklisted → 400 as ninja answers.
#[utoipa::path(
    operation_id = "compat_ninja_verify",
    post,
    path = "/api/token/verify",
    tag = "ninja-jwt",
    request_body = crate::web::api::body::VerifyRequest,
    responses(
        (status = 200, description = "Valid", body = crate::web::api::body::EmptyResponse),
        (status = 400, description = "Bad request", body = crate::web::api::error::Detail),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
    ),
)]
async fn ninja_verify(
    state: web::Data<AppState>,
    input: Result<Input, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let body: VerifyRequest = ninja_body(input, ninja_token_missing("token", "token is required"))?;
    match service::verify(&state, &body.token).await {
        Ok(()) => Ok(HttpResponse::Ok().json(EmptyResponse {})),
        Err(TokenError::Blacklisted) => Err(custom(
            StatusCode::BAD_REQUEST,
            json!({"detail": "Token is blacklisted", "code": "invalid"}),
        )),
        Err(e) => Err(ninja_token_error(e)),
    }
}

/// POST /api/token/blacklist — `{}`.
#[utoipa::path(
    operation_id = "compat_ninja_blacklist",
    post,
    path = "/api/token/blacklist",
    tag = "ninja-jwt",
    request_body = crate::web::api::body::RefreshRequest,
    responses(
        (status = 200, description = "Blacklisted", body = crate::web::api::body::EmptyResponse),
        (status = 400, description = "Bad request", body = crate::web::api::error::Detail),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
    ),
)]
async fn ninja_blacklist(
    state: web::Data<AppState>,
    input: Result<Input, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let missing = ninja_token_missing("refresh", "refresh token is required");
    let body: RefreshRequest = ninja_body(input, missing)?;
    service::blacklist(&state, &body.refresh)
        .await
        .map_err(ninja_token_error)?;
    Ok(HttpResponse::Ok().json(EmptyResponse {}))
}

/// FastAPI's 401: `{"detail":"Could not validate credentials"}` with `WWW-Authenticate: Bearer`.
fn could_not_validate() -> ApiError {
    ApiError::Custom {
        status: StatusCode::UNAUTHORIZED,
        body: json!({"detail": "Could not validate credentials"}),
        www_authenticate: Some("Bearer"),
    }
}

fn fastapi_answer(user: User, access: String) -> HttpResponse {
    HttpResponse::Ok().json(AccessTokenResponse {
        access_token: access,
        token_type: "Bearer",
        user: user.into(),
    })
}

/// FastAPI's request-validation shape (422), one entry per refused field.
fn fastapi_invalid(errors: FieldErrors) -> ApiError {
    let detail: Vec<Value> = errors
        .iter()
        .map(|(field, messages)| match messages.first().map(String::as_str) {
            Some("This field is required.") => {
                json!({"type": "missing", "loc": ["body", field], "msg": "Field required", "input": null})
            }
            other => {
                json!({"type": "value_error", "loc": ["body", field], "msg": other.unwrap_or_default(), "input": null})
            }
        })
        .collect();
    custom(StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": detail}))
}

/// POST /users/login/ — what an Auth.js Credentials `authorize()` posts.
#[utoipa::path(
    operation_id = "compat_fastapi_login",
    post,
    path = "/users/login/",
    tag = "fastapi",
    request_body = crate::web::api::body::CredentialsRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::body::AccessTokenResponse),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
        (status = 422, description = "Missing fields (FastAPI's shape)"),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn fastapi_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let login = CredentialsRequest::from_input(&input).map_err(fastapi_invalid)?;
    let meta = client_meta(&req);
    match service::obtain_access(&state, &login.identifier, &login.password, &meta).await {
        Ok((user, access)) => Ok(fastapi_answer(user, access)),
        Err(TokenError::Unexpected(e)) => Err(ApiError::Unexpected(e)),
        Err(TokenError::Unavailable) => Err(ApiError::Unavailable),
        Err(TokenError::Throttled { retry_after }) => Err(ApiError::Throttled(retry_after)),
        Err(_) => Err(could_not_validate()),
    }
}

/// POST /users/session/ — validates the bearer token and re-issues it when close to expiry.
#[utoipa::path(
    operation_id = "compat_fastapi_session",
    post,
    path = "/users/session/",
    tag = "fastapi",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "OK", body = crate::web::api::body::AccessTokenResponse),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
    ),
)]
async fn fastapi_session(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let BearerHeader::Token(token) = bearer_header(&req) else {
        return Err(could_not_validate());
    };
    match service::renew_access(&state, &token).await {
        Ok((user, access)) => Ok(fastapi_answer(user, access)),
        Err(TokenError::Unexpected(e)) => Err(ApiError::Unexpected(e)),
        Err(TokenError::Unavailable) => Err(ApiError::Unavailable),
        Err(_) => Err(could_not_validate()),
    }
}

/// POST /users/logout/ — ends the session of the bearer token (what an Auth.js `signOut` event
/// posts, so signing out ends the session on the server too).
#[utoipa::path(
    operation_id = "compat_fastapi_logout",
    post,
    path = "/users/logout/",
    tag = "fastapi",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session ended; its tokens stop working at once"),
        (status = 401, description = "Unauthorized", body = crate::web::api::error::Detail),
    ),
)]
async fn fastapi_logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let BearerHeader::Token(token) = bearer_header(&req) else {
        return Err(could_not_validate());
    };
    match service::end_session_of(&state, &token).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(TokenError::Unexpected(e)) => Err(ApiError::Unexpected(e)),
        Err(TokenError::Unavailable) => Err(ApiError::Unavailable),
        Err(_) => Err(could_not_validate()),
    }
}
