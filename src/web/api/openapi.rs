//! The OpenAPI 3 document of the JSON API, generated from the handlers' annotations.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{compat, jwt, users};
use crate::web::health;

/// `{"detail": …}` with SimpleJWT's optional `code`.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    detail: String,
    #[schema(nullable = false)]
    code: Option<String>,
}

/// DRF's field errors: `{"<field>": ["message", …]}` (`non_field_errors` for the whole body).
#[derive(Serialize, ToSchema)]
#[schema(as = FieldErrors)]
pub struct FieldErrorsBody(BTreeMap<String, Vec<String>>);

/// A 400: DRF's field errors, or `{"detail": …}` for a body that could not be read.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "schema only: describes bodies the error mapping builds"
)]
pub enum BadRequest {
    /// `{"<field>": ["message", …]}`.
    Fields(FieldErrorsBody),
    /// `{"detail": "JSON parse error - …"}` and the like.
    Detail(Detail),
}

/// Registration fields. The password must also pass the policy (Django's validators), which
/// no schema can say; a taken address or username is a 400 too.
#[derive(Serialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// Defaults to the lower-cased email; an email-shaped username must be the account's own.
    #[schema(nullable = false, max_length = 150, pattern = r"^[\w.@+-]*$")]
    username: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    /// Required when `LATCHKEY_USER_CREATE_PASSWORD_RETYPE` is on.
    #[schema(nullable = false)]
    re_password: Option<String>,
    #[schema(nullable = false, max_length = 150)]
    first_name: Option<String>,
    #[schema(nullable = false, max_length = 150)]
    last_name: Option<String>,
}

/// Login credentials: a username or an email under `username`, or under `email`, and the password.
pub struct CredentialsRequest;

impl utoipa::PartialSchema for CredentialsRequest {
    fn schema() -> RefOr<Schema> {
        let string = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
        };
        let with = |field: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(field, string())
                .property("password", string())
                .required(field)
                .required("password")
        };
        AnyOfBuilder::new()
            .item(with("username"))
            .item(with("email"))
            .description(Some(
                "The identifier (a username or an email) under `username` or `email`.",
            ))
            .into()
    }
}

impl ToSchema for CredentialsRequest {}

/// A token pair.
#[derive(Serialize, ToSchema)]
pub struct PairResponse {
    refresh: String,
    access: String,
}

/// `{"refresh": …}`.
#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(min_length = 1)]
    refresh: String,
}

/// A new access token, and the rotated refresh token when rotation is on.
#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    access: String,
    #[schema(nullable = false)]
    refresh: Option<String>,
}

/// `{"token": …}` (an access or a refresh token).
#[derive(Serialize, ToSchema)]
pub struct VerifyRequest {
    #[schema(min_length = 1)]
    token: String,
}

/// Profile fields to change (PATCH: any of them). `email` may only repeat the current address:
/// a different one is refused (use set_email).
#[derive(Serialize, ToSchema)]
pub struct ProfileRequest {
    #[schema(nullable = false, format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(nullable = false, max_length = 150)]
    first_name: Option<String>,
    #[schema(nullable = false, max_length = 150)]
    last_name: Option<String>,
}

/// Profile fields (PUT): `email` is required and may only repeat the current address.
#[derive(Serialize, ToSchema)]
pub struct ProfileReplaceRequest {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(nullable = false, max_length = 150)]
    first_name: Option<String>,
    #[schema(nullable = false, max_length = 150)]
    last_name: Option<String>,
}

/// `{"current_password": …}`.
#[derive(Serialize, ToSchema)]
pub struct CurrentPasswordRequest {
    #[schema(min_length = 1)]
    current_password: String,
}

/// set_password fields.
#[derive(Serialize, ToSchema)]
pub struct SetPasswordRequest {
    #[schema(min_length = 8, max_length = 1024)]
    new_password: String,
    /// Required when `LATCHKEY_SET_PASSWORD_RETYPE` is on; ignored otherwise.
    #[schema(nullable = false)]
    re_new_password: Option<String>,
    #[schema(min_length = 1)]
    current_password: String,
}

/// set_email fields.
#[derive(Serialize, ToSchema)]
pub struct SetEmailRequest {
    #[schema(format = Email, max_length = 254)]
    new_email: String,
    #[schema(min_length = 1)]
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

/// The user list: Djoser's array, or DRF's page with `?page=N`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "schema only: describes bodies the list handler builds"
)]
pub enum UsersListResponse {
    /// Without `page`.
    All(Vec<users::UserBody>),
    /// With `page`.
    Page(UserPageResponse),
}

/// ninja-jwt's pair: the identifier field as given (`username` or `email`) plus the tokens.
#[derive(Serialize, ToSchema)]
pub struct NinjaPairResponse {
    #[schema(nullable = false)]
    username: Option<String>,
    #[schema(nullable = false)]
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
    #[schema(format = Email, max_length = 254)]
    email: String,
}

/// `{"uid": …, "token": …}` from a mailed link.
#[derive(Serialize, ToSchema)]
pub struct UidTokenRequest {
    #[schema(min_length = 1)]
    uid: String,
    #[schema(min_length = 1)]
    token: String,
}

/// reset_password_confirm fields.
#[derive(Serialize, ToSchema)]
pub struct ResetConfirmRequest {
    #[schema(min_length = 1)]
    uid: String,
    #[schema(min_length = 1)]
    token: String,
    #[schema(min_length = 8, max_length = 1024)]
    new_password: String,
    /// Required when `LATCHKEY_PASSWORD_RESET_CONFIRM_RETYPE` is on.
    #[schema(nullable = false)]
    re_new_password: Option<String>,
}

/// `{"status": "ok" | "unavailable"}`.
#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    status: String,
}

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
        compat::fastapi_logout,
    ),
    components(schemas(
        Detail,
        FieldErrorsBody,
        BadRequest,
        UsersListResponse,
        ProfileReplaceRequest,
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
