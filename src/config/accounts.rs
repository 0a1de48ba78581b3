//! Accounts: password hashing, the retype rules, listings.

use super::declare::{Flag, Number, settings_area};

settings_area! {
    /// How passwords are hashed and which forms ask for them twice.
    #[derive(Debug, Clone)]
    pub struct AccountSettings {
        /// Most argon2id hashes computed at once (each takes 19 MiB and ~25 ms); a login flood
        /// queues instead of exhausting memory or stalling other requests.
        hash_workers: usize = Number::new(available_cores, 1, 1024).default_doc("number of cores");
        /// Hashes that may wait for a worker; beyond it password checks answer `503` with
        /// `Retry-After` at once instead of queueing for seconds.
        hash_queue_limit: usize = Number::new(|| 64, 1, 1_000_000);
        /// Hashes one account (or unknown identifier) may have running or waiting; beyond it
        /// `429`. One account's guesses cannot fill the queue for everyone.
        hash_queue_per_account: usize = Number::new(|| 2, 1, 1000);
        /// Registration requires `re_password` (Djoser's `USER_CREATE_PASSWORD_RETYPE`).
        user_create_password_retype: bool = Flag::new(false);
        /// `set_password` requires `re_new_password`; when off, a `re_new_password` sent anyway
        /// is ignored.
        set_password_retype: bool = Flag::new(false);
        /// `reset_password_confirm` requires `re_new_password`.
        password_reset_confirm_retype: bool = Flag::new(false);
        /// Page size of `GET /auth/users/?page=N`.
        users_page_size: u32 = Number::new(|| 100, 1, 1000);
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
