use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

use super::django_hashers::{self, HashFormat};
use crate::domain::{MAX_PASSWORD_BYTES, NewPassword};

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;
const SALT_BYTES: usize = 16;
/// The most memory (KiB) and passes an argon2 hash made elsewhere may ask for (Django's
/// defaults are 100 MiB and 2).
const MAX_FOREIGN_MEMORY_KIB: u32 = 256 * 1024;
const MAX_FOREIGN_ITERATIONS: u32 = 64;

/// Hashing failed (a bug or resource exhaustion; never the user's fault).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused its input.
    #[error("argon2 failed: {0}")]
    Argon2(String),
    /// The hashing threads are gone.
    #[error("hashing worker unavailable")]
    Worker,
    /// More hashes are waiting than `hash_queue_limit` allows: the server is saturated.
    #[error("the hashing queue is full")]
    QueueFull,
    /// This account already has `hash_queue_per_account` hashes running or waiting.
    #[error("too many password checks for one account at once")]
    AccountBusy,
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches.
    Match,
    /// It does not (or there was no usable hash to compare with).
    Mismatch,
}

enum Work {
    Hash(Vec<u8>),
    Verify { password: Vec<u8>, stored: Arc<str> },
}

enum Done {
    Hashed(String),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done, HashError>>,
}

/// How much hashing work may wait, overall and per account.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    /// Threads that hash (at most this many hashes run at once).
    pub workers: usize,
    /// Hashes that may wait for a thread, beyond those running; more get `QueueFull`.
    pub queue: usize,
    /// Hashes one account may have running or waiting; more get `AccountBusy`.
    pub per_account: usize,
}

/// Work admitted to the queue: counted overall and per account until dropped.
struct Admission<'a> {
    hasher: &'a Hasher,
    account: Option<String>,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.hasher.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(account) = &self.account {
            let mut accounts = self
                .hasher
                .accounts
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(count) = accounts.get_mut(account) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    accounts.remove(account);
                }
            }
        }
    }
}

/// argon2id on a fixed set of `workers` threads, each reusing one memory buffer: at most
/// `workers` hashes run at once, never on an async worker, and memory stays at
/// `workers` × 19 MiB however many logins arrive (a general thread pool would let every one of
/// its threads keep its own freed 19 MiB in the allocator). The queue in front of them is
/// bounded overall and per account, so one account's guesses cannot delay everyone's logins.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    limits: HashLimits,
    in_flight: Arc<AtomicUsize>,
    accounts: Arc<Mutex<HashMap<String, usize>>>,
    jobs: mpsc::Sender<Job>,
    /// A hash of a random password: verifying against it costs what a real check costs, so an
    /// unknown user takes as long as a known one.
    dummy: Arc<str>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

