//! Tokens: JWT access/refresh pairs, sessions (one per login), rotation with reuse detection.

mod error;
mod jwt;
mod models;
pub mod onetime;
pub mod ops;
pub mod service;

pub use error::TokenError;
pub use jwt::{Audience, Claims, JwtCodec, TokenType, UserIdClaim};
pub use models::{RefreshToken, Session, SessionKind};
