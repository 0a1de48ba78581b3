use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

use super::auth::{BearerUser, drf_authentication};
use super::body::{
    Body, CreatedResponse, CurrentPasswordRequest, EmailRequest, ProfileReplaceRequest,
    ProfileRequest, RegisterRequest, RegisteredResponse, ResetConfirmRequest, SetEmailRequest,
    SetPasswordRequest, UidTokenRequest, UserPageResponse,
};
use super::error::Djoser;
use super::throttled;
use super::{ApiError, allow_only};
use crate::accounts::{self, Actor, Narrowing, PageAt, ProfileChanges, Registered, User, UserPage};
use crate::state::AppState;
use actix_web::middleware::from_fn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Djoser's views authenticate every request, open ones too: a bad `Authorization` header
    // is a 401 even on registration. Fixed paths come first: `/{id}` would swallow them.
    cfg.service(
        web::scope("/auth/users")
            .wrap(from_fn(drf_authentication))
            .service(
                web::resource("")
                    .route(throttled(web::post().to(create)))
                    .route(web::get().to(list))
                    .default_service(allow_only("GET, POST")),
            )
            .service(
                web::resource("/me")
                    .route(web::get().to(me))
                    .route(web::put().to(me_put))
                    .route(web::patch().to(me_patch))
                    .route(web::delete().to(me_delete))
                    .default_service(allow_only("GET, PUT, PATCH, DELETE")),
            )
            .configure(super::sessions::routes)
            .service(post_only("/set_password", web::post().to(set_password)))
            .service(post_only("/set_email", web::post().to(set_email)))
            .service(post_only(
                "/set_email_confirm",
                throttled(web::post().to(set_email_confirm)),
            ))
            .service(post_only(
                "/reset_password",
                throttled(web::post().to(reset_password)),
            ))
            .service(post_only(
                "/reset_password_confirm",
                throttled(web::post().to(reset_password_confirm)),
            ))
            .service(post_only(
                "/activation",
                throttled(web::post().to(activation)),
            ))
            .service(post_only(
                "/resend_activation",
                throttled(web::post().to(resend_activation)),
            ))
            .service(
                web::resource("/{id}")
                    .route(web::get().to(detail))
                    .route(web::put().to(detail_put))
                    .route(web::patch().to(detail_patch))
                    .route(web::delete().to(detail_delete))
                    .default_service(allow_only("GET, PUT, PATCH, DELETE")),
            ),
    );
}

fn post_only(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(allow_only("POST"))
}

/// The user object every endpoint returns: a superset of Djoser's fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserBody {
    id: i64,
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    date_joined: String,
    last_login: Option<String>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            date_joined: drf_datetime(user.date_joined),
            last_login: user.last_login.map(drf_datetime),
        }
    }
}

/// DRF's rendering of a UTC datetime: ISO 8601, microseconds only when non-zero, `Z` suffix.
pub(super) fn drf_datetime(at: NaiveDateTime) -> String {
    if at.nanosecond() == 0 {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// POST /auth/users/ — register.
#[utoipa::path(
    operation_id = "users_create",
    post,
    path = "/auth/users/",
    tag = "users",
    request_body = crate::web::api::body::RegisterRequest,
    responses(
        (status = 201, description = "Created (with enumeration protection: only `email` and `username`)", body = crate::web::api::body::CreatedResponse),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    Body(body): Body<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let registered = accounts::register(&state, body.into()).await;
    let concealed =
        |email, username| CreatedResponse::Concealed(RegisteredResponse { email, username });
    let body = match registered.map_err(|e| Djoser::REGISTER.word(e))? {
        // With enumeration protection every registration answers alike.
        Registered::Created(user) if state.settings.mail.prevent_enumeration => {
            concealed(user.email, user.username)
        }
        Registered::Created(user) => CreatedResponse::User(user.into()),
        Registered::Concealed { email, username } => concealed(email, username),
    };
    Ok(HttpResponse::Created().json(body))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

impl PageQuery {
    fn number(&self) -> Result<i64, ApiError> {
        self.page
            .as_deref()
            .and_then(|raw| raw.parse::<i64>().ok())
            .filter(|n| *n >= 1)
            .ok_or(ApiError::NotFound("Invalid page."))
    }
}

/// Where the asked-for page starts; `None` without `page` (the whole list). `after` and
/// `before` are checked even then.
fn page_at(query: &PageQuery) -> Result<Option<PageAt>, ApiError> {
    let id = |raw: &Option<String>| {
        raw.as_deref()
            .map(|r| {
                r.parse::<i64>()
                    .map_err(|_| ApiError::NotFound("Invalid page."))
            })
            .transpose()
    };
    let (after, before) = (id(&query.after)?, id(&query.before)?);
    if query.page.is_none() {
        return Ok(None);
    }
    Ok(Some(match (after, before) {
        (Some(after), _) => PageAt::After(after),
        (None, Some(before)) => PageAt::Before(before),
        (None, None) => PageAt::Number(query.number()?),
    }))
}

/// Users per round trip to the database when streaming the whole list.
const STREAM_BATCH: i64 = 500;

/// GET /auth/users/ — Djoser's array, streamed in batches (constant memory however many users
/// there are), or DRF's page shape when `?page=N` is given. The `next`/`previous` links carry
/// the id where the page ends (`after`/`before`), so following them costs the same on page
/// 10,000 as on page 1.
#[utoipa::path(
    operation_id = "users_list",
    get,
    path = "/auth/users/",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("page" = Option<i64>, Query, description = "1-based page; answers DRF's page shape when given"),
        ("after" = Option<i64>, Query, description = "With page: the page starts after this user id (set by the next link)"),
        ("before" = Option<i64>, Query, description = "With page: the page ends before this user id (set by the previous link)"),
    ),
    responses(
        (status = 200, description = "An array of users, or a page with ?page=N", body = crate::web::api::body::UsersListResponse),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 404, description = "Invalid page", body = crate::web::api::error::Detail),
    ),
)]
async fn list(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    query: web::Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::User(auth.user);
    let Some(at) = page_at(&query)? else {
        return Ok(stream_users(state.into_inner(), actor));
    };
    let number = query.number()?;
    let size = i64::from(state.settings.accounts.users_page_size);
    let page = accounts::list_users(&state, &actor, Narrowing::default(), at, size).await?;
    if page.users.is_empty() && number > 1 {
        return Err(ApiError::NotFound("Invalid page."));
    }
    Ok(HttpResponse::Ok().json(page_body(&req, number, size, page)))
}

