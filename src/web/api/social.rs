//! Social login through the API, in dj-rest-auth's dialect: `POST /api/social/login/<provider>/`
//! and `POST /dj-rest-auth/<provider>/` with the provider's tokens (or a code), answered with
//! Latchkey's own pair. Refusals are dj-rest-auth's `400 {"non_field_errors": [...]}`; an
//! unreachable provider is a `503` with `Retry-After`, never a hang.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::restauth::RestUser;
use super::{ApiError, Input, allow_only, throttled};
use crate::domain::FieldErrors;
use crate::social::{self, SocialError, SocialTokens};
use crate::state::AppState;
use crate::web::client::client_meta;

/// Mounted after dj-rest-auth's fixed routes, which `/dj-rest-auth/{provider}` would shadow.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for path in ["/api/social/login/{provider}", "/dj-rest-auth/{provider}"] {
        cfg.service(
            web::resource(path)
                .route(throttled(web::post().to(login)))
                .default_service(allow_only("POST")),
        );
    }
}

fn non_field(message: &str) -> ApiError {
    ApiError::Validation(FieldErrors::one("non_field_errors", message))
}

/// dj-rest-auth's (and allauth's) words for each refusal.
fn word(e: SocialError) -> ApiError {
    match e {
        SocialError::UnknownProvider(_) => ApiError::NotFound("Not found."),
        SocialError::MissingInput => {
            non_field("Incorrect input. access_token or code is required.")
        }
        SocialError::IdTokenRequired => non_field(
            "Incorrect input. id_token is required: an access token alone does not say which application it was issued to.",
        ),
        SocialError::Refused(reason) => {
            tracing::warn!(%reason, "social login refused");
            non_field("Incorrect value")
        }
        SocialError::NoEmail => non_field("The provider did not share an e-mail address."),
        SocialError::EmailTaken => {
            non_field("User is already registered with this e-mail address.")
        }
        SocialError::Inactive => non_field("User account is disabled."),
        // Linking and unlinking happen on the account page; the API never reaches these.
        SocialError::LinkedElsewhere => non_field("This social account is linked to another user."),
        SocialError::LastWayIn => non_field("The last way to log in cannot be unlinked."),
        // 503 with Retry-After, as when Latchkey's own database is away.
        SocialError::ProviderUnavailable(reason) => {
            tracing::warn!(%reason, "identity provider unavailable");
            ApiError::Unavailable
        }
        SocialError::Unavailable => ApiError::Unavailable,
        SocialError::Unexpected(e) => ApiError::Unexpected(e),
    }
}

/// The posted tokens (every field optional; which are needed is the core's decision).
fn posted(input: &Input) -> Result<SocialTokens, ApiError> {
    let mut errors = FieldErrors::new();
    let mut field = |name: &str| {
        input
            .optional(name, true, &mut errors)
            .filter(|v| !v.is_empty())
    };
    let tokens = SocialTokens {
        access_token: field("access_token"),
        id_token: field("id_token"),
        code: field("code"),
        redirect_uri: field("redirect_uri").or_else(|| field("callback_url")),
        code_verifier: field("code_verifier"),
    };
    errors.into_result().map_err(ApiError::Validation)?;
    Ok(tokens)
}

/// POST /api/social/login/{provider}/ — the dj-rest-auth login body, under its old names too.
#[utoipa::path(
    operation_id = "social_login",
    post,
    path = "/api/social/login/{provider}/",
    tag = "dj-rest-auth",
    params(("provider" = String, Path, description = "A configured provider's name (`google`, …); `/dj-rest-auth/{provider}/` is the same route")),
    request_body = doc::SocialLoginBody,
    responses(
        (status = 200, description = "Signed in", body = doc::SocialLoginResponse),
        (status = 400, description = "Refused: `{\"non_field_errors\": [...]}`", body = crate::web::api::error::BadRequest),
        (status = 404, description = "No such provider", body = crate::web::api::error::Detail),
        (status = 503, description = "The provider cannot be reached; see Retry-After", body = crate::web::api::error::Detail),
    ),
)]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
    input: Input,
) -> Result<HttpResponse, ApiError> {
    let tokens = posted(&input)?;
    let meta = client_meta(&req);
    let (user, pair) = social::api_login(&state, &state.social, &provider, tokens, &meta)
        .await
        .map_err(word)?;
    Ok(HttpResponse::Ok().json(json!({
        "access": pair.access,
        "refresh": pair.refresh,
        "access_token": pair.access,
        "refresh_token": pair.refresh,
        "user": RestUser::from(user),
    })))
}

pub mod doc {
    #![expect(
        dead_code,
        reason = "these types only describe bodies in the OpenAPI document; nothing reads them"
    )]
    use crate::web::api::restauth::RestUser;
    use utoipa::ToSchema;

    /// The provider's tokens as next-auth hands them over (an ID token is required, alone or
    /// with its access token), or a code with its redirect URI and PKCE verifier.
    #[derive(ToSchema)]
    pub struct SocialLoginBody {
        #[schema(nullable = false)]
        access_token: Option<String>,
        #[schema(nullable = false)]
        id_token: Option<String>,
        #[schema(nullable = false)]
        code: Option<String>,
        #[schema(nullable = false)]
        redirect_uri: Option<String>,
        #[schema(nullable = false)]
        code_verifier: Option<String>,
    }

    /// Latchkey's pair under dj-rest-auth's new and old names, and the user.
    #[derive(ToSchema)]
    pub struct SocialLoginResponse {
        access: String,
        refresh: String,
        access_token: String,
        refresh_token: String,
        user: RestUser,
    }
}
