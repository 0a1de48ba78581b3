//! The dj-rest-auth dialect (7.2 with SimpleJWT, `JWT_AUTH_HTTPONLY = False`) under both
//! `/dj-rest-auth/` (its docs' prefix) and `/api/auth/` (where front ends written against the
//! tutorials' Django back ends find it): login, logout, the user, password change and reset,
//! token verify and refresh. The same core as every other dialect; only the words differ:
//! dj-rest-auth answers a bad login with `400 {"non_field_errors": [...]}`, not `401`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::DateTime;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::BearerUser;
use super::error::REQUIRED;
use super::throttled;
use super::{ApiError, Input, allow_only};
use crate::accounts::{self, AccountsError, Actor, ProfileChanges, Registered, Registration, User};
use crate::domain::{Email, FieldErrors, PersonName, Username};
use crate::state::AppState;
use crate::tokens::service::{self, TokenPair};
use crate::tokens::{TokenError, UserIdClaim};
use crate::web::client::client_meta;

/// The prefixes the dialect is served under.
const PREFIXES: [&str; 2] = ["/dj-rest-auth", "/api/auth"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    for prefix in PREFIXES {
        let at = |path: &str| format!("{prefix}{path}");
        for (path, route) in [
            ("/login", throttled(web::post().to(login))),
            ("/logout", web::post().to(logout)),
            ("/password/change", web::post().to(password_change)),
            ("/password/reset", throttled(web::post().to(password_reset))),
            (
                "/password/reset/confirm",
                throttled(web::post().to(password_reset_confirm)),
            ),
            ("/token/verify", web::post().to(token_verify)),
            ("/registration", throttled(web::post().to(registration))),
            (
                "/registration/verify-email",
                throttled(web::post().to(verify_email)),
            ),
            (
                "/registration/resend-email",
                throttled(web::post().to(resend_email)),
            ),
            ("/token/refresh", throttled(web::post().to(token_refresh))),
        ] {
            cfg.service(
                web::resource(at(path))
                    .route(route)
                    .default_service(allow_only("POST")),
            );
        }
        cfg.service(
            web::resource(at("/user"))
                .route(web::get().to(user))
                .route(web::put().to(user_put))
                .route(web::patch().to(user_patch))
                .default_service(allow_only("GET, PUT, PATCH")),
        );
    }
}

/// dj-rest-auth's `UserDetailsSerializer`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestUser {
    pk: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
}

impl From<User> for RestUser {
    fn from(user: User) -> Self {
        Self {
            pk: user.id,
            username: user.username,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
        }
    }
}

fn custom(status: StatusCode, body: Value) -> ApiError {
    ApiError::Custom {
        status,
        body,
        www_authenticate: None,
    }
}

fn non_field(message: &str) -> ApiError {
    ApiError::Validation(FieldErrors::one("non_field_errors", message))
}

/// A required text field (DRF's `This field is required.` / `may not be blank` messages).
fn required(input: &Input, name: &str, errors: &mut FieldErrors) -> Option<String> {
    input.required(name, false, errors)
}

/// DRF's rendering of an expiry: ISO 8601 UTC with microseconds and `Z`.
fn expiration(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The `exp` of a token this server just signed (read, not verified: it is our own).
fn exp_of(token: &str) -> i64 {
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|claims| claims["exp"].as_i64())
        .unwrap_or_default()
}

/// The login body's identifier (the email wins when both are sent) and password.
fn credentials(input: &Input) -> Result<(String, String), ApiError> {
    let mut errors = FieldErrors::new();
    let password = required(input, "password", &mut errors);
    let identifier = input
        .optional("email", true, &mut errors)
        .filter(|e| !e.is_empty())
        .or_else(|| input.optional("username", true, &mut errors))
        .filter(|i| !i.is_empty());
    errors.into_result().map_err(ApiError::Validation)?;
    identifier
        .zip(password)
        .ok_or_else(|| non_field("Must include either \"username\" or \"email\" and \"password\"."))
}

