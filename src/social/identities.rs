//! The identities linked to an account: listed on the account page, linked by a signed-in
//! person, unlinked (never the last way to log in).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::login::{PendingLink, link_identity, linked_user};
use super::upstream::Returned;
use super::{Social, SocialError};
use crate::accounts::ops as account_ops;
use crate::audit::{self, AuditKind};
use crate::config::SocialProvider;
use crate::db::schema::social_identities;
use crate::db::{Db, DbConn, write_transaction};
use crate::tokens::TokensContext;

/// An identity at an upstream provider, linked to an account.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = social_identities)]
pub struct LinkedIdentity {
    /// The provider's name in Latchkey's configuration.
    pub provider: String,
    /// The provider's id for the person.
    pub subject: String,
    /// The address the provider shared when it was linked.
    pub email: Option<String>,
    /// When it was linked.
    pub created_at: NaiveDateTime,
    /// Its last sign-in.
    pub last_login_at: Option<NaiveDateTime>,
}

/// The identities linked to `user_id`, oldest first.
pub async fn linked_identities(db: &Db, user_id: i64) -> Result<Vec<LinkedIdentity>, SocialError> {
    let found = db
        .run(move |conn| identities_of(conn, user_id).map_err(SocialError::from))
        .await?;
    Ok(found)
}

fn identities_of(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<LinkedIdentity>> {
    social_identities::table
        .filter(social_identities::user_id.eq(user_id))
        .order((social_identities::created_at, social_identities::provider))
        .select(LinkedIdentity::as_select())
        .load(conn)
}

/// What the account page shows of a person's identities.
#[derive(Debug, Clone)]
pub struct AccountLinks {
    /// The identities linked to them, oldest first.
    pub linked: Vec<LinkedIdentity>,
    /// The configured providers they have no identity of (they may link one).
    pub linkable: Vec<SocialProvider>,
}

/// The person's linked identities and the providers they could still link.
pub async fn account_links(
    social: &Social,
    db: &Db,
    user_id: i64,
) -> Result<AccountLinks, SocialError> {
    let linked = linked_identities(db, user_id).await?;
    let linkable = social
        .providers()
        .iter()
        .filter(|p| !linked.iter().any(|l| l.provider == p.name))
        .cloned()
        .collect();
    Ok(AccountLinks { linked, linkable })
}

/// How linking an identity to a signed-in person ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The identity is now linked to them.
    Linked,
    /// It was linked to them already.
    AlreadyTheirs,
}

/// Links the identity a browser callback names to `user_id`, who is signed in and started this
/// link from their account page (the callback's state binds it to their browser). An identity
/// linked to another account stays there (`LinkedElsewhere`). The address does not need to
/// match: the person proved both sides themselves.
pub async fn link_signed_in(
    state: &TokensContext,
    social: &Social,
    back: Returned<'_>,
    user_id: i64,
) -> Result<LinkOutcome, SocialError> {
    let provider = social.provider(back.provider)?;
    let person = social
        .callback_person(provider, back.code, back.started, back.redirect_uri)
        .await?;
    let link = PendingLink {
        provider: provider.name.clone(),
        issuer: person.issuer,
        subject: person.subject,
        email: person.email.unwrap_or_default(),
    };
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                match linked_user(conn, &link.issuer, &link.subject)? {
                    Some(owner) if owner == user_id => return Ok(LinkOutcome::AlreadyTheirs),
                    Some(_) => return Err(SocialError::LinkedElsewhere),
                    None => {}
                }
                let user = account_ops::find_by_id(conn, user_id)?;
                if !user.is_some_and(|u| u.is_active) {
                    return Err(SocialError::Inactive);
                }
                link_identity(conn, &link, user_id, "", None, now)?;
                Ok(LinkOutcome::Linked)
            })
        })
        .await
}

/// Unlinks `user_id`'s identities at `provider`; false when there were none. Refused with
/// `LastWayIn` when the account would be left with no identity and no usable password. The
/// user's row is locked first, so two unlinks at once cannot both pass the check.
pub async fn unlink(
    state: &TokensContext,
    user_id: i64,
    provider: &str,
) -> Result<bool, SocialError> {
    let now = state.clock.now_naive();
    let provider = provider.to_owned();
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let Some(user) = account_ops::find_by_id_for_update(conn, user_id)? else {
                    return Ok(false);
                };
                let linked = identities_of(conn, user_id)?;
                let leaving = linked.iter().filter(|i| i.provider == provider).count();
                if leaving == 0 {
                    return Ok(false);
                }
                if leaving == linked.len() && !user.has_usable_password() {
                    return Err(SocialError::LastWayIn);
                }
                diesel::delete(
                    social_identities::table
                        .filter(social_identities::user_id.eq(user_id))
                        .filter(social_identities::provider.eq(&provider)),
                )
                .execute(conn)?;
                let detail = format!("unlinked {provider} identity");
                audit::record(
                    conn,
                    AuditKind::IdentityUnlinked,
                    Some(user_id),
                    None,
                    Some(&detail),
                    now,
                )?;
                Ok(true)
            })
        })
        .await
}
