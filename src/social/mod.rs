//! Social login: people sign in with an upstream OpenID provider (Google, or any other by
//! discovery) or with GitHub (OAuth 2 and its REST API). Identities are keyed by (issuer, subject), never by email; an address a local
//! account already has is never linked silently. Above tokens: a social login ends in a session
//! like any other.

mod error;
mod github;
mod identities;
mod login;
mod upstream;

pub use error::SocialError;
pub use identities::{
    AccountLinks, LinkOutcome, LinkedIdentity, account_links, link_signed_in, linked_identities,
    unlink,
};
pub use login::{BrowserSignIn, PendingLink, api_login, browser_callback, link_pending};
pub use upstream::{Reachability, Returned, SignInRequest, Social, SocialTokens, UpstreamPerson};
