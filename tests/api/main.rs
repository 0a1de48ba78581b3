//! The integration suite: one binary, every test against the real app with its own database.
//! Tests marked for both backends run on SQLite always and on PostgreSQL when
//! LATCHKEY_TEST_POSTGRES_URL is set (required when CI=true).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod helpers;

mod accounts;
mod browser;
mod cli;
mod clients;
mod compat;
mod config;
mod database;
mod django;
mod frontends;
mod github;
mod html;
mod http;
mod jwt;
mod keys;
mod mail;
mod oidc;
mod permissions;
mod races;
mod restauth;
mod schema_fuzz;
mod security;
mod social;
mod social_links;
mod throttle;
mod upstream;
mod users;
