use super::body::{
    Body, CredentialsRequest, EmptyResponse, PairResponse, RefreshRequest, RefreshResponse,
    VerifyRequest,
};
use super::throttled;
use super::{ApiError, allow_only};
use crate::domain::FieldErrors;
use crate::state::AppState;
use crate::tokens::service;
use crate::tokens::{TokenError, UserIdClaim};
use crate::web::client::client_meta;
use actix_web::{HttpRequest, HttpResponse, web};

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

/// POST /auth/jwt/create/ — `{"refresh","access"}`; one 401 for every kind of bad login.
#[utoipa::path(
    operation_id = "jwt_create",
    post,
    path = "/auth/jwt/create/",
    tag = "jwt",
    request_body = crate::web::api::body::CredentialsRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::body::PairResponse),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(login): Body<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
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
    Ok(HttpResponse::Ok().json(PairResponse {
        refresh: pair.refresh,
        access: pair.access,
    }))
}

/// POST /auth/jwt/refresh/ — `{"access","refresh"}` when rotating, `{"access"}` otherwise.
#[utoipa::path(
    operation_id = "jwt_refresh",
    post,
    path = "/auth/jwt/refresh/",
    tag = "jwt",
    request_body = crate::web::api::body::RefreshRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::body::RefreshResponse),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn refresh(
    state: web::Data<AppState>,
    Body(body): Body<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let refreshed = service::refresh(&state, &body.refresh, UserIdClaim::Text)
        .await
        .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Ok().json(RefreshResponse {
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
    request_body = crate::web::api::body::VerifyRequest,
    responses(
        (status = 200, description = "Valid", body = crate::web::api::body::EmptyResponse),
        (status = 400, description = "Blacklisted", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn verify(
    state: web::Data<AppState>,
    Body(body): Body<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    match service::verify(&state, &body.token).await {
        Ok(()) => Ok(HttpResponse::Ok().json(EmptyResponse {})),
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
    request_body = crate::web::api::body::RefreshRequest,
    responses(
        (status = 200, description = "Blacklisted", body = crate::web::api::body::EmptyResponse),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn blacklist(
    state: web::Data<AppState>,
    Body(body): Body<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    service::blacklist(&state, &body.refresh)
        .await
        .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Ok().json(EmptyResponse {}))
}

/// POST /auth/logout/ — the same as blacklist, under the name front ends call.
#[utoipa::path(
    operation_id = "jwt_logout",
    post,
    path = "/auth/logout/",
    tag = "jwt",
    request_body = crate::web::api::body::RefreshRequest,
    responses(
        (status = 200, description = "Logged out", body = crate::web::api::body::EmptyResponse),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn logout(
    state: web::Data<AppState>,
    body: Body<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    blacklist(state, body).await
}
