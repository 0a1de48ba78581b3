//! `GET /.well-known/jwks.json`: the public halves of the published signing keys, so any
//! service can verify Latchkey's RS256/ES256 tokens without holding a secret.

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::keys::KeyError;
use crate::state::AppState;
use crate::web::api::ApiError;

/// The JWK Set path (also `jwks_uri` in discovery).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(JWKS_PATH)
            .route(web::get().to(jwks))
            .default_service(crate::web::api::allow_only("GET")),
    );
}

/// The published keys now. Cacheable for a minute: a new key is published long before it
/// signs (`key_publish_delay`), so a client holding this set a minute does not miss it.
#[utoipa::path(
    operation_id = "jwks",
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    responses(
        (status = 200, description = "The published public keys, as a JWK Set (RFC 7517): `{\"keys\": [{\"kty\", \"kid\", \"use\", \"alg\", …}]}`", content_type = "application/json"),
    ),
)]
pub(crate) async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let set = state.keys.published().await.map_err(|e| match e {
        KeyError::Db(e) if e.is_unavailable() => ApiError::Unavailable,
        other => ApiError::Unexpected(anyhow::Error::new(other)),
    })?;
    let mut response = HttpResponse::Ok().json(set);
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}