/// DRF's page: `count`, `next`, `previous`, `results`.
fn page_body(req: &HttpRequest, number: i64, size: i64, page: UserPage) -> UserPageResponse {
    let info = req.connection_info();
    let base = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    let (first, last) = (
        page.users.first().map(|u| u.id),
        page.users.last().map(|u| u.id),
    );
    let next = last
        .filter(|_| number.saturating_mul(size) < page.count)
        .map(|id| format!("{base}?page={}&after={id}", number + 1));
    let previous = first
        .filter(|_| number > 1)
        .map(|id| format!("{base}?page={}&before={id}", number - 1));
    UserPageResponse {
        count: page.count,
        next,
        previous,
        results: page.users.into_iter().map(UserBody::from).collect(),
    }
}

/// The whole visible list as one JSON array, written batch by batch.
fn stream_users(state: std::sync::Arc<AppState>, viewer: Actor) -> HttpResponse {
    // (state, viewer, last id sent, whether anything was sent yet, done)
    let start = (state, viewer, 0_i64, false, false);
    let body = futures_util::stream::unfold(
        start,
        |(state, viewer, after, sent, done)| async move {
            if done {
                return None;
            }
            let batch = accounts::users_after(&state, &viewer, after, STREAM_BATCH).await;
            let users = match batch {
                Ok(users) => users,
                Err(e) => {
                    // The status line is gone already: all that is left is to cut the body short.
                    tracing::error!(error.chain = %crate::telemetry::error_chain(&e), "user list stream failed");
                    let error = std::io::Error::other("the user list could not be read");
                    return Some((Err(error), (state, viewer, after, sent, true)));
                }
            };
            let finished = (users.len() as i64) < STREAM_BATCH;
            let next_after = users.last().map_or(after, |u| u.id);
            let mut chunk = String::from(if sent { "" } else { "[" });
            for (i, user) in users.into_iter().enumerate() {
                if sent || i > 0 {
                    chunk.push(',');
                }
                chunk.push_str(&serde_json::to_string(&UserBody::from(user)).unwrap_or_default());
            }
            if finished {
                chunk.push(']');
            }
            let sent = sent || next_after != after;
            let chunk = web::Bytes::from(chunk);
            Some((Ok(chunk), (state, viewer, next_after, sent, finished)))
        },
    );
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body)
}

/// GET /auth/users/me/
#[utoipa::path(
    operation_id = "users_me",
    get,
    path = "/auth/users/me/",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "OK", body = crate::web::api::users::UserBody),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn me(BearerUser(auth): BearerUser) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(auth.user))
}

