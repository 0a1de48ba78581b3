//! Consents: what a person allowed a third-party client to see, asked once and remembered until
//! they revoke it on the account page ("Connected apps").

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::ClientsError;
use crate::audit::{self, AuditKind};
use crate::clock::Clock;
use crate::db::schema::{oauth_clients, oauth_consents};
use crate::db::{Db, DbConn, write_transaction};
use crate::sessions::ops as session_ops;

/// A client a person consented to, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ConnectedApp {
    /// The client.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// The scopes allowed, space-separated.
    pub scope: String,
    /// When they were last allowed.
    pub granted_at: NaiveDateTime,
}

/// The scopes the person already allowed this client, if any.
pub fn find_consent(
    conn: &mut DbConn,
    user_id: i64,
    client_id: &str,
) -> QueryResult<Option<String>> {
    oauth_consents::table
        .find((user_id, client_id))
        .select(oauth_consents::scope)
        .first(conn)
        .optional()
}

/// Remembers that the person allowed `scope` (added to what they allowed before).
pub fn grant_consent(
    conn: &mut DbConn,
    user_id: i64,
    client_id: &str,
    scope: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut scopes: Vec<String> = find_consent(conn, user_id, client_id)?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for s in scope.split_whitespace() {
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
    let scope = scopes.join(" ");
    diesel::delete(oauth_consents::table.find((user_id, client_id))).execute(conn)?;
    diesel::insert_into(oauth_consents::table)
        .values((
            oauth_consents::user_id.eq(user_id),
            oauth_consents::client_id.eq(client_id),
            oauth_consents::scope.eq(scope),
            oauth_consents::granted_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The clients the person consented to, most recent first.
pub async fn connected_apps(db: &Db, user_id: i64) -> Result<Vec<ConnectedApp>, ClientsError> {
    db.run(move |conn| {
        oauth_consents::table
            .inner_join(oauth_clients::table)
            .filter(oauth_consents::user_id.eq(user_id))
            .order(oauth_consents::granted_at.desc())
            .select((
                oauth_consents::client_id,
                oauth_clients::name,
                oauth_consents::scope,
                oauth_consents::granted_at,
            ))
            .load(conn)
            .map_err(ClientsError::from)
    })
    .await
}

/// Withdraws the person's consent to a client and ends the client's grants of them (its tokens
/// stop at once); false when there was no consent to withdraw.
pub async fn revoke_consent(
    db: &Db,
    clock: &Clock,
    user_id: i64,
    client_id: &str,
) -> Result<bool, ClientsError> {
    let now = clock.now_naive();
    let client_id = client_id.to_owned();
    db.run(move |conn| {
        write_transaction(conn, |conn| -> Result<bool, ClientsError> {
            let removed =
                diesel::delete(oauth_consents::table.find((user_id, &client_id))).execute(conn)?;
            let ended = session_ops::revoke_client_sessions(conn, user_id, &client_id, now)?;
            if removed == 1 || ended > 0 {
                let detail = format!("client={client_id} sessions={ended}");
                audit::record(
                    conn,
                    AuditKind::ConsentRevoked,
                    Some(user_id),
                    None,
                    Some(&detail),
                    now,
                )?;
            }
            Ok(removed == 1)
        })
    })
    .await
}