/// POST login/ — `{"username" | "email", "password"}`.
#[utoipa::path(
    operation_id = "restauth_login",
    post,
    path = "/dj-rest-auth/login/",
    tag = "dj-rest-auth",
    request_body = doc::LoginBody,
    responses(
        (status = 200, description = "Logged in", body = doc::LoginResponse),
        (status = 400, description = "Refused (bad credentials too: 400, as dj-rest-auth answers)", body = crate::web::api::error::BadRequest),
    ),
)]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let (identifier, password) = credentials(&input)?;
    let meta = client_meta(&req);
    let (user, pair) = match service::obtain_pair(
        &state,
        &identifier,
        &password,
        &meta,
        UserIdClaim::Text,
    )
    .await
    {
        Err(TokenError::InvalidCredentials) => {
            return Err(non_field("Unable to log in with provided credentials."));
        }
        other => other.map_err(ApiError::from_token_endpoint)?,
    };
    Ok(HttpResponse::Ok().json(login_body(user, pair)))
}

/// dj-rest-auth's `JWTSerializer` body (with `JWT_AUTH_HTTPONLY = False`).
fn login_body(user: User, pair: TokenPair) -> Value {
    json!({
        "access": pair.access,
        "refresh": pair.refresh,
        "user": RestUser::from(user),
    })
}

/// POST logout/ — blacklists `refresh` (its whole session ends).
#[utoipa::path(
    operation_id = "restauth_logout",
    post,
    path = "/dj-rest-auth/logout/",
    tag = "dj-rest-auth",
    request_body = doc::RefreshBody,
    responses(
        (status = 200, description = "The session ended", body = crate::web::api::error::Detail),
        (status = 401, description = "No refresh token, or a bad one", body = crate::web::api::error::Detail),
    ),
)]
async fn logout(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let refresh = input
        .optional("refresh", true, &mut errors)
        .filter(|r| !r.is_empty());
    let Some(refresh) = refresh else {
        return Err(custom(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Refresh token was not included in request data."}),
        ));
    };
    match service::blacklist(&state, &refresh).await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"detail": "Successfully logged out."}))),
        Err(TokenError::Unavailable) => Err(ApiError::Unavailable),
        Err(TokenError::Unexpected(e)) => Err(ApiError::Unexpected(e)),
        Err(other) => Err(custom(
            StatusCode::UNAUTHORIZED,
            json!({"detail": ApiError::token_message(&other)}),
        )),
    }
}

/// GET user/
#[utoipa::path(
    operation_id = "restauth_user",
    get,
    path = "/dj-rest-auth/user/",
    tag = "dj-rest-auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = RestUser),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn user(BearerUser(auth): BearerUser) -> HttpResponse {
    HttpResponse::Ok().json(RestUser::from(auth.user))
}

