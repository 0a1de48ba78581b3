//! The OpenID provider's browser endpoints: `/oauth/authorize` (login round trip, consent
//! page, back to the client with a code) and `/oauth/logout` (RP-initiated logout).

use actix_identity::IdentityExt;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde::Deserialize;

use super::page::{Checked, CurrentUser, HtmlError, LOGIN, MaybeUser, Page, PageResult, csrf_form};
use crate::oauth::Client;
use crate::oidc::{
    self, Authorization, AuthorizeRequest, Decision, LoggedOut, Login, LogoutRequest, NoRedirect,
    OidcError, Scope,
};

/// GET /oauth/authorize
pub async fn authorize(page: Page, MaybeUser(current): MaybeUser) -> PageResult {
    let Ok(request) = serde_urlencoded::from_str::<AuthorizeRequest>(page.req.query_string())
    else {
        return Ok(error_page(
            &page,
            "The request's parameters could not be read (one may be repeated).",
        ));
    };
    let login = current.as_ref().map(login_of);
    let outcome = oidc::authorize(&page.state, &request, login.as_ref(), Decision::NotAsked).await;
    answer(&page, &request, current.as_ref(), outcome)
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf_token: Option<String>,
    decision: Option<String>,
    #[serde(flatten)]
    request: AuthorizeRequest,
}

csrf_form!(ConsentForm);

/// POST /oauth/authorize — the consent page's answer.
pub async fn consent_submit(
    page: Page,
    current: CurrentUser,
    form: Checked<ConsentForm>,
) -> PageResult {
    let decision = match form.decision.as_deref() {
        Some("allow") => Decision::Allow,
        _ => Decision::Deny,
    };
    let login = login_of(&current);
    let outcome = oidc::authorize(&page.state, &form.request, Some(&login), decision).await;
    answer(&page, &form.request, Some(&current), outcome)
}

fn login_of(current: &CurrentUser) -> Login {
    Login {
        user: current.user.clone(),
        auth_time: current.logged_in_at,
    }
}

/// The response for the core's decision.
fn answer(
    page: &Page,
    request: &AuthorizeRequest,
    current: Option<&CurrentUser>,
    outcome: Result<Authorization, OidcError>,
) -> PageResult {
    let issuer = page.state.settings.server.public_url.as_str();
    let outcome = match outcome {
        Err(OidcError::NoRedirect(why)) => return Ok(error_page(page, no_redirect_words(why))),
        other => other?,
    };
    match outcome {
        Authorization::Code {
            redirect_uri,
            code,
            state,
        } => Ok(back_to_client(
            &redirect_uri,
            &[
                ("code", Some(code.as_str())),
                ("state", state.as_deref()),
                ("iss", Some(issuer)),
            ],
        )),
        Authorization::Refused {
            redirect_uri,
            error,
            description,
            state,
        } => Ok(back_to_client(
            &redirect_uri,
            &[
                ("error", Some(error.as_str())),
                ("error_description", Some(description)),
                ("state", state.as_deref()),
                ("iss", Some(issuer)),
            ],
        )),
        Authorization::Login { after } => Ok(to_login(request, after)),
        Authorization::Consent { client, scope } => match current {
            Some(current) => Ok(consent_page(page, current, request, &client, &scope)),
            None => Err(HtmlError::Failed(anyhow::anyhow!(
                "consent asked without a login"
            ))),
        },
    }
}

impl From<OidcError> for HtmlError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Unavailable => Self::Unavailable,
            other => Self::Failed(other.into()),
        }
    }
}

/// 302 to the client's redirect URI with these parameters added to its own query.
fn back_to_client(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> HttpResponse {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        // Registered URIs are checked absolute URLs; this is only the type's other case.
        Err(_) => return HttpResponse::BadRequest().finish(),
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.as_str()))
        .finish()
}

