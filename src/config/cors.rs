//! Browsers on other origins.

use super::declare::{Origins, settings_area};

settings_area! {
    /// Which other origins' pages may call the API.
    #[derive(Debug, Clone)]
    pub struct CorsSettings {
        /// Comma-separated origins (`https://app.example.com`) allowed to call the API from a
        /// browser. Preflight allows `authorization`, `content-type` and `accept`; error
        /// responses carry the CORS headers too.
        cors_origins: Vec<String> = Origins::new();
    }
}