/// PUT user/ — `username` required (it must stay the same: usernames do not change here).
#[utoipa::path(
    operation_id = "restauth_user_put",
    put,
    path = "/dj-rest-auth/user/",
    tag = "dj-rest-auth",
    security(("bearer" = [])),
    request_body = doc::UserChangeBody,
    responses(
        (status = 200, description = "Changed", body = RestUser),
        (status = 400, description = "Refused", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn user_put(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    update_user(&state, auth.user, &input, true).await
}

/// PATCH user/
#[utoipa::path(
    operation_id = "restauth_user_patch",
    patch,
    path = "/dj-rest-auth/user/",
    tag = "dj-rest-auth",
    security(("bearer" = [])),
    request_body = Option<doc::UserChangeBody>,
    responses(
        (status = 200, description = "Changed", body = RestUser),
        (status = 400, description = "Refused", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn user_patch(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    update_user(&state, auth.user, &input, false).await
}

/// `first_name` and `last_name` change; `pk` and `email` are read-only (ignored, as DRF
/// ignores read-only fields); `username` may only repeat the current one.
fn profile_changes(input: &Input, user: &User, full: bool) -> Result<ProfileChanges, ApiError> {
    let mut errors = FieldErrors::new();
    let username = if full {
        required(input, "username", &mut errors)
    } else {
        input.optional("username", true, &mut errors)
    };
    if username.as_ref().is_some_and(|u| u.trim() != user.username) {
        errors.add("username", "The username cannot be changed.");
    }
    let name = |field: &str, errors: &mut FieldErrors| {
        let raw = input.optional(field, true, errors)?;
        PersonName::parse(&raw)
            .map_err(|e| errors.add(field, e.to_string()))
            .ok()
    };
    let first_name = name("first_name", &mut errors);
    let last_name = name("last_name", &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    Ok(ProfileChanges {
        email: None,
        first_name,
        last_name,
    })
}

async fn update_user(
    state: &AppState,
    user: User,
    input: &Input,
    full: bool,
) -> Result<HttpResponse, ApiError> {
    let changes = profile_changes(input, &user, full)?;
    let (id, actor) = (user.id, Actor::User(user));
    let updated = accounts::update_profile(state, &actor, id, changes).await?;
    Ok(HttpResponse::Ok().json(RestUser::from(updated)))
}

/// How dj-rest-auth words a refused new password: on `new_password2`, the typographic ’ in the
/// mismatch (Django's `SetPasswordForm`).
fn password_word(e: AccountsError) -> ApiError {
    let field = |name: &str, message: &str| ApiError::Validation(FieldErrors::one(name, message));
    match e {
        AccountsError::PasswordMismatch => field(
            "new_password2",
            "The two password fields didn\u{2019}t match.",
        ),
        AccountsError::WeakPassword(problems) => {
            let mut errors = FieldErrors::new();
            errors.extend("new_password2", problems.iter().map(ToString::to_string));
            ApiError::Validation(errors)
        }
        AccountsError::WrongCurrentPassword => field(
            "old_password",
            "Your old password was entered incorrectly. Please enter it again.",
        ),
        AccountsError::CurrentPasswordRequired => field("old_password", REQUIRED),
        AccountsError::InvalidLink => field("token", "Invalid value"),
        other => other.into(),
    }
}

/// An address, with Django's `EmailField` message.
fn allauth_email(raw: &str) -> Result<Email, &'static str> {
    Email::parse(raw).map_err(|_| "Enter a valid email address.")
}

/// The two new-password fields of password change and reset confirmation.
fn new_passwords(input: &Input, errors: &mut FieldErrors) -> Option<(String, String)> {
    let first = required(input, "new_password1", errors);
    let second = required(input, "new_password2", errors);
    first.zip(second)
}

/// POST password/change/ — `old_password` is required (dj-rest-auth's
/// `OLD_PASSWORD_FIELD_ENABLED`: a stolen access token must not be enough to take the account).
#[utoipa::path(
    operation_id = "restauth_password_change",
    post,
    path = "/dj-rest-auth/password/change/",
    tag = "dj-rest-auth",
    security(("bearer" = [])),
    request_body = doc::PasswordChangeBody,
    responses(
        (status = 200, description = "Changed; every other session ended", body = crate::web::api::error::Detail),
        (status = 400, description = "Refused", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn password_change(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let old = required(&input, "old_password", &mut errors);
    let new = new_passwords(&input, &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    let (Some(old), Some((new, again))) = (old, new) else {
        return Err(ApiError::Validation(FieldErrors::one(
            "old_password",
            REQUIRED,
        )));
    };
    let keep = Some(auth.session_id);
    accounts::change_password(&state, &auth.user, &old, new, Some(&again), keep)
        .await
        .map_err(password_word)?;
    Ok(HttpResponse::Ok().json(json!({"detail": "New password has been saved."})))
}

/// POST password/reset/ — the same answer whether or not the address has an account.
#[utoipa::path(
    operation_id = "restauth_password_reset",
    post,
    path = "/dj-rest-auth/password/reset/",
    tag = "dj-rest-auth",
    request_body = doc::EmailBody,
    responses(
        (status = 200, description = "Accepted whether or not the address has an account", body = crate::web::api::error::Detail),
        (status = 400, description = "Not an address", body = crate::web::api::error::BadRequest),
    ),
)]
async fn password_reset(
    state: web::Data<AppState>,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let email = input.parsed("email", true, &mut errors, allauth_email);
    errors.into_result().map_err(ApiError::Validation)?;
    if let Some(email) = email {
        accounts::request_password_reset(&state, &email).await?;
    }
    Ok(HttpResponse::Ok().json(json!({"detail": "Password reset e-mail has been sent."})))
}

/// POST password/reset/confirm/ — `uid`, `token` (the mailed link's) and the new password twice.
#[utoipa::path(
    operation_id = "restauth_password_reset_confirm",
    post,
    path = "/dj-rest-auth/password/reset/confirm/",
    tag = "dj-rest-auth",
    request_body = doc::ResetConfirmBody,
    responses(
        (status = 200, description = "Password set; every session ended", body = crate::web::api::error::Detail),
        (status = 400, description = "Refused", body = crate::web::api::error::BadRequest),
    ),
)]
async fn password_reset_confirm(
    state: web::Data<AppState>,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let new = new_passwords(&input, &mut errors);
    let uid = required(&input, "uid", &mut errors);
    let token = required(&input, "token", &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    let (Some((new, again)), Some(uid), Some(token)) = (new, uid, token) else {
        return Err(ApiError::Validation(FieldErrors::one("token", REQUIRED)));
    };
    accounts::confirm_password_reset(&state, &uid, &token, new, Some(&again))
        .await
        .map_err(password_word)?;
    Ok(
        HttpResponse::Ok()
            .json(json!({"detail": "Password has been reset with the new password."})),
    )
}

/// POST token/verify/ — `{}`, or SimpleJWT's 401.
#[utoipa::path(
    operation_id = "restauth_token_verify",
    post,
    path = "/dj-rest-auth/token/verify/",
    tag = "dj-rest-auth",
    request_body = doc::TokenBody,
    responses(
        (status = 200, description = "Valid", body = crate::web::api::body::EmptyResponse),
        (status = 400, description = "No token", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Invalid, expired or blacklisted", body = crate::web::api::error::Detail),
    ),
)]
async fn token_verify(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let token = required(&input, "token", &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    let token = token.unwrap_or_default();
    service::verify(&state, &token)
        .await
        .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// POST token/refresh/ — rotating: `{"access", "refresh", "access_expiration",
/// "refresh_expiration"}` (the rotated-in refresh token; the same one when rotation is off).
#[utoipa::path(
    operation_id = "restauth_token_refresh",
    post,
    path = "/dj-rest-auth/token/refresh/",
    tag = "dj-rest-auth",
    request_body = doc::RefreshBody,
    responses(
        (status = 200, description = "Rotated", body = doc::RefreshedResponse),
        (status = 401, description = "No token, or a bad one", body = crate::web::api::error::Detail),
    ),
)]
async fn token_refresh(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let refresh = input
        .optional("refresh", true, &mut errors)
        .filter(|r| !r.is_empty());
    errors.into_result().map_err(ApiError::Validation)?;
    let Some(refresh) = refresh else {
        return Err(ApiError::token_not_valid("No valid refresh token found."));
    };
    let refreshed = service::refresh(&state, &refresh, UserIdClaim::Text)
        .await
        .map_err(ApiError::from_token_endpoint)?;
    let refresh = refreshed.refresh.unwrap_or(refresh);
    let (access_expiration, refresh_expiration) = (
        expiration(exp_of(&refreshed.access)),
        expiration(exp_of(&refresh)),
    );
    Ok(HttpResponse::Ok().json(json!({
        "access": refreshed.access,
        "refresh": refresh,
        "access_expiration": access_expiration,
        "refresh_expiration": refresh_expiration,
    })))
}

/// allauth's words for a refused registration.
fn registration_word(e: AccountsError) -> ApiError {
    let field = |name: &str, message: &str| ApiError::Validation(FieldErrors::one(name, message));
    match e {
        AccountsError::Taken { username, email } => {
            let mut errors = FieldErrors::new();
            if username {
                errors.add("username", "A user with that username already exists.");
            }
            if email {
                errors.add(
                    "email",
                    "User is already registered with this e-mail address.",
                );
            }
            ApiError::Validation(errors)
        }
        AccountsError::WeakPassword(problems) => {
            let mut errors = FieldErrors::new();
            errors.extend("password1", problems.iter().map(ToString::to_string));
            ApiError::Validation(errors)
        }
        AccountsError::PasswordMismatch => {
            field("non_field_errors", "The two password fields didn't match.")
        }
        other => other.into(),
    }
}

/// The registration body: `username`, `email`, `password1`, `password2`.
fn registration_fields(input: &Input) -> Result<Registration, ApiError> {
    let mut errors = FieldErrors::new();
    let username = input.parsed("username", true, &mut errors, Username::parse);
    let email = input.parsed("email", true, &mut errors, allauth_email);
    let password = required(input, "password1", &mut errors);
    let again = required(input, "password2", &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    match (username, email, password, again) {
        (Some(username), Some(email), Some(password), Some(again)) => Ok(Registration {
            email,
            username: Some(username),
            first_name: PersonName::default(),
            last_name: PersonName::default(),
            password,
            password_retype: Some(again),
        }),
        _ => Err(ApiError::Validation(FieldErrors::one(
            "password1",
            REQUIRED,
        ))),
    }
}

/// POST registration/ — 201 with tokens and the user when accounts start active, or
/// `{"detail": "Verification e-mail sent."}` when they wait for their activation link (and,
/// with `prevent_enumeration`, for an address that already has an account).
#[utoipa::path(
    operation_id = "restauth_registration",
    post,
    path = "/dj-rest-auth/registration/",
    tag = "dj-rest-auth",
    request_body = doc::RegistrationBody,
    responses(
        (status = 201, description = "Created: the login body, or `{\"detail\": \"Verification e-mail sent.\"}` when the account waits for its link", body = doc::RegisteredBody),
        (status = 400, description = "Refused", body = crate::web::api::error::BadRequest),
    ),
)]
async fn registration(
    state: web::Data<AppState>,
    req: HttpRequest,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let registration = registration_fields(&input)?;
    let password = registration.password.clone();
    let sent = || HttpResponse::Created().json(json!({"detail": "Verification e-mail sent."}));
    let user = match accounts::register(&state, registration).await {
        Ok(Registered::Created(user)) if user.is_active => user,
        Ok(_) => return Ok(sent()),
        Err(e) => return Err(registration_word(e)),
    };
    let meta = client_meta(&req);
    let (user, pair) =
        service::obtain_pair(&state, &user.username, &password, &meta, UserIdClaim::Text)
            .await
            .map_err(ApiError::from_token_endpoint)?;
    Ok(HttpResponse::Created().json(login_body(user, pair)))
}

/// POST registration/verify-email/ — `{"key"}`: the activation link's `{uid}:{token}` (set
/// `activation_url` to, for example, `account-confirm-email/{uid}:{token}/`).
#[utoipa::path(
    operation_id = "restauth_verify_email",
    post,
    path = "/dj-rest-auth/registration/verify-email/",
    tag = "dj-rest-auth",
    request_body = doc::KeyBody,
    responses(
        (status = 200, description = "Activated", body = crate::web::api::error::Detail),
        (status = 400, description = "No key", body = crate::web::api::error::BadRequest),
        (status = 404, description = "Unknown, used or expired key", body = crate::web::api::error::Detail),
    ),
)]
async fn verify_email(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let key = required(&input, "key", &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    let key = key.unwrap_or_default();
    let Some((uid, token)) = key.trim().split_once(':') else {
        return Err(ApiError::NotFound("Not found."));
    };
    match accounts::activate(&state, uid, token).await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"detail": "ok"}))),
        Err(AccountsError::InvalidLink | AccountsError::NotAwaitingActivation) => {
            Err(ApiError::NotFound("Not found."))
        }
        Err(e) => Err(e.into()),
    }
}

