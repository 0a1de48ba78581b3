//! The HTML forms' body extractor: `application/x-www-form-urlencoded` into a form struct, with
//! text that PostgreSQL cannot store (NUL) refused at parsing, before any core call.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::state::AppState;
use crate::web::api::{ApiError, body_error};

/// A parsed form. Bad input answers 400 (shown as the HTML error page by the page middleware).
pub struct Form<T>(pub T);

impl<T> Form<T> {
    /// The parsed form.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Form<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(64 * 1024, |state| state.settings.max_body_bytes);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|e| body_error(e, limit))?;
            parse(&bytes).map(Form)
        })
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::Parse(format!("Form parse error - {e}")))?;
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::Parse(crate::web::api::NULL_CHARACTERS.to_owned()));
    }
    serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::Parse(format!("Form parse error - {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Login {
        username: String,
    }

    #[test]
    fn refuses_nul_and_parses_the_rest() {
        assert_eq!(parse::<Login>(b"username=ann").unwrap().username, "ann");
        assert!(matches!(
            parse::<Login>(b"username=a%00b"),
            Err(ApiError::Parse(m)) if m == "Null characters are not allowed."
        ));
        assert!(
            parse::<Login>(b"other=1").is_err(),
            "a missing field is an error"
        );
    }
}
