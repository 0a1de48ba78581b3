//! The account page: details, names, the address change, and the sessions list with "end" and
//! "end all others".

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web;
use serde::{Deserialize, Serialize};

use super::page::{
    Checked, CurrentUser, HtmlError, PROFILE, Page, PageResult, TokenOnly, csrf_form, see_other,
};
use super::words::{EMAIL_CHANGE, form_errors};
use crate::accounts::{self, Actor, ProfileChanges, User};
use crate::domain::{Email, FieldErrors, PersonName};
use crate::oauth;
use crate::sessions::service as sessions;
use crate::sessions::{Session, SessionKind};
use crate::social::{self, LinkedIdentity, Social};

#[derive(Serialize)]
struct SessionRow {
    id: String,
    kind: String,
    created: String,
    last_seen: String,
    ip: String,
    user_agent: String,
    current: bool,
}

impl SessionRow {
    /// A session as the table shows it: by its public handle, never its id.
    fn of((session, client): (Session, Option<String>), current_sid: &str) -> Self {
        let kind = match (session.kind(), client) {
            (SessionKind::OAuth, Some(client)) => format!("app: {client}"),
            (kind, _) => kind.as_str().to_owned(),
        };
        Self {
            id: session.handle(),
            current: session.id == current_sid,
            kind,
            created: when(session.created_at),
            last_seen: when(session.last_seen_at),
            ip: session.ip.unwrap_or_default(),
            user_agent: session.user_agent.unwrap_or_default(),
        }
    }
}

/// A client the person consented to ("Connected apps").
#[derive(Serialize)]
struct AppRow {
    client_id: String,
    name: String,
    scope: String,
    granted: String,
}

/// The person's connected apps, as the table shows them.
async fn connected_apps(page: &Page, user_id: i64) -> Result<Vec<AppRow>, HtmlError> {
    let apps = oauth::connected_apps(&page.state.db, user_id)
        .await
        .map_err(|e| HtmlError::Failed(e.into()))?;
    Ok(apps
        .into_iter()
        .map(|app| AppRow {
            client_id: app.client_id,
            name: app.name,
            scope: app.scope,
            granted: when(app.granted_at),
        })
        .collect())
}

/// A linked identity as the account page lists it, with its provider's display name.
#[derive(Serialize)]
struct IdentityRow {
    provider: String,
    name: String,
    email: String,
    linked: String,
    last_used: String,
}

/// A configured provider the person has not linked yet ("Link your <name> account").
#[derive(Serialize)]
struct LinkableRow {
    provider: String,
    name: String,
}

impl IdentityRow {
    fn of(identity: LinkedIdentity, social: &Social) -> Self {
        let name = social
            .provider(&identity.provider)
            .map_or_else(|_| identity.provider.clone(), |p| p.display_name.clone());
        Self {
            name,
            provider: identity.provider,
            email: identity.email.unwrap_or_default(),
            linked: when(identity.created_at),
            last_used: identity.last_login_at.map(when).unwrap_or_default(),
        }
    }
}

/// The account page's "Linked accounts" and password sections.
#[derive(Serialize)]
struct WaysIn {
    identities: Vec<IdentityRow>,
    linkable: Vec<LinkableRow>,
    has_password: bool,
}

/// The person's linked identities, the configured providers they could link, and whether they
/// have a password.
async fn ways_in(page: &Page, user: &User) -> Result<WaysIn, HtmlError> {
    let social = &page.state.social;
    let links = social::account_links(social, &page.state.db, user.id)
        .await
        .map_err(|e| HtmlError::Failed(e.into()))?;
    let linkable = links.linkable.into_iter().map(|p| LinkableRow {
        provider: p.name,
        name: p.display_name,
    });
    Ok(WaysIn {
        identities: links
            .linked
            .into_iter()
            .map(|l| IdentityRow::of(l, social))
            .collect(),
        linkable: linkable.collect(),
        has_password: user.has_usable_password(),
    })
}

fn when(at: chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// What the account page's forms show again after a refused post.
#[derive(Default)]
struct Refused<'a> {
    errors: FieldErrors,
    new_email: &'a str,
}

/// The account page with its forms (names, email) and sessions table.
async fn account_page(page: &Page, current: &CurrentUser, refused: Refused<'_>) -> PageResult {
    let sessions = sessions::list_sessions(&page.state, current.user.id).await?;
    let rows: Vec<SessionRow> = sessions
        .into_iter()
        .map(|s| SessionRow::of(s, &current.sid))
        .collect();
    let apps = connected_apps(page, current.user.id).await?;
    let ways_in = ways_in(page, &current.user).await?;
    let errors: HashMap<&str, &[String]> = refused.errors.iter().collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let user = &current.user;
    Ok(page.show(status, "accounts/profile.html", Some(user), |c| {
        c.insert("sessions", &rows);
        c.insert("apps", &apps);
        c.insert("ways_in", &ways_in);
        c.insert("joined", &when(user.date_joined));
        c.insert("new_email", refused.new_email);
        c.insert("errors", &errors);
    }))
}

