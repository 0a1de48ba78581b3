//! The OpenAPI 3 document of the JSON API, generated from the handlers' annotations.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{compat, jwt, users};
use crate::web::health;

/// `{"detail": …}` with SimpleJWT's optional `code`.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    detail: String,
    code: Option<String>,
}

/// DRF's field errors: `{"<field>": ["message", …]}` (`non_field_errors` for the whole body).
#[derive(Serialize, ToSchema)]
#[schema(as = FieldErrors)]
pub struct FieldErrorsBody(BTreeMap<String, Vec<String>>);

/// Registration fields.
#[derive(Serialize, ToSchema)]
pub struct RegisterRequest {
    email: String,
    /// Defaults to the lower-cased email.
    username: Option<String>,
    password: String,
    /// Required when `LATCHKEY_USER_CREATE_PASSWORD_RETYPE` is on.
    re_password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// Login credentials: the identifier (a username or an email) under `username` or `email`.
#[derive(Serialize, ToSchema)]
pub struct CredentialsRequest {
    username: Option<String>,
    email: Option<String>,
    password: String,
}

/// A token pair.
#[derive(Serialize, ToSchema)]
pub struct PairResponse {
    refresh: String,
    access: String,
}

/// `{"refresh": …}`.
#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    refresh: String,
}

/// A new access token, and the rotated refresh token when rotation is on.
#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    access: String,
    refresh: Option<String>,
}

/// `{"token": …}` (an access or a refresh token).
#[derive(Serialize, ToSchema)]
pub struct VerifyRequest {
    token: String,
}

/// Writable profile fields (`email` is required on PUT).
#[derive(Serialize, ToSchema)]
pub struct ProfileRequest {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// `{"current_password": …}`.
#[derive(Serialize, ToSchema)]
pub struct CurrentPasswordRequest {
    current_password: String,
}

/// set_password fields.
#[derive(Serialize, ToSchema)]
pub struct SetPasswordRequest {
    new_password: String,
    /// Required when `LATCHKEY_SET_PASSWORD_RETYPE` is on; ignored otherwise.
    re_new_password: Option<String>,
    current_password: String,
}

/// set_email fields.
#[derive(Serialize, ToSchema)]
pub struct SetEmailRequest {
    new_email: String,
    current_password: String,
}

/// DRF's page of users (`?page=N`).
#[derive(Serialize, ToSchema)]
pub struct UserPageResponse {
    count: i64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<users::UserBody>,
}

/// ninja-jwt's pair: the identifier field as given (`username` or `email`) plus the tokens.
#[derive(Serialize, ToSchema)]
pub struct NinjaPairResponse {
    username: Option<String>,
    email: Option<String>,
    refresh: String,
    access: String,
}

/// The FastAPI-style login answer.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenResponse {
    access_token: String,
    /// Always "Bearer".
    token_type: String,
    user: users::UserBody,
}

/// `{"email": …}`.
#[derive(Serialize, ToSchema)]
pub struct EmailRequest {
    email: String,
}

/// `{"uid": …, "token": …}` from a mailed link.
#[derive(Serialize, ToSchema)]
pub struct UidTokenRequest {
    uid: String,
    token: String,
}

/// reset_password_confirm fields.
#[derive(Serialize, ToSchema)]
pub struct ResetConfirmRequest {
    uid: String,
    token: String,
    new_password: String,
    /// Required when `LATCHKEY_PASSWORD_RESET_CONFIRM_RETYPE` is on.
    re_new_password: Option<String>,
}

/// `{"status": "ok" | "unavailable"}`.
#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    status: String,
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
        users::create,
        users::list,
        users::me,
        users::me_put,
        users::me_patch,
        users::me_delete,
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
    ),
    components(schemas(
        Detail,
        FieldErrorsBody,
        users::UserBody,
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
    modifiers(&BearerSecurity)
)]
struct ApiDoc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/schema", web::get().to(schema));
}

/// GET /api/schema/ — the OpenAPI document as JSON.
async fn schema() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
