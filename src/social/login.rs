//! Signing a person in with an upstream provider's tokens: verify them, find (or create) the
//! account the identity belongs to, open a session.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::upstream::{Returned, SocialTokens, UpstreamPerson};
use super::{Social, SocialError};
use crate::accounts::ops::{self as account_ops, Taken};
use crate::accounts::{self, NewUser, User};
use crate::audit::{self, AuditKind};
use crate::config::SocialProvider;
use crate::db::schema::social_identities;
use crate::db::{DbConn, write_transaction};
use crate::domain::{ClientMeta, Email, Username};
use crate::sessions::{ops as session_ops, service as session_service};
use crate::tokens::service::{self as tokens, TokenPair};
use crate::tokens::{TokensContext, UserIdClaim};

/// The API's social login: the tokens verified with the provider, the person's account (new or
/// linked before), and a new pair.
pub async fn api_login(
    state: &TokensContext,
    social: &Social,
    provider: &str,
    posted: SocialTokens,
    meta: &ClientMeta,
) -> Result<(User, TokenPair), SocialError> {
    let provider = social.provider(provider)?;
    let person = social.api_person(provider, posted).await?;
    let now = state.clock.now_naive();
    let (provider, ip) = (provider.clone(), meta.ip.clone());
    let user = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                account_for(conn, &provider, &person, ip.as_deref(), now)
            })
        })
        .await?;
    let pair = tokens::open_pair(state, &user, meta, UserIdClaim::Text).await?;
    Ok((user, pair))
}

/// What the browser's callback ended in.
#[derive(Debug, Clone)]
pub enum BrowserSignIn {
    /// Signed in: a new browser session of this user.
    LoggedIn {
        /// The user.
        user: User,
        /// Their new browser session.
        session_id: String,
    },
    /// A local account has this (verified) address: its owner must log in with its password
    /// once to link the identity.
    LinkNeeded(PendingLink),
}

/// An identity waiting to be linked to the account that has its address (kept in the browser's
/// encrypted session cookie until the password login).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingLink {
    /// The provider's name.
    pub provider: String,
    /// The provider's issuer.
    pub issuer: String,
    /// Its id for the person.
    pub subject: String,
    /// The verified address the local account has.
    pub email: String,
}

/// The callback of a sign-in Latchkey started for the browser: the code exchanged (with the
/// request's PKCE verifier), the ID token verified (with its nonce), then the account as
/// [`api_login`] finds it, and a browser session.
pub async fn browser_callback(
    state: &TokensContext,
    social: &Social,
    back: Returned<'_>,
    meta: &ClientMeta,
) -> Result<BrowserSignIn, SocialError> {
    let provider = social.provider(back.provider)?;
    let person = social
        .callback_person(provider, back.code, back.started, back.redirect_uri)
        .await?;
    let now = state.clock.now_naive();
    let (configured, ip, found) = (provider.clone(), meta.ip.clone(), person.clone());
    let account = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                account_for(conn, &configured, &found, ip.as_deref(), now)
            })
        })
        .await;
    let user = match account {
        Ok(user) => user,
        // Only an address the provider vouches for may be linked, and only by its owner.
        Err(SocialError::EmailTaken) if person.email_verified => {
            return Ok(BrowserSignIn::LinkNeeded(PendingLink {
                provider: provider.name.clone(),
                issuer: person.issuer,
                subject: person.subject,
                email: person.email.unwrap_or_default(),
            }));
        }
        Err(e) => return Err(e),
    };
    let session_id = session_service::open_browser_session(state, user.id, meta).await?;
    Ok(BrowserSignIn::LoggedIn { user, session_id })
}

/// Links a pending identity to the user of browser session `sid`, who just proved their
/// password, if the identity's verified address is theirs; true when linked.
pub async fn link_pending(
    state: &TokensContext,
    sid: &str,
    link: &PendingLink,
) -> Result<bool, SocialError> {
    let Ok(email) = Email::parse(&link.email) else {
        return Ok(false);
    };
    let now = state.clock.now_naive();
    let (sid, link) = (sid.to_owned(), link.clone());
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| -> Result<bool, SocialError> {
                // The session that proved the password must still be live (a reset just after
                // the login ended it).
                let live = session_ops::find_session(conn, &sid)?
                    .filter(|s| s.revoked_at.is_none() && s.expires_at > now);
                let Some(session) = live else {
                    return Ok(false);
                };
                let user_id = session.user_id;
                let owner = account_ops::find_by_id(conn, user_id)?;
                if owner.is_none_or(|u| u.email_lookup != email.lookup_key()) {
                    return Ok(false);
                }
                if linked_user(conn, &link.issuer, &link.subject)?.is_some() {
                    return Ok(false);
                }
                link_identity(conn, &link, user_id, "", None, now)?;
                Ok(true)
            })
        })
        .await
}

