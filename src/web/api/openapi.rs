//! The OpenAPI 3 document of the JSON API, generated from the handlers' annotations.

//!
//! Every schema comes from a type the handlers use: the request types they parse bodies into
//! and the response types they answer with (`body.rs`), the error bodies `ApiError` builds
//! (`error.rs`), the user object and the health answer.

use actix_web::{HttpResponse, web};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::body::{
    AccessTokenResponse, CreatedResponse, CredentialsRequest, CurrentPasswordRequest, EmailRequest,
    EmptyResponse, NinjaPairResponse, PairResponse, ProfileReplaceRequest, ProfileRequest,
    RefreshRequest, RefreshResponse, RegisterRequest, RegisteredResponse, ResetConfirmRequest,
    SetEmailRequest, SetPasswordRequest, UidTokenRequest, UserPageResponse, UsersListResponse,
    VerifyRequest,
};
use super::error::{BadRequest, Detail};
use super::{compat, jwt, restauth, sessions, social, users};
use crate::domain::FieldErrors;
use crate::web::health::{self, HealthResponse};
use crate::web::jwks;

/// Answers any operation may give besides its own: a request that could not be read (400),
/// on Djoser's routes a bad `Authorization` header (401), a body too slow, too large or of
/// another type (408, 413, 415), the per-IP or per-account limits (429), and a database that
/// cannot be reached (503).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let detail = |text: &str| {
            ResponseBuilder::new()
                .description(text)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Detail")))
                        .build(),
                )
                .build()
        };
        let bad_request = ResponseBuilder::new()
            .description("The request could not be read, or its fields were refused")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("BadRequest")))
                    .build(),
            )
            .build();
        let unauthorized =
            detail("A present but invalid Authorization header (DRF authenticates first)");
        for (path, item) in &mut openapi.paths.paths {
            let djoser = path.starts_with("/auth/users");
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let mut add = |code: &str, response: &Response| {
                    responses
                        .entry(code.to_owned())
                        .or_insert_with(|| RefOr::T(response.clone()));
                };
                add("400", &bad_request);
                if djoser {
                    add("401", &unauthorized);
                }
                if operation.request_body.is_some() {
                    add("408", &detail("The body was not received in time"));
                    add("413", &detail("The body is larger than `max_body_bytes`"));
                    add("415", &detail("The body is neither JSON nor form-encoded"));
                }
                add("429", &detail("Throttled; see Retry-After"));
                add(
                    "503",
                    &detail(
                        "The database cannot be reached, or hashing is saturated; see Retry-After",
                    ),
                );
            }
        }
    }
}

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey",
        description = "Authentication server: Djoser + SimpleJWT compatible JSON API, with ninja-jwt and FastAPI-style compat routes."
    ),
    paths(
        health::live,
        health::ready,
        jwks::jwks,
        users::create,
        users::list,
        users::me,
        users::me_put,
        users::me_patch,
        users::me_delete,
        sessions::list,
        sessions::end,
        users::set_password,
        users::set_email,
        users::set_email_confirm,
        users::reset_password,
        users::reset_password_confirm,
        users::activation,
        users::resend_activation,
        users::detail,
        users::detail_put,
        users::detail_patch,
        users::detail_delete,
        jwt::create,
        jwt::refresh,
        jwt::verify,
        jwt::blacklist,
        jwt::logout,
        compat::ninja_pair,
        compat::ninja_refresh,
        compat::ninja_verify,
        compat::ninja_blacklist,
        compat::fastapi_login,
        compat::fastapi_session,
        compat::fastapi_logout,
        restauth::login,
        restauth::logout,
        restauth::user,
        restauth::user_put,
        restauth::user_patch,
        restauth::password_change,
        restauth::password_reset,
        restauth::password_reset_confirm,
        restauth::token_verify,
        restauth::token_refresh,
        restauth::registration,
        restauth::verify_email,
        restauth::resend_email,
        social::login,
    ),
    components(schemas(
        Detail,
        FieldErrors,
        BadRequest,
        CreatedResponse,
        RegisteredResponse,
        EmptyResponse,
        UsersListResponse,
        ProfileReplaceRequest,
        users::UserBody,
        sessions::SessionBody,
        restauth::RestUser,
        restauth::doc::LoginBody,
        restauth::doc::LoginResponse,
        restauth::doc::RefreshBody,
        restauth::doc::TokenBody,
        restauth::doc::RefreshedResponse,
        restauth::doc::UserChangeBody,
        restauth::doc::PasswordChangeBody,
        restauth::doc::EmailBody,
        restauth::doc::ResetConfirmBody,
        restauth::doc::RegistrationBody,
        restauth::doc::RegisteredBody,
        restauth::doc::KeyBody,
        social::doc::SocialLoginBody,
        social::doc::SocialLoginResponse,
        RegisterRequest,
        CredentialsRequest,
        PairResponse,
        RefreshRequest,
        RefreshResponse,
        VerifyRequest,
        ProfileRequest,
        CurrentPasswordRequest,
        SetPasswordRequest,
        SetEmailRequest,
        UserPageResponse,
        NinjaPairResponse,
        AccessTokenResponse,
        HealthResponse,
        EmailRequest,
        UidTokenRequest,
        ResetConfirmRequest,
    )),
    modifiers(&BearerSecurity, &CommonResponses)
)]
struct ApiDoc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/schema")
            .route(web::get().to(schema))
            .default_service(super::allow_only("GET")),
    );
}

/// GET /api/schema/ — the OpenAPI document as JSON.
async fn schema() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
