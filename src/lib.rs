//! Latchkey: an authentication server with HTML pages, a Djoser/SimpleJWT-compatible JSON API
//! and an operator CLI, over one core. See DESIGN.md for the architecture.
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
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod web;
