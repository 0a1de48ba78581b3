//! Throttling: a per-IP token bucket and a per-account backoff after consecutive failed
//! password checks (in the database, so every process sharing it agrees).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{ip_buckets, login_throttle};
use crate::db::{Backend, Db, DbConn, DbError};

pub use crate::config::ThrottleLimits;

/// How long to wait before the next attempt after `failures` consecutive failures: nothing
/// for the free ones, then 1 s, 2 s, 4 s … doubling up to `max_delay`.
pub fn backoff_delay(failures: u32, limits: &ThrottleLimits) -> Duration {
    if failures < limits.free_failures.max(1) {
        return Duration::zero();
    }
    let exponent = (failures - limits.free_failures.max(1)).min(30);
    let seconds = (1u64 << exponent).min(limits.max_delay);
    Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// Seconds to wait, rounded up, at least 1.
pub fn whole_seconds(wait: Duration) -> u64 {
    let millis = wait.num_milliseconds().max(0);
    u64::try_from((millis + 999) / 1000)
        .unwrap_or(u64::MAX)
        .max(1)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: DateTime<Utc>,
}

/// Per-IP token buckets: in the database on PostgreSQL, so every process of a deployment
/// shares them (one atomic statement per throttled request), in memory on SQLite (one process).
/// IPv6 clients count per /64, the block one subscriber usually gets. In memory, full idle
/// buckets are dropped when the map grows.
#[derive(Debug)]
pub struct IpLimiter {
    limits: ThrottleLimits,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// The address a bucket counts: the IPv4 address, or the /64 network of an IPv6 one (an
/// IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn bucket_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !u128::from(u64::MAX),
            )),
        },
    }
}

#[derive(diesel::QueryableByName)]
struct Tokens {
    #[diesel(sql_type = diesel::sql_types::Double)]
    tokens: f64,
}

/// Takes a token from the bucket in one statement: creates it full (minus this request), or
/// refills it for the time passed and takes one, unless less than one is left (no row back).
const TAKE_TOKEN_SQL: &str = "\
INSERT INTO ip_buckets AS b (key, tokens, updated_at) VALUES ($1, $2 - 1, $3) \
ON CONFLICT (key) DO UPDATE SET \
    tokens = LEAST($2, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM ($3 - b.updated_at))::float8) * $4) - 1, \
    updated_at = GREATEST(b.updated_at, $3) \
WHERE LEAST($2, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM ($3 - b.updated_at))::float8) * $4) >= 1 \
RETURNING tokens";

/// What the bucket holds now, refilled for the time passed (only read after a refusal).
const AVAILABLE_SQL: &str = "\
SELECT LEAST($2, tokens + GREATEST(0, EXTRACT(EPOCH FROM ($3 - updated_at))::float8) * $4) AS tokens \
FROM ip_buckets WHERE key = $1";

/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 50_000;

