//! The OpenID provider's clients (relying parties): registered by an operator, each with its
//! exact redirect URIs, and a secret when it can keep one. The authorization and token
//! endpoints that use them are being built (issue 11).
//!
//! Below tokens, beside accounts: it knows clients, never users.

mod clients;

pub use clients::{
    Client, ClientsError, NewClient, RegisteredClient, check_client_secret, get_client,
    list_clients, register_client, remove_client, rotate_client_secret,
};