impl Hasher {
    /// Starts `limits.workers` hashing threads (they end when the last clone is dropped) and
    /// computes the dummy hash (~25 ms).
    pub fn new(limits: HashLimits) -> Result<Self, HashError> {
        let workers = limits.workers.max(1);
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
            .map_err(|e| HashError::Argon2(e.to_string()))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let queue = Arc::clone(&queue);
            let params = params.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{n}"))
                .spawn(move || worker(&queue, &params))
                .map_err(|_| HashError::Worker)?;
        }
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let mut memory = Vec::new();
        let dummy = hash_with(&params, &random, &mut memory)?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(workers)),
            limits: HashLimits { workers, ..limits },
            in_flight: Arc::new(AtomicUsize::new(0)),
            accounts: Arc::new(Mutex::new(HashMap::new())),
            jobs,
            dummy: dummy.into(),
        })
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: &NewPassword) -> Result<String, HashError> {
        match self
            .submit(Work::Hash(password.expose().as_bytes().to_vec()), None)
            .await?
        {
            Done::Hashed(phc) => Ok(phc),
            Done::Verified(_) => Err(HashError::Worker),
        }
    }

    /// Checks `password` against `stored` (Latchkey's argon2id or any of Django's formats, see
    /// [`HashFormat`]); with no stored hash (unknown user) or an unusable one it still runs one
    /// full verification against the dummy hash, then answers Mismatch. `account` (the throttle
    /// key) bounds how many checks one account may queue.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
        account: Option<&str>,
    ) -> Result<PasswordCheck, HashError> {
        let usable = stored.filter(|s| HashFormat::of(s).is_usable());
        let stored: Arc<str> = match usable {
            Some(hash) => hash.into(),
            None => Arc::clone(&self.dummy),
        };
        // Over-long input can never match (no such password could have been set); hash an
        // empty one instead so the answer still takes the usual time.
        let oversized = password.len() > MAX_PASSWORD_BYTES;
        let bytes = if oversized {
            Vec::new()
        } else {
            password.as_bytes().to_vec()
        };
        let matched = match self
            .submit(
                Work::Verify {
                    password: bytes,
                    stored,
                },
                account,
            )
            .await?
        {
            Done::Verified(matched) => matched,
            Done::Hashed(_) => false,
        };
        Ok(if matched && usable.is_some() && !oversized {
            PasswordCheck::Match
        } else {
            PasswordCheck::Mismatch
        })
    }

    /// Counts the work in, or refuses it when its account or the whole queue is full.
    fn admit(&self, account: Option<&str>) -> Result<Admission<'_>, HashError> {
        if let Some(account) = account {
            let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            let count = accounts.entry(account.to_owned()).or_insert(0);
            if *count >= self.limits.per_account.max(1) {
                return Err(HashError::AccountBusy);
            }
            *count += 1;
        }
        // From here on the admission's drop undoes both counts.
        let admission = Admission {
            hasher: self,
            account: account.map(str::to_owned),
        };
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= self.limits.workers + self.limits.queue {
            return Err(HashError::QueueFull);
        }
        Ok(admission)
    }

    async fn submit(&self, work: Work, account: Option<&str>) -> Result<Done, HashError> {
        let _admission = self.admit(account)?;
        // The permit bounds queued work to what the threads can take, so waiting happens
        // here, as cheap async tasks, in arrival order.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Worker)?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { work, reply })
            .map_err(|_| HashError::Worker)?;
        answer.await.map_err(|_| HashError::Worker)?
    }
}

fn worker(queue: &Mutex<mpsc::Receiver<Job>>, params: &Params) {
    lower_priority();
    let mut memory: Vec<Block> = Vec::new();
    let own_blocks = params.block_count();
    loop {
        let job = {
            let Ok(receiver) = queue.lock() else { return };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let result = match job.work {
            Work::Hash(password) => hash_with(params, &password, &mut memory).map(Done::Hashed),
            Work::Verify { password, stored } => Ok(Done::Verified(verify_stored(
                &stored,
                &password,
                &mut memory,
            ))),
        };
        // An imported hash may ask for far more memory than Latchkey's (Django's argon2 uses
        // 100 MiB): give it back rather than keep it for every later job.
        if memory.len() > own_blocks {
            memory.truncate(own_blocks);
            memory.shrink_to_fit();
        }
        // The requester may have gone away (client disconnected); nothing to do then.
        let _ = job.reply.send(result);
    }
}

/// Runs this thread at nice 10: a login flood then only takes CPU nothing else wants, so
/// other requests keep their latency while hashing still uses every idle core.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::debug!(error = %e, "could not lower the hashing thread's priority");
    }
}

fn run(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), HashError> {
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let slice = memory.get_mut(..blocks).ok_or(HashError::Worker)?;
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, salt, out, slice)
        .map_err(|e| HashError::Argon2(e.to_string()))
}

