//! Tokens: JWT access/refresh pairs over sessions (one per login), rotation with reuse
//! detection, bearer and browser-cookie authentication. Above accounts (logins) and sessions.

mod error;
mod jwt;
pub mod service;

pub use error::TokenError;
pub use jwt::{Audience, Claims, JwtCodec, TokenType, UserIdClaim};
