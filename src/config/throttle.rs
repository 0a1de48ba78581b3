//! Throttling.

use super::declare::{Flag, Number, settings_area};

settings_area! {
    /// Per-IP buckets on the unauthenticated writes, and the per-account backoff and lock.
    #[derive(Debug, Clone, Copy)]
    pub struct ThrottleLimits {
        /// Master switch for all throttling. **Turn it off only for load tests.**
        enabled as "throttle_enabled": bool = Flag::new(true);
        /// Requests one IP may make at once to the login, refresh and registration endpoints.
        ip_burst as "throttle_ip_burst": u32 = Number::new(|| 20, 1, 1_000_000);
        /// Requests per minute an IP regains on those endpoints.
        ip_per_minute as "throttle_ip_per_minute": u32 = Number::new(|| 30, 1, 1_000_000);
        /// Consecutive failed logins allowed before a delay; then 1 s, 2 s, 4 s …
        free_failures as "throttle_free_failures": u32 = Number::new(|| 5, 1, 1000);
        /// Longest delay between login attempts, in seconds.
        max_delay as "throttle_max_delay": u64 = Number::seconds(|| 900, 1, 86_400);
        /// The consecutive failure that locks the account until `latchkey users unlock` or a
        /// password reset.
        lock_after as "throttle_lock_after": u32 = Number::new(|| 100, 2, 1_000_000);
    }
}
