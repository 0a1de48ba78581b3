//! The OpenID provider's clients (relying parties): registered by an operator, each with its
//! exact redirect URIs, and a secret when it can keep one; and the consents people gave them.
//! The provider's flows over them are in [`crate::oidc`].
//!
//! Below tokens, beside accounts: it knows clients and user ids, never users.

mod clients;
mod consents;

pub use consents::{ConnectedApp, connected_apps, find_consent, grant_consent, revoke_consent};

pub use clients::{
    Client, ClientsError, NewClient, RegisteredClient, check_client_secret, get_client,
    list_clients, register_client, remove_client, rotate_client_secret, sync_declared_clients,
};
