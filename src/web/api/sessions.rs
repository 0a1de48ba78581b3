//! The caller's own sessions through the API: `GET /auth/users/me/sessions/` lists them
//! (browser logins, API token families, grants to OpenID clients) and
//! `DELETE /auth/users/me/sessions/{id}/` ends one, as the account page does.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::auth::BearerUser;
use super::users::drf_datetime;
use super::{ApiError, allow_only};
use crate::sessions::{Session, service as sessions};
use crate::state::AppState;

/// Mounted inside the `/auth/users` scope (its DRF authentication applies).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/me/sessions")
            .route(web::get().to(list))
            .default_service(allow_only("GET")),
    )
    .service(
        web::resource("/me/sessions/{id}")
            .route(web::delete().to(end))
            .default_service(allow_only("DELETE")),
    );
}

/// One session as the API shows it: by its public handle, never its id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionBody {
    /// The public handle (what DELETE takes).
    id: String,
    /// `browser`, `api` or `oauth` (a grant to an OpenID client).
    kind: &'static str,
    /// The OpenID client's name, for a grant.
    client: Option<String>,
    /// When it started (UTC, ISO 8601).
    created: String,
    /// Last activity seen (UTC, ISO 8601).
    last_seen: String,
    /// Client address at login.
    ip: Option<String>,
    /// User agent at login.
    user_agent: Option<String>,
    /// The session of the token making this request.
    current: bool,
}

impl SessionBody {
    fn of((session, client): (Session, Option<String>), current_sid: &str) -> Self {
        Self {
            id: session.handle(),
            kind: session.kind().as_str(),
            current: session.id == current_sid,
            client,
            created: drf_datetime(session.created_at),
            last_seen: drf_datetime(session.last_seen_at),
            ip: session.ip,
            user_agent: session.user_agent,
        }
    }
}

/// GET /auth/users/me/sessions/
#[utoipa::path(
    operation_id = "users_me_sessions",
    get,
    path = "/auth/users/me/sessions/",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions, newest first", body = Vec<SessionBody>),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
    ),
)]
async fn list(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
) -> Result<HttpResponse, ApiError> {
    let live = sessions::list_sessions(&state, auth.user.id).await?;
    let body: Vec<SessionBody> = live
        .into_iter()
        .map(|s| SessionBody::of(s, &auth.session_id))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// DELETE /auth/users/me/sessions/{id}/
#[utoipa::path(
    operation_id = "users_me_sessions_delete",
    delete,
    path = "/auth/users/me/sessions/{id}/",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's public handle")),
    responses(
        (status = 204, description = "Ended; its tokens stop at once"),
        (status = 401, description = "Not authenticated or bad token", body = crate::web::api::error::Detail),
        (status = 404, description = "No live session of the caller has this id", body = crate::web::api::error::Detail),
    ),
)]
async fn end(
    state: web::Data<AppState>,
    BearerUser(auth): BearerUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if sessions::end_own_session_by_handle(&state, auth.user.id, &id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("Not found."))
    }
}
