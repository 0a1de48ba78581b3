use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::{MAX_PASSWORD_BYTES, NewPassword};

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Hashing failed (a bug or resource exhaustion; never the user's fault).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused its input.
    #[error("argon2 failed: {0}")]
    Argon2(String),
    /// The blocking task died or the pool was closed.
    #[error("hashing task failed")]
    Task,
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches.
    Match,
    /// It does not (or there was no usable hash to compare with).
    Mismatch,
}

/// argon2id hashing on a bounded pool: at most `workers` hashes run at once, each on the
/// blocking thread pool, so a login flood neither stalls the async workers nor exhausts memory.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    params: Params,
    /// A hash of a random password: verifying against it costs what a real check costs, so an
    /// unknown user takes as long as a known one.
    dummy: Arc<str>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("workers", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher allowing `workers` concurrent hashes (computes the dummy hash once, ~25 ms).
    pub fn new(workers: usize) -> Result<Self, HashError> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
            .map_err(|e| HashError::Argon2(e.to_string()))?;
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let dummy = hash_blocking(&params, &random)?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            params,
            dummy: dummy.into(),
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &NewPassword) -> Result<String, HashError> {
        let params = self.params.clone();
        let bytes = password.expose().as_bytes().to_vec();
        self.on_pool(move || hash_blocking(&params, &bytes)).await?
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user) or an unusable
    /// one it still runs one full verification against the dummy hash, then answers Mismatch.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<PasswordCheck, HashError> {
        let usable = stored.filter(|s| !s.starts_with('!') && s.starts_with("$argon2"));
        let target: Arc<str> = match usable {
            Some(hash) => hash.into(),
            None => Arc::clone(&self.dummy),
        };
        let real = usable.is_some();
        // Over-long input is refused without work; it can never match a stored hash because
        // no such password could have been set.
        let oversized = password.len() > MAX_PASSWORD_BYTES;
        let bytes = if oversized {
            Vec::new()
        } else {
            password.as_bytes().to_vec()
        };
        let matched = self
            .on_pool(move || {
                Argon2::default()
                    .verify_password(&bytes, target.as_ref())
                    .is_ok()
            })
            .await?;
        Ok(if matched && real && !oversized {
            PasswordCheck::Match
        } else {
            PasswordCheck::Mismatch
        })
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Task)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            work()
        })
        .await
        .map_err(|_| HashError::Task)
    }
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewPassword;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let hasher = Hasher::new(2).unwrap();
        let password = NewPassword::parse_bypassing_policy("s3cret-horse".into()).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            hasher.verify("s3cret-horse", Some(&hash)).await.unwrap(),
            PasswordCheck::Match
        );
        assert_eq!(
            hasher.verify("wrong", Some(&hash)).await.unwrap(),
            PasswordCheck::Mismatch
        );
        assert_eq!(
            hasher.verify("s3cret-horse", None).await.unwrap(),
            PasswordCheck::Mismatch
        );
        let unusable = format!("!{hash}");
        assert_eq!(
            hasher
                .verify("s3cret-horse", Some(&unusable))
                .await
                .unwrap(),
            PasswordCheck::Mismatch
        );
    }
}
