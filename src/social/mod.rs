//! Social login: people sign in with an upstream OpenID provider (Google, or any other by
//! discovery). Identities are keyed by (issuer, subject), never by email; an address a local
//! account already has is never linked silently. Above tokens: a social login ends in a session
//! like any other.

mod error;
mod login;
mod upstream;

pub use error::SocialError;
pub use login::{
    BrowserSignIn, PendingLink, SocialTokens, api_login, browser_callback, link_pending,
};
pub use upstream::{SignInRequest, Social, UpstreamPerson};