/// Retrieve or update `target` as `actor` (HIDE_USERS: another user's account is "Not found.").
async fn update(
    state: &AppState,
    actor: User,
    target: i64,
    changes: Result<ProfileChanges, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::User(actor);
    let hidden = |e| Djoser::HIDDEN_USERS.word(e);
    let changes = match changes {
        Ok(changes) => changes,
        // Djoser finds the object (or refuses it) before it reads the fields.
        Err(invalid) => {
            accounts::get_user(state, &actor, target)
                .await
                .map_err(hidden)?;
            return Err(invalid);
        }
    };
    let user = accounts::update_profile(state, &actor, target, changes)
        .await
        .map_err(hidden)?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// PUT /auth/users/me/
#[utoipa::path(
    operation_id = "users_me_put",
    put,
    path = "/auth/users/me/",
    tag = "users",
    security(("bearer" = [])),
    request_body = crate::web::api::body::ProfileReplaceRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::users::UserBody),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn me_put(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    body: Result<Body<ProfileReplaceRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let target = auth.user.id;
    update(&state, auth.user, target, changes(body)).await
}

/// PATCH /auth/users/me/
#[utoipa::path(
    operation_id = "users_me_patch",
    patch,
    path = "/auth/users/me/",
    tag = "users",
    security(("bearer" = [])),
    request_body = Option<crate::web::api::body::ProfileRequest>,
    responses(
        (status = 200, description = "OK", body = crate::web::api::users::UserBody),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn me_patch(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    body: Result<Body<ProfileRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let target = auth.user.id;
    update(&state, auth.user, target, changes(body)).await
}

/// The profile changes of a PUT or PATCH body, kept as a result: Djoser reports a refused
/// field only once the target is known to exist and be the caller's to change.
fn changes<T: Into<ProfileChanges>>(
    body: Result<Body<T>, ApiError>,
) -> Result<ProfileChanges, ApiError> {
    body.map(|Body(body)| body.into())
}

/// Deletes `target` as `actor`: a missing `current_password` is reported only once the actor
/// may delete that account and it exists (Djoser's destroy: permission, object, then fields).
async fn delete(
    state: &AppState,
    actor: User,
    target: i64,
    body: CurrentPasswordRequest,
) -> Result<HttpResponse, ApiError> {
    let current = body.current_password.as_deref();
    accounts::delete_account(state, &Actor::User(actor), target, current).await?;
    Ok(no_content())
}

/// DELETE /auth/users/me/ — needs `current_password`; the user's sessions and tokens go too.
#[utoipa::path(
    operation_id = "users_me_delete",
    delete,
    path = "/auth/users/me/",
    tag = "users",
    security(("bearer" = [])),
    request_body = crate::web::api::body::CurrentPasswordRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn me_delete(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    Body(body): Body<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let target = auth.user.id;
    delete(&state, auth.user, target, body).await
}

/// GET /auth/users/{id}/
#[utoipa::path(
    operation_id = "users_detail",
    get,
    path = "/auth/users/{id}/",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "OK", body = crate::web::api::users::UserBody),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 404, description = "Not found", body = crate::web::api::error::Detail),
    ),
)]
async fn detail(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = accounts::get_user(&state, &Actor::User(auth.user), *id)
        .await
        .map_err(|e| Djoser::HIDDEN_USERS.word(e))?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// PUT /auth/users/{id}/
#[utoipa::path(
    operation_id = "users_detail_put",
    put,
    path = "/auth/users/{id}/",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = crate::web::api::body::ProfileReplaceRequest,
    responses(
        (status = 200, description = "OK", body = crate::web::api::users::UserBody),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 404, description = "Not found", body = crate::web::api::error::Detail),
    ),
)]
async fn detail_put(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    id: web::Path<i64>,
    body: Result<Body<ProfileReplaceRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    update(&state, auth.user, *id, changes(body)).await
}

/// PATCH /auth/users/{id}/
#[utoipa::path(
    operation_id = "users_detail_patch",
    patch,
    path = "/auth/users/{id}/",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = Option<crate::web::api::body::ProfileRequest>,
    responses(
        (status = 200, description = "OK", body = crate::web::api::users::UserBody),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 404, description = "Not found", body = crate::web::api::error::Detail),
    ),
)]
async fn detail_patch(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    id: web::Path<i64>,
    body: Result<Body<ProfileRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    update(&state, auth.user, *id, changes(body)).await
}

/// DELETE /auth/users/{id}/ — non-staff get 403 for anyone else (HIDE_USERS does not cover it).
#[utoipa::path(
    operation_id = "users_detail_delete",
    delete,
    path = "/auth/users/{id}/",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = crate::web::api::body::CurrentPasswordRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 403, description = "Forbidden", body = crate::web::api::error::Detail),
        (status = 404, description = "Not found", body = crate::web::api::error::Detail),
    ),
)]
async fn detail_delete(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    id: web::Path<i64>,
    Body(body): Body<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    delete(&state, auth.user, *id, body).await
}

