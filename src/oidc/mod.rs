//! The OpenID Connect provider: the authorization code flow with PKCE, the token endpoint,
//! ID tokens and RFC 9068 access tokens signed with the shared keys, userinfo, revocation,
//! introspection and RP-initiated logout. Above tokens: a grant is a session (one per code
//! exchanged, naming its client), its refresh tokens rotate as the API's do, and its access
//! tokens authenticate at the API like any other.

mod authorize;
mod claims;
mod codes;
mod discovery;
mod error;
mod logout;
mod resource;
mod scope;
mod token;

pub use authorize::{Authorization, AuthorizeRequest, Decision, Login, authorize};
pub use claims::{GrantTokens, Profile, at_hash, profile};
pub use codes::flush_expired as flush_expired_codes;
pub use discovery::{ProviderMetadata, metadata};
pub use error::{ErrorCode, NoRedirect, OidcError};
pub use logout::{LoggedOut, LogoutRequest, end_session};
pub use resource::{Introspection, introspect, revoke, userinfo};
pub use scope::{SUPPORTED_SCOPES, Scope};
pub use token::{ClientCredentials, IssuedTokens, TokenRequest, authenticate_client, token};

/// How long an authorization code lives, in seconds (oidc-provider's default: 60).
pub const CODE_LIFETIME_SECONDS: i64 = 60;
