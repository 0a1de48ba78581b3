//! Latchkey: an authentication server with HTML pages, a Djoser/SimpleJWT-compatible JSON API
//! and an operator CLI, over one core.
//!
//! # Architecture
//!
//! ```text
//!   browser (forms + cookie)   API client (JSON + Bearer)   OpenID client   operator (argv)
//!          web::html                  web::api               web::oidc          cli   adapters
//!              └──────────────┬──────────┴──────────────────────┴─────────────┘
//!                 state (the composition root: builds each context once)
//!                oidc (the OpenID provider) · social (upstream providers)            core
//!                          tokens · maintenance
//!                            accounts
//!          sessions · keys · oauth (clients, consents) · mail · throttle · audit
//!          domain (parsed values) · clock · config · db (SQLite | PostgreSQL)
//! ```
//!
//! Each layer imports only the ones below it: tokens (logins, JWTs, bearer and cookie
//! authentication) sits on accounts (users, passwords, links, who may do what) and sessions (one
//! row per login, knowing user ids but not users); `oidc` (Latchkey as an OpenID provider: a
//! grant is a session naming its client) and `social` (signing in with an upstream provider —
//! OpenID Connect through the `openidconnect` crate, GitHub through `oauth2` and its REST API —
//! identities by issuer and subject, linked and unlinked on the account page) sit on tokens;
//! none of them imports an adapter or actix. `django` (the importer of Django's users) sits on
//! accounts, whose hasher also reads Django's password formats.
//!
//! - **Adapters** parse input into [`domain`] values, call one core function, and word its
//!   result: DRF's bodies in [`web::api`], Django's pages in [`web::html`], lines and exit codes
//!   in [`cli`]. The HTML adapter shares nothing with the JSON one but [`web::client`] (client
//!   address, bearer parsing).
//! - **Core** use cases are async functions over their layer's context, which holds only what
//!   the layer uses: [`sessions::SessionContext`] (database, clock, session lifetimes),
//!   [`accounts::AccountsContext`] (that plus hashing, the password policy, mail templates and
//!   the outbox's wake-up), [`tokens::TokensContext`] (that plus the JWT codec and the shared
//!   signing keys, [`keys::Keys`]), and
//!   [`mail::Delivery`] for the outbox worker (database, clock, transport). Each context
//!   dereferences to the one below, so a layer calls the one beneath with its own context;
//!   [`state::AppState`] holds them all and dereferences to the top one, and no core module
//!   imports it. The rules live in the core once:
//!   validation, token policy, throttling, and permissions, decided from the
//!   [`accounts::Actor`] each use case is given (anonymous, a user, staff, the operator), so the
//!   pages, the API and the CLI cannot disagree. Each module has one error enum whose variants
//!   are meanings (`WrongCurrentPassword`, `InvalidLink`, `Forbidden`, …); the adapters choose
//!   the words, and none of them inspects a message string. Synchronous, connection-first `ops`
//!   functions compose inside one transaction ([`db::write_transaction`]), so a change, its
//!   audit event and its outbox mail commit together.
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
pub mod django;
pub mod domain;
pub mod keys;
pub mod mail;
pub mod maintenance;
pub mod oauth;
pub mod oidc;
pub mod sessions;
pub mod social;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod web;