/// GET /accounts/profile/ — the account page; anonymous visitors go to the login page.
pub async fn profile(page: Page, current: CurrentUser) -> PageResult {
    account_page(&page, &current, Refused::default()).await
}

#[derive(Deserialize)]
pub struct NamesForm {
    csrf_token: Option<String>,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

#[derive(Deserialize)]
pub struct EmailChangeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    current_password: String,
}

csrf_form!(NamesForm, EmailChangeForm);

impl NamesForm {
    fn changes(&self) -> Result<ProfileChanges, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut name = |field: &str, raw: &str| {
            PersonName::parse(raw)
                .map_err(|e| errors.add(field, e.to_string()))
                .ok()
        };
        let first_name = name("first_name", &self.first_name);
        let last_name = name("last_name", &self.last_name);
        errors.into_result()?;
        Ok(ProfileChanges {
            email: None,
            first_name,
            last_name,
        })
    }
}

/// POST /accounts/profile/ — first and last name.
pub async fn profile_submit(
    page: Page,
    form: Checked<NamesForm>,
    current: CurrentUser,
) -> PageResult {
    let changes = match form.changes() {
        Ok(changes) => changes,
        Err(errors) => {
            let refused = Refused {
                errors,
                ..Refused::default()
            };
            return account_page(&page, &current, refused).await;
        }
    };
    let (actor, id) = (Actor::User(current.user.clone()), current.user.id);
    accounts::update_profile(&page.state, &actor, id, changes).await?;
    page.flash("Your details were saved.");
    Ok(see_other(PROFILE))
}

/// POST /accounts/email/ — the same core as set_email: the password, then a link to the new
/// address; nothing changes until it is opened.
pub async fn email_submit(
    page: Page,
    form: Checked<EmailChangeForm>,
    current: CurrentUser,
) -> PageResult {
    let typed = form.new_email.trim();
    let Some(errors) = email_change(&page, &form, &current).await? else {
        page.flash(&format!(
            "We sent a link to {typed}. It changes when you open it."
        ));
        return Ok(see_other(PROFILE));
    };
    let refused = Refused {
        errors,
        new_email: typed,
    };
    account_page(&page, &current, refused).await
}

/// The form's address, parsed, handed to the core's set_email; the form's refusals, if any.
async fn email_change(
    page: &Page,
    form: &EmailChangeForm,
    current: &CurrentUser,
) -> Result<Option<FieldErrors>, HtmlError> {
    let email = match Email::parse(&form.new_email) {
        Ok(email) => email,
        Err(e) => return Ok(Some(FieldErrors::one("new_email", e))),
    };
    let (user, keep) = (&current.user, Some(current.sid.clone()));
    let password = &form.current_password;
    match accounts::request_email_change(&page.state, user, password, email, keep).await {
        Ok(()) => Ok(None),
        Err(e) => Ok(Some(form_errors(e, &EMAIL_CHANGE)?)),
    }
}

/// POST /accounts/sessions/{handle}/end/ — ends one of the user's other sessions.
pub async fn end_session(
    page: Page,
    _form: Checked<TokenOnly>,
    current: CurrentUser,
    handle: web::Path<String>,
) -> PageResult {
    if sessions::end_own_session_by_handle(&page.state, current.user.id, &handle).await? {
        page.flash("The session was ended.");
    }
    Ok(see_other(PROFILE))
}

/// POST /accounts/sessions/end-others/ — every session but this one ends.
pub async fn end_other_sessions(
    page: Page,
    _form: Checked<TokenOnly>,
    current: CurrentUser,
) -> PageResult {
    let keep = Some(current.sid.clone());
    let ended = sessions::revoke_other_sessions(&page.state, current.user.id, keep).await?;
    let plural = if ended == 1 { "" } else { "s" };
    page.flash(&format!("{ended} other session{plural} ended."));
    Ok(see_other(PROFILE))
}

/// POST /accounts/apps/{client_id}/revoke/ — withdraws a connected app's consent; its grants
/// of this person end.
pub async fn revoke_app(
    page: Page,
    _form: Checked<TokenOnly>,
    current: CurrentUser,
    client_id: web::Path<String>,
) -> PageResult {
    let state = &page.state;
    let revoked = oauth::revoke_consent(&state.db, &state.clock, current.user.id, &client_id)
        .await
        .map_err(|e| HtmlError::Failed(e.into()))?;
    if revoked {
        page.flash("The app can no longer use your account.");
    }
    Ok(see_other(PROFILE))
}