impl IpLimiter {
    /// A limiter with these limits.
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// [`IpLimiter::take`] without a database round trip where none is needed (SQLite keeps
    /// its buckets in memory).
    pub async fn take_from(
        self: &Arc<Self>,
        db: &Db,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Duration>, DbError> {
        if !self.limits.enabled {
            return Ok(Ok(()));
        }
        match db.backend() {
            Backend::Sqlite(_) => Ok(self.check(ip, now)),
            Backend::Postgres(_) => {
                let limiter = Arc::clone(self);
                db.run(move |conn| limiter.take(conn, ip, now).map_err(DbError::from))
                    .await
            }
        }
    }

    /// Takes one token for `ip` from the bucket its deployment shares: the database's on
    /// PostgreSQL, this process's on SQLite. `Ok(Err(wait))` when none is left.
    pub fn take(
        &self,
        conn: &mut DbConn,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> QueryResult<Result<(), Duration>> {
        if !self.limits.enabled {
            return Ok(Ok(()));
        }
        let ip = bucket_address(ip);
        match conn {
            DbConn::Pg(pg) => self.take_shared(pg, ip, now.naive_utc()),
            DbConn::Sqlite(_) => Ok(self.check(ip, now)),
        }
    }

    fn take_shared(
        &self,
        pg: &mut diesel::PgConnection,
        ip: IpAddr,
        now: NaiveDateTime,
    ) -> QueryResult<Result<(), Duration>> {
        use diesel::sql_types::{Double, Text, Timestamp};
        let burst = f64::from(self.limits.ip_burst.max(1));
        let per_second = f64::from(self.limits.ip_per_minute.max(1)) / 60.0;
        let key = ip.to_string();
        let taken = diesel::sql_query(TAKE_TOKEN_SQL)
            .bind::<Text, _>(&key)
            .bind::<Double, _>(burst)
            .bind::<Timestamp, _>(now)
            .bind::<Double, _>(per_second)
            .get_result::<Tokens>(pg)
            .optional()?;
        if taken.is_some() {
            return Ok(Ok(()));
        }
        let left = diesel::sql_query(AVAILABLE_SQL)
            .bind::<Text, _>(&key)
            .bind::<Double, _>(burst)
            .bind::<Timestamp, _>(now)
            .bind::<Double, _>(per_second)
            .get_result::<Tokens>(pg)
            .optional()?
            .map_or(0.0, |t| t.tokens);
        let wait = (1.0 - left).max(0.0) / per_second;
        Ok(Err(Duration::milliseconds((wait * 1000.0).ceil() as i64)))
    }

    /// Deletes shared buckets that have refilled completely (they hold nothing to remember).
    pub fn flush_full(&self, conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
        let per_second = f64::from(self.limits.ip_per_minute.max(1)) / 60.0;
        let refill = f64::from(self.limits.ip_burst.max(1)) / per_second;
        let full_after = Duration::milliseconds((refill * 1000.0).ceil() as i64);
        diesel::delete(ip_buckets::table.filter(ip_buckets::updated_at.lt(now - full_after)))
            .execute(conn)
    }

    /// Takes one token for `ip` from this process's buckets, or says how long until one is
    /// available.
    pub fn check(&self, ip: IpAddr, now: DateTime<Utc>) -> Result<(), Duration> {
        if !self.limits.enabled {
            return Ok(());
        }
        let ip = bucket_address(ip);
        let burst = f64::from(self.limits.ip_burst.max(1));
        let per_second = f64::from(self.limits.ip_per_minute.max(1)) / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, b| {
                let idle = (now - b.updated).num_milliseconds() as f64 / 1000.0;
                b.tokens + idle * per_second < burst
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = ((now - bucket.updated).num_milliseconds().max(0) as f64) / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(Duration::milliseconds((wait * 1000.0).ceil() as i64))
        }
    }
}

/// A login-throttle row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = login_throttle)]
pub struct FailureRecord {
    /// `user:<id>` or `ident:<identifier>`.
    pub key: String,
    /// Consecutive failures.
    pub failures: i32,
    /// When the last one happened.
    pub last_failed_at: NaiveDateTime,
    /// Set once `lock_after` is reached.
    pub locked_at: Option<NaiveDateTime>,
}

/// The throttle key of an account.
pub fn user_key(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// The throttle key of an identifier that matches no account.
pub fn identifier_key(identifier: &str) -> String {
    format!("ident:{}", identifier.trim().to_lowercase())
}

/// The current record for a key.
pub fn find(conn: &mut DbConn, key: &str) -> QueryResult<Option<FailureRecord>> {
    login_throttle::table
        .find(key)
        .select(FailureRecord::as_select())
        .first(conn)
        .optional()
}

/// What [`reserve_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may run; it is already counted as a failure (`failures` is the new count),
    /// so a success must [`clear`] the key. `locked` tells whether the account was locked before.
    Granted {
        /// Consecutive failures including this attempt.
        failures: i32,
        /// The account was locked before this attempt (even the right password fails).
        locked: bool,
    },
    /// The backoff has not run out: try again after this long.
    Wait(Duration),
}

/// Compare-and-swap rounds before giving up under contention (each lost round means another
/// attempt on the same key was counted in between).
const RESERVE_ROUNDS: usize = 8;

/// Reserves one attempt for `key` before any hashing: when the backoff allows it, the attempt
/// is counted as a failure at once (`failures = failures + 1`, guarded by a compare-and-swap on
/// the count that was read), so concurrent attempts each take their own slot and none slips
/// through one that another already used. The `lock_after`th failure locks the key.
pub fn reserve_attempt(
    conn: &mut DbConn,
    key: &str,
    now: NaiveDateTime,
    limits: &ThrottleLimits,
) -> QueryResult<Reservation> {
    let lock_after = i32::try_from(limits.lock_after).unwrap_or(i32::MAX);
    for _ in 0..RESERVE_ROUNDS {
        let Some(current) = find(conn, key)? else {
            // In a savepoint: on PostgreSQL a failed statement would abort the whole
            // transaction, and a lost race must leave it usable for the next round.
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::key.eq(key),
                        login_throttle::failures.eq(1),
                        login_throttle::last_failed_at.eq(now),
                        login_throttle::locked_at.eq((lock_after <= 1).then_some(now)),
                    ))
                    .execute(conn)
            });
            match inserted {
                Ok(_) => {
                    return Ok(Reservation::Granted {
                        failures: 1,
                        locked: false,
                    });
                }
                // Another attempt created the row first: read it and go again.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => continue,
                Err(e) => return Err(e),
            }
        };
        let failures = u32::try_from(current.failures).unwrap_or(u32::MAX);
        let ready_at = current.last_failed_at + backoff_delay(failures, limits);
        if ready_at > now {
            return Ok(Reservation::Wait(ready_at - now));
        }
        let counted = current.failures.saturating_add(1);
        let locked_at = current.locked_at.or((counted >= lock_after).then_some(now));
        let won = diesel::update(
            login_throttle::table
                .filter(login_throttle::key.eq(key))
                .filter(login_throttle::failures.eq(current.failures)),
        )
        .set((
            login_throttle::failures.eq(login_throttle::failures + 1),
            login_throttle::last_failed_at.eq(now),
            login_throttle::locked_at.eq(locked_at),
        ))
        .execute(conn)?;
        if won == 1 {
            return Ok(Reservation::Granted {
                failures: counted,
                locked: current.locked_at.is_some(),
            });
        }
    }
    // Every round lost to another attempt on the same key: that key is being hammered.
    Ok(Reservation::Wait(Duration::seconds(1)))
}