/// POST registration/resend-email/ — `{"detail": "ok"}` whatever the address.
#[utoipa::path(
    operation_id = "restauth_resend_email",
    post,
    path = "/dj-rest-auth/registration/resend-email/",
    tag = "dj-rest-auth",
    request_body = doc::EmailBody,
    responses(
        (status = 200, description = "Accepted whatever the address", body = crate::web::api::error::Detail),
        (status = 400, description = "Not an address", body = crate::web::api::error::BadRequest),
    ),
)]
async fn resend_email(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let email = input.parsed("email", true, &mut errors, allauth_email);
    errors.into_result().map_err(ApiError::Validation)?;
    if let Some(email) = email {
        match accounts::resend_activation(&state, &email).await {
            // With activation off there is nothing to resend: the same answer.
            Ok(()) | Err(AccountsError::ActivationDisabled) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(HttpResponse::Ok().json(json!({"detail": "ok"})))
}

// The bodies as the OpenAPI document describes them (the handlers read them field by field,
// with DRF's messages).
pub mod doc {
    #![expect(
        dead_code,
        reason = "these types only describe bodies in the OpenAPI document; nothing reads them"
    )]
    use super::RestUser;
    use utoipa::ToSchema;

    /// `login/`: the identifier under `username` or `email` (the email wins), and the password.
    #[derive(ToSchema)]
    pub struct LoginBody {
        #[schema(nullable = false)]
        username: Option<String>,
        #[schema(nullable = false)]
        email: Option<String>,
        #[schema(min_length = 1)]
        password: String,
    }

    /// dj-rest-auth's `JWTSerializer` with `JWT_AUTH_HTTPONLY = False`.
    #[derive(ToSchema)]
    pub struct LoginResponse {
        access: String,
        refresh: String,
        user: RestUser,
    }

    /// `{"refresh"}`.
    #[derive(ToSchema)]
    pub struct RefreshBody {
        refresh: String,
    }

    /// `{"token"}`.
    #[derive(ToSchema)]
    pub struct TokenBody {
        #[schema(min_length = 1)]
        token: String,
    }

    /// `token/refresh/`'s answer.
    #[derive(ToSchema)]
    pub struct RefreshedResponse {
        access: String,
        refresh: String,
        /// ISO 8601, UTC, microseconds, `Z`.
        access_expiration: String,
        /// ISO 8601, UTC, microseconds, `Z`.
        refresh_expiration: String,
    }

    /// `user/` changes: the names; `username` may only repeat the current one (required on PUT).
    #[derive(ToSchema)]
    pub struct UserChangeBody {
        #[schema(nullable = false)]
        username: Option<String>,
        #[schema(nullable = false, max_length = 150)]
        first_name: Option<String>,
        #[schema(nullable = false, max_length = 150)]
        last_name: Option<String>,
    }

    /// `password/change/`.
    #[derive(ToSchema)]
    pub struct PasswordChangeBody {
        #[schema(min_length = 1)]
        old_password: String,
        #[schema(min_length = 1)]
        new_password1: String,
        #[schema(min_length = 1)]
        new_password2: String,
    }

    /// `{"email"}`.
    #[derive(ToSchema)]
    pub struct EmailBody {
        #[schema(format = Email)]
        email: String,
    }

    /// `password/reset/confirm/`: the mailed link's `uid` and `token`, the new password twice.
    #[derive(ToSchema)]
    pub struct ResetConfirmBody {
        #[schema(min_length = 1)]
        new_password1: String,
        #[schema(min_length = 1)]
        new_password2: String,
        #[schema(min_length = 1)]
        uid: String,
        #[schema(min_length = 1)]
        token: String,
    }

    /// `registration/`.
    #[derive(ToSchema)]
    pub struct RegistrationBody {
        #[schema(min_length = 1)]
        username: String,
        #[schema(format = Email)]
        email: String,
        #[schema(min_length = 1)]
        password1: String,
        #[schema(min_length = 1)]
        password2: String,
    }

    /// `registration/`'s 201: the login body, or `detail` when the account waits for its link.
    #[derive(ToSchema)]
    pub struct RegisteredBody {
        #[schema(nullable = false)]
        access: Option<String>,
        #[schema(nullable = false)]
        refresh: Option<String>,
        #[schema(nullable = false)]
        user: Option<RestUser>,
        #[schema(nullable = false)]
        detail: Option<String>,
    }

    /// `{"key"}`: the activation link's `{uid}:{token}`.
    #[derive(ToSchema)]
    pub struct KeyBody {
        #[schema(min_length = 1)]
        key: String,
    }
}
