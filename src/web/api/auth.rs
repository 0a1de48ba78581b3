use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};

use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::ApiError;
use crate::state::AppState;
use crate::tokens::service::{self, Authenticated};
use crate::web::client::{BearerHeader, bearer_header};

/// DRF's authentication step, before any view of Djoser's runs: no `Authorization` header
/// (or another scheme) lets the request through anonymous; a present but bad one answers 401
/// with SimpleJWT's bodies, on open endpoints too; a good one is kept for [`BearerUser`].
pub async fn drf_authentication<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let header = bearer_header(req.request());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let verdict = match (header, state) {
        (BearerHeader::Missing, _) | (_, None) => Ok(None),
        (BearerHeader::Malformed, _) => Err(malformed_header()),
        (BearerHeader::Token(token), Some(state)) => service::authenticate_access(&state, &token)
            .await
            .map(Some)
            .map_err(ApiError::from_bearer),
    };
    match verdict {
        Ok(authenticated) => {
            if let Some(authenticated) = authenticated {
                req.extensions_mut().insert(authenticated);
            }
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}

fn malformed_header() -> ApiError {
    ApiError::Unauthorized {
        detail: "Authorization header must contain two space-delimited values".into(),
        code: Some("bad_authorization_header"),
    }
}

/// A request authenticated by a bearer access token (SimpleJWT's 401 bodies otherwise).
pub struct BearerUser(pub Authenticated);

impl FromRequest for BearerUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already authenticated by `drf_authentication`: no second lookup (and no copy).
        let done = req.extensions_mut().remove::<Authenticated>();
        let header = bearer_header(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            if let Some(authenticated) = done {
                return Ok(BearerUser(authenticated));
            }
            let state =
                state.ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("no app state")))?;
            match header {
                BearerHeader::Missing => Err(ApiError::not_authenticated()),
                BearerHeader::Malformed => Err(malformed_header()),
                BearerHeader::Token(token) => service::authenticate_access(&state, &token)
                    .await
                    .map(BearerUser)
                    .map_err(ApiError::from_bearer),
            }
        })
    }
}
