//! The one place that reads the wall clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};

/// Source of "now", injected everywhere so expiry can be tested without sleeping.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    System,
    /// A hand-set clock for tests: it only moves when told to.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A clock stopped at `at`.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self::Manual(Arc::new(Mutex::new(at)))
    }

    /// Now in UTC, truncated to whole microseconds: the precision both SQLite and PostgreSQL
    /// keep, so a stored time reads back equal on either backend.
    pub fn now(&self) -> DateTime<Utc> {
        let raw = match self {
            Self::System => Utc::now(),
            Self::Manual(at) => *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        truncate_to_micros(raw)
    }

    /// [`Clock::now`] as the naive UTC value the database columns hold.
    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Self::Manual(at) = self {
            let mut guard = at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *guard += by;
        }
    }
}

fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::microseconds(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};

    #[test]
    fn truncates_to_microseconds_and_advances() {
        let start = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .unwrap()
            .with_nanosecond(123_456_789)
            .unwrap();
        let clock = Clock::manual(start);
        assert_eq!(clock.now().nanosecond(), 123_456_000);
        clock.advance(Duration::seconds(10));
        assert_eq!(clock.now().timestamp(), start.timestamp() + 10);
        assert_eq!(Clock::System.now().nanosecond() % 1000, 0);
    }
}