/// 303 to the login page, back to this request afterwards; with `after`, the person must
/// enter their password again even if logged in.
fn to_login(request: &AuthorizeRequest, after: Option<i64>) -> HttpResponse {
    let mut again = request.clone();
    again.login_after = after.map(|t| t.to_string());
    let next = format!(
        "/oauth/authorize/?{}",
        serde_urlencoded::to_string(&again).unwrap_or_default()
    );
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("next", &next);
    if after.is_some() {
        query.append_pair("reauth", "1");
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{LOGIN}?{}", query.finish())))
        .finish()
}

/// Each scope in plain words.
fn scope_words(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are on this site (your account number)",
        "profile" => "See your name and username",
        "email" => "See your email address",
        "offline_access" => "Stay connected when you are not using it",
        _ => "Something this site does not describe",
    }
}

/// One parameter of the authorization request, carried through the consent form.
#[derive(serde::Serialize)]
struct HiddenField {
    name: String,
    value: String,
}

fn consent_page(
    page: &Page,
    current: &CurrentUser,
    request: &AuthorizeRequest,
    client: &Client,
    scope: &Scope,
) -> HttpResponse {
    let words: Vec<&str> = scope.iter().map(scope_words).collect();
    let fields: Vec<HiddenField> = serde_urlencoded::to_string(request)
        .ok()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(name, value)| HiddenField {
                    name: name.into_owned(),
                    value: value.into_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    page.show(
        StatusCode::OK,
        "oauth/consent.html",
        Some(&current.user),
        |c| {
            c.insert("client_name", &client.name);
            c.insert("scopes", &words);
            c.insert("fields", &fields);
        },
    )
}

/// What the error page says about a request that cannot go back to its client.
pub fn no_redirect_words(why: NoRedirect) -> &'static str {
    match why {
        NoRedirect::MissingClientId => {
            "The request does not name an application (client_id is missing)."
        }
        NoRedirect::UnknownClient => "The application is not registered here (unknown client_id).",
        NoRedirect::MissingRedirectUri => {
            "The request does not say where to return (redirect_uri is missing)."
        }
        NoRedirect::UnregisteredRedirectUri => {
            "The return address is not one the application registered (redirect_uri)."
        }
        NoRedirect::InvalidIdTokenHint => {
            "The logout request carries an ID token this server did not issue (id_token_hint)."
        }
        NoRedirect::UnregisteredPostLogoutUri => {
            "The address to return to after logging out is not one the application registered (post_logout_redirect_uri)."
        }
    }
}

fn error_page(page: &Page, message: &str) -> HttpResponse {
    page.show(StatusCode::BAD_REQUEST, "oauth/error.html", None, |c| {
        c.insert("message", message);
    })
}

/// GET /oauth/logout — RP-initiated logout.
pub async fn logout(page: Page, MaybeUser(current): MaybeUser) -> PageResult {
    let Ok(request) = serde_urlencoded::from_str::<LogoutRequest>(page.req.query_string()) else {
        return Ok(error_page(
            &page,
            "The request's parameters could not be read (one may be repeated).",
        ));
    };
    let browser = current.as_ref().map(|c| (c.user.id, c.sid.clone()));
    let outcome = match oidc::end_session(&page.state, &request, browser).await {
        Err(OidcError::NoRedirect(why)) => return Ok(error_page(&page, no_redirect_words(why))),
        other => other?,
    };
    Ok(logged_out(&page, outcome, current.as_ref()))
}

/// The logout endpoint's answer: the cookie forgotten when its login ended, then the client's
/// address, the "logged out" page or the confirmation page.
fn logged_out(page: &Page, outcome: LoggedOut, current: Option<&CurrentUser>) -> HttpResponse {
    let ended = matches!(
        outcome,
        LoggedOut::Redirect {
            ended_login: true,
            ..
        } | LoggedOut::Page { ended_login: true }
    );
    if ended && let Ok(identity) = page.req.get_identity() {
        identity.logout();
    }
    match outcome {
        LoggedOut::Redirect { uri, state, .. } => {
            back_to_client(&uri, &[("state", state.as_deref())])
        }
        LoggedOut::Page { .. } => {
            page.show(StatusCode::OK, "accounts/logged_out.html", None, |_| {})
        }
        LoggedOut::Confirm => {
            let user = current.map(|c| &c.user);
            page.show(StatusCode::OK, "oauth/logout.html", user, |_| {})
        }
    }
}