fn hash_with(
    params: &Params,
    password: &[u8],
    memory: &mut Vec<Block>,
) -> Result<String, HashError> {
    let mut salt = [0u8; SALT_BYTES];
    rand::fill(&mut salt);
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    run(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password,
        &salt,
        &mut out,
        memory,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| HashError::Argon2(e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(|e| HashError::Argon2(e.to_string()))?),
        hash: Some(Output::new(&out).map_err(|e| HashError::Argon2(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a stored hash of any format Latchkey reads.
fn verify_stored(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    match HashFormat::of(stored) {
        HashFormat::Current | HashFormat::Argon2 => django_hashers::argon2_phc(stored)
            .is_some_and(|phc| verify_with(&phc, password, memory)),
        _ => django_hashers::verify(stored, password),
    }
}

/// Recomputes the hash with the stored algorithm, version, parameters and salt, and compares
/// in constant time (`Output`'s equality). A PHC string without a version is argon2's first
/// (0x10), as the reference implementation reads it (old Django hashes have none).
fn verify_with(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else {
        return false;
    };
    let version = phc
        .version
        .map_or(Some(Version::V0x10), |v| Version::try_from(v).ok());
    let Some(version) = version else {
        return false;
    };
    let Ok(params) = Params::try_from(&phc) else {
        return false;
    };
    // An imported hash asking for more than this would hold a thread and its memory too long.
    if params.m_cost() > MAX_FOREIGN_MEMORY_KIB || params.t_cost() > MAX_FOREIGN_ITERATIONS {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    if run(
        algorithm,
        version,
        &params,
        password,
        salt.as_ref(),
        &mut out,
        memory,
    )
    .is_err()
    {
        return false;
    }
    Output::new(&out).is_ok_and(|computed| &computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewPassword;
    use argon2::password_hash::PasswordVerifier;

    fn limits(workers: usize) -> HashLimits {
        HashLimits {
            workers,
            queue: 64,
            per_account: 2,
        }
    }

    #[tokio::test]
    async fn the_queue_is_bounded_per_account_and_overall() {
        let hasher = Hasher::new(HashLimits {
            workers: 1,
            queue: 2,
            per_account: 2,
        })
        .unwrap();
        let a1 = hasher.admit(Some("user:1")).unwrap();
        let a2 = hasher.admit(Some("user:1")).unwrap();
        assert!(matches!(
            hasher.admit(Some("user:1")),
            Err(HashError::AccountBusy)
        ));
        let b1 = hasher.admit(Some("user:2")).unwrap();
        // 1 worker + 2 waiting are in: the next is refused whoever asks.
        assert!(matches!(
            hasher.admit(Some("user:3")),
            Err(HashError::QueueFull)
        ));
        assert!(matches!(hasher.admit(None), Err(HashError::QueueFull)));
        drop(a1);
        assert!(hasher.admit(Some("user:1")).is_ok(), "a slot came back");
        drop((a2, b1));
        assert_eq!(hasher.in_flight.load(Ordering::Acquire), 0);
        assert!(hasher.accounts.lock().unwrap().is_empty(), "no leftovers");
    }

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let hasher = Hasher::new(limits(2)).unwrap();
        let password = NewPassword::parse_bypassing_policy("s3cret-horse".into()).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // The reference implementation agrees with ours.
        assert!(
            Argon2::default()
                .verify_password(b"s3cret-horse", hash.as_str())
                .is_ok()
        );
        assert_eq!(
            hasher
                .verify("s3cret-horse", Some(&hash), None)
                .await
                .unwrap(),
            PasswordCheck::Match
        );
        assert_eq!(
            hasher.verify("wrong", Some(&hash), None).await.unwrap(),
            PasswordCheck::Mismatch
        );
        assert_eq!(
            hasher.verify("s3cret-horse", None, None).await.unwrap(),
            PasswordCheck::Mismatch
        );
        let unusable = format!("!{hash}");
        assert_eq!(
            hasher
                .verify("s3cret-horse", Some(&unusable), None)
                .await
                .unwrap(),
            PasswordCheck::Mismatch
        );
    }

    #[tokio::test]
    async fn verifies_hashes_made_elsewhere_with_other_parameters() {
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(8192, 3, 1, None).unwrap();
        let foreign = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"legacy pass")
            .unwrap()
            .to_string();
        let hasher = Hasher::new(limits(1)).unwrap();
        assert_eq!(
            hasher
                .verify("legacy pass", Some(&foreign), None)
                .await
                .unwrap(),
            PasswordCheck::Match
        );
        assert_eq!(
            hasher
                .verify("legacy pas", Some(&foreign), None)
                .await
                .unwrap(),
            PasswordCheck::Mismatch
        );
    }
}