/// The account of this identity: the one it was linked to, or a new one. An address a local
/// account already has is linked here only when the operator trusts the provider to
/// (`auto_link`) and both sides verified the address; otherwise its owner links it with their
/// password.
fn account_for(
    conn: &mut DbConn,
    configured: &SocialProvider,
    person: &UpstreamPerson,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<User, SocialError> {
    let provider = configured.name.as_str();
    let linked = linked_user(conn, &person.issuer, &person.subject)?;
    let detail = format!("social login: {provider}");
    if let Some(user_id) = linked {
        let user = account_ops::find_by_id(conn, user_id)?.ok_or(SocialError::Inactive)?;
        if !user.is_active {
            return Err(SocialError::Inactive);
        }
        // The address the provider shares now (the account page shows it).
        let email = person.email.as_deref().filter(|e| !e.is_empty());
        diesel::update(social_identities::table.find((&person.issuer, &person.subject)))
            .set((
                social_identities::last_login_at.eq(Some(now)),
                social_identities::email.eq(email),
            ))
            .execute(conn)?;
        account_ops::touch_last_login(conn, user.id, now)?;
        audit::record(
            conn,
            AuditKind::LoginSucceeded,
            Some(user.id),
            ip,
            Some(&detail),
            now,
        )?;
        return Ok(user);
    }
    let email = person.email.as_deref().ok_or(SocialError::NoEmail)?;
    let email = Email::parse(email).map_err(|_| SocialError::NoEmail)?;
    let link = PendingLink {
        provider: provider.to_owned(),
        issuer: person.issuer.clone(),
        subject: person.subject.clone(),
        email: email.as_str().to_owned(),
    };
    if let Some(owner) = account_ops::find_by_email(conn, email.lookup_key())? {
        // An unverified local address may have been registered by someone else in advance
        // (account pre-hijacking): it is never linked without its password.
        let trusted = configured.auto_link && person.email_verified && owner.email_verified;
        if !trusted {
            return Err(SocialError::EmailTaken);
        }
        if !owner.is_active {
            return Err(SocialError::Inactive);
        }
        link_identity(conn, &link, owner.id, " automatically", ip, now)?;
        account_ops::touch_last_login(conn, owner.id, now)?;
        audit::record(
            conn,
            AuditKind::LoginSucceeded,
            Some(owner.id),
            ip,
            Some(&detail),
            now,
        )?;
        return Ok(owner);
    }
    let user = create_account(conn, person, &email, now)?;
    insert_identity(conn, &link, user.id, now)?;
    audit::record(
        conn,
        AuditKind::UserCreated,
        Some(user.id),
        ip,
        Some(&detail),
        now,
    )?;
    Ok(user)
}

/// The user an identity is linked to, if any.
pub(super) fn linked_user(
    conn: &mut DbConn,
    issuer: &str,
    subject: &str,
) -> QueryResult<Option<i64>> {
    social_identities::table
        .find((issuer, subject))
        .select(social_identities::user_id)
        .first(conn)
        .optional()
}

/// Links an identity to a user and records it (`how` ends the audit detail, `linked google
/// identity{how}`).
pub(super) fn link_identity(
    conn: &mut DbConn,
    link: &PendingLink,
    user_id: i64,
    how: &str,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    insert_identity(conn, link, user_id, now)?;
    let detail = format!("linked {} identity{how}", link.provider);
    audit::record(
        conn,
        AuditKind::IdentityLinked,
        Some(user_id),
        ip,
        Some(&detail),
        now,
    )
}

/// Links an identity to a user (its first login is now).
fn insert_identity(
    conn: &mut DbConn,
    link: &PendingLink,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(social_identities::table)
        .values((
            social_identities::issuer.eq(&link.issuer),
            social_identities::subject.eq(&link.subject),
            social_identities::provider.eq(&link.provider),
            social_identities::user_id.eq(user_id),
            social_identities::email.eq(Some(link.email.as_str()).filter(|e| !e.is_empty())),
            social_identities::created_at.eq(now),
            social_identities::last_login_at.eq(Some(now)),
        ))
        .execute(conn)
        .map(drop)
}

/// A new account for the person: their address (verified only if the provider says so), a
/// username from theirs or the address (made unique), their names, and an unusable password.
fn create_account(
    conn: &mut DbConn,
    person: &UpstreamPerson,
    email: &Email,
    now: NaiveDateTime,
) -> Result<User, SocialError> {
    let base = username_base(person, email);
    let unusable = accounts::unusable_password();
    let names = |v: &Option<String>| {
        v.clone()
            .unwrap_or_default()
            .chars()
            .take(150)
            .collect::<String>()
    };
    let (first_name, last_name) = (names(&person.given_name), names(&person.family_name));
    for n in 1..=100 {
        let username = if n == 1 {
            base.clone()
        } else {
            format!("{base}{n}")
        };
        let new = NewUser {
            email: email.as_str(),
            email_lookup: email.lookup_key(),
            username: &username,
            first_name: &first_name,
            last_name: &last_name,
            password: &unusable,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: now,
            activation_pending: false,
        };
        match account_ops::insert_user(conn, &new)? {
            Ok(user) => {
                account_ops::set_email_verified(conn, user.id, person.email_verified)?;
                account_ops::touch_last_login(conn, user.id, now)?;
                return Ok(User {
                    email_verified: person.email_verified,
                    last_login: Some(now),
                    ..user
                });
            }
            Err(Taken::Email) => return Err(SocialError::EmailTaken),
            Err(Taken::Username) => {}
        }
    }
    Err(SocialError::Unexpected(anyhow::anyhow!(
        "no free username from {base:?}"
    )))
}

/// The preferred username if it is a valid one, else the address's local part, else "user".
fn username_base(person: &UpstreamPerson, email: &Email) -> String {
    let local = email
        .as_str()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    [person.preferred_username.clone(), Some(local)]
        .into_iter()
        .flatten()
        .map(|candidate| candidate.chars().take(140).collect::<String>())
        .find(|candidate| Username::parse(candidate).is_ok())
        .unwrap_or_else(|| "user".to_owned())
}
