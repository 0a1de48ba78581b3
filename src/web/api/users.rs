use actix_web::{HttpResponse, web};
use chrono::{NaiveDateTime, Timelike};
use serde::Serialize;

use super::{ApiError, Input, method_not_allowed};
use crate::accounts::User;
use crate::accounts::service::{self, Registration};
use crate::domain::{Email, FieldErrors, Username};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/auth/users")
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed)),
    );
}

/// The user object every endpoint returns: a superset of Djoser's fields.
#[derive(Debug, Serialize)]
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
fn drf_datetime(at: NaiveDateTime) -> String {
    if at.nanosecond() == 0 {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// POST /auth/users/ — register.
async fn create(state: web::Data<AppState>, input: Input) -> Result<HttpResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let email = input.required("email", true, &mut errors).and_then(|raw| {
        Email::parse(&raw)
            .map_err(|e| errors.add("email", e.to_string()))
            .ok()
    });
    let username = input
        .optional("username", true, &mut errors)
        .filter(|raw| !raw.is_empty())
        .and_then(|raw| {
            Username::parse(&raw)
                .map_err(|e| errors.add("username", e.to_string()))
                .ok()
        });
    let password = input.required("password", false, &mut errors);
    let first_name = input
        .optional("first_name", true, &mut errors)
        .unwrap_or_default();
    let last_name = input
        .optional("last_name", true, &mut errors)
        .unwrap_or_default();
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let registration = Registration {
        email,
        username,
        first_name,
        last_name,
        password,
    };
    let user = service::register(&state, registration).await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
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
