//! Tokens: JWT access/refresh pairs over sessions (one per login), rotation with reuse
//! detection, bearer and browser-cookie authentication. Above accounts (logins) and sessions.

mod django;
mod error;
mod jwt;
pub mod service;

pub use error::TokenError;

use crate::accounts::AccountsContext;
use crate::keys::Keys;

/// The token use cases' view of the application: the accounts context plus the JWT codec.
#[derive(Debug, Clone)]
pub struct TokensContext {
    /// Everything the account and session use cases are given.
    pub accounts: AccountsContext,
    /// JWT signing and checking.
    pub jwt: JwtCodec,
    /// The shared asymmetric keys (the codec signs and verifies with their ring).
    pub keys: Keys,
}

// Token use cases call account and session use cases with their own context.
impl std::ops::Deref for TokensContext {
    type Target = AccountsContext;

    fn deref(&self) -> &AccountsContext {
        &self.accounts
    }
}
pub use jwt::{AccessTokenClaims, Audience, Claims, JwtCodec, TokenType, UserIdClaim, random_id};
