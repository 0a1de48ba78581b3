//! Latchkey: an authentication server with HTML pages, a Djoser/SimpleJWT-compatible JSON API
//! and an operator CLI, over one core.
//!
//! # Architecture
//!
//! ```text
//!   browser (forms + cookie)     API client (JSON + Bearer)      operator (argv)
//!          web::html                     web::api                      cli          adapters
//!              └──────────────┬──────────────┴───────────────────────────┘
//!                 accounts · tokens · mail · throttle · audit · maintenance          core
//!                 domain (parsed values) · clock · config · state
//!                                      db (diesel: SQLite | PostgreSQL)
//! ```
//!
//! - **Adapters** parse input into [`domain`] values, call one core function, and map its
//!   result to a response (DRF's bodies in [`web::api`], Django's pages in [`web::html`], lines
//!   and exit codes in [`cli`]). HTTP types stay in `web`; the core imports nothing from actix.
//! - **Core** use cases are async functions over [`state::AppState`]; the rules (permissions,
//!   validation, token policy, throttling) live there once. Each module has one error enum.
//!   Synchronous, connection-first `ops` functions compose inside one transaction
//!   ([`db::write_transaction`]), so a change, its audit event and its outbox mail commit
//!   together.
//! - **Storage** is [`db::Db::run`]: a pooled connection on the blocking pool, never on an async
//!   worker. Everything shared between processes (sessions, throttle counters, per-IP buckets on
//!   PostgreSQL, the mail outbox) lives in the database.
//! - **Time** comes from [`clock::Clock`] only, so expiry is tested by moving a manual clock.
//! - **Password hashing** runs on a bounded pool of dedicated threads ([`accounts::Hasher`]).
#![cfg_attr(
    test,
    expect(clippy::unwrap_used, reason = "unit tests fail loudly on unwrap")
)]

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod mail;
pub mod maintenance;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod web;