/// Deletes backoff rows that no longer matter: unlocked keys whose last failure is older than
/// a day (and than the longest delay). Locked keys stay until unlocked or reset.
pub fn flush_stale(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limits: &ThrottleLimits,
) -> QueryResult<usize> {
    let max_delay = i64::try_from(limits.max_delay).unwrap_or(i64::MAX / 1000);
    let keep = Duration::seconds(max_delay.max(86_400));
    diesel::delete(
        login_throttle::table
            .filter(login_throttle::locked_at.is_null())
            .filter(login_throttle::last_failed_at.lt(now - keep)),
    )
    .execute(conn)
}

/// Forgets a key's failures (successful login, password reset, operator unlock).
pub fn clear(conn: &mut DbConn, key: &str) -> QueryResult<bool> {
    diesel::delete(login_throttle::table.find(key))
        .execute(conn)
        .map(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            enabled: true,
            ip_burst: 3,
            ip_per_minute: 60,
            free_failures: 5,
            max_delay: 900,
            lock_after: 100,
        }
    }

    #[test]
    fn backoff_doubles_after_the_free_failures_and_caps() {
        let l = limits();
        assert_eq!(backoff_delay(4, &l), Duration::zero());
        assert_eq!(backoff_delay(5, &l), Duration::seconds(1));
        assert_eq!(backoff_delay(6, &l), Duration::seconds(2));
        assert_eq!(backoff_delay(9, &l), Duration::seconds(16));
        assert_eq!(backoff_delay(99, &l), Duration::seconds(900));
    }

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let limiter = IpLimiter::new(limits());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Utc::now();
        for _ in 0..3 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        let wait = limiter.check(ip, t0).unwrap_err();
        assert_eq!(whole_seconds(wait), 1);
        assert!(limiter.check(ip, t0 + Duration::seconds(1)).is_ok());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check(other, t0).is_ok(), "buckets are per IP");
        // One IPv6 subscriber's /64 is one bucket; the next /64 is another.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"] {
            assert!(limiter.check(v6(host), t0).is_ok());
        }
        assert!(limiter.check(v6("2001:db8:1:2::77"), t0).is_err());
        assert!(limiter.check(v6("2001:db8:1:3::1"), t0).is_ok());
        assert_eq!(
            bucket_address(v6("::ffff:192.0.2.9")),
            v6("192.0.2.9"),
            "IPv4-mapped"
        );
        let off = IpLimiter::new(ThrottleLimits {
            enabled: false,
            ..limits()
        });
        for _ in 0..100 {
            assert!(off.check(ip, t0).is_ok());
        }
    }
}