/// POST /auth/users/set_password/ — 204; every other session of the user ends.
#[utoipa::path(
    operation_id = "users_set_password",
    post,
    path = "/auth/users/set_password/",
    tag = "users",
    security(("bearer" = [])),
    request_body = crate::web::api::body::SetPasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session ended"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn set_password(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    Body(body): Body<SetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let retype = body.re_new_password.as_deref();
    let keep = Some(auth.session_id);
    let (current, new) = (&body.current_password, body.new_password);
    accounts::change_password(&state, &auth.user, current, new, retype, keep).await?;
    Ok(no_content())
}

/// POST /auth/users/set_email/ — 204; a confirmation link goes to the new address, which takes
/// effect only when the link is used (`set_email_confirm`).
#[utoipa::path(
    operation_id = "users_set_email",
    post,
    path = "/auth/users/set_email/",
    tag = "users",
    security(("bearer" = [])),
    request_body = crate::web::api::body::SetEmailRequest,
    responses(
        (status = 204, description = "A confirmation link was mailed to the new address"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn set_email(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    Body(body): Body<SetEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let keep = Some(auth.session_id);
    let (current, email) = (&body.current_password, body.new_email);
    accounts::request_email_change(&state, &auth.user, current, email, keep)
        .await
        .map_err(|e| Djoser::SET_EMAIL.word(e))?;
    Ok(no_content())
}

/// POST /auth/users/set_email_confirm/ — 204: the link mailed to the new address was used.
#[utoipa::path(
    operation_id = "users_set_email_confirm",
    post,
    path = "/auth/users/set_email_confirm/",
    tag = "users",
    request_body = crate::web::api::body::UidTokenRequest,
    responses(
        (status = 204, description = "The address changed; every other session ended"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 429, description = "Throttled; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn set_email_confirm(
    state: web::Data<AppState>,
    Body(link): Body<UidTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    accounts::confirm_email_change(&state, &link.uid, &link.token)
        .await
        .map_err(|e| Djoser::SET_EMAIL.word(e))?;
    Ok(no_content())
}

/// POST /auth/users/reset_password/ — 204 whether or not the address has an account.
#[utoipa::path(
    operation_id = "users_reset_password",
    post,
    path = "/auth/users/reset_password/",
    tag = "users",
    request_body = crate::web::api::body::EmailRequest,
    responses(
        (status = 204, description = "Accepted (a mail goes out if the address has an active account)"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
    ),
)]
async fn reset_password(
    state: web::Data<AppState>,
    Body(body): Body<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    accounts::request_password_reset(&state, &body.email).await?;
    Ok(no_content())
}

/// POST /auth/users/reset_password_confirm/ — 204; ends every session of the user.
#[utoipa::path(
    operation_id = "users_reset_password_confirm",
    post,
    path = "/auth/users/reset_password_confirm/",
    tag = "users",
    request_body = crate::web::api::body::ResetConfirmRequest,
    responses(
        (status = 204, description = "Password set; every session of the user ended"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
    ),
)]
async fn reset_password_confirm(
    state: web::Data<AppState>,
    Body(body): Body<ResetConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let retype = body.re_new_password.as_deref();
    let (uid, token) = (&body.uid, &body.token);
    accounts::confirm_password_reset(&state, uid, token, body.new_password, retype).await?;
    Ok(no_content())
}

/// POST /auth/users/activation/ — 204; 403 when the account is already active.
#[utoipa::path(
    operation_id = "users_activation",
    post,
    path = "/auth/users/activation/",
    tag = "users",
    request_body = crate::web::api::body::UidTokenRequest,
    responses(
        (status = 204, description = "Activated"),
        (status = 400, description = "Field errors", body = crate::web::api::error::BadRequest),
        (status = 403, description = "Stale token for given user.", body = crate::web::api::error::Detail),
    ),
)]
async fn activation(
    state: web::Data<AppState>,
    Body(link): Body<UidTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    accounts::activate(&state, &link.uid, &link.token).await?;
    Ok(no_content())
}

/// POST /auth/users/resend_activation/ — 204 whatever the address.
#[utoipa::path(
    operation_id = "users_resend_activation",
    post,
    path = "/auth/users/resend_activation/",
    tag = "users",
    request_body = crate::web::api::body::EmailRequest,
    responses(
        (status = 204, description = "Accepted (a mail goes out if the address has an inactive account)"),
        (status = 400, description = "Field errors, or activation is off", body = crate::web::api::error::BadRequest),
    ),
)]
async fn resend_activation(
    state: web::Data<AppState>,
    Body(body): Body<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    accounts::resend_activation(&state, &body.email).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn datetimes_render_like_drf() {
        let at = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_micro_opt(3, 4, 5, 60)
            .unwrap();
        assert_eq!(drf_datetime(at), "2026-01-02T03:04:05.000060Z");
        let whole = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert_eq!(drf_datetime(whole), "2026-01-02T03:04:05Z");
    }
}
