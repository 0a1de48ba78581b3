//! Client registration and lookup.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::clock::Clock;
use crate::config::DeclaredClient;
use crate::db::schema::oauth_clients;
use crate::db::{Db, DbError, write_transaction};
use crate::domain::base64url_encode;
use crate::keys::KeyAlg;

/// What can go wrong with clients.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    /// The client needs a name.
    #[error("a client needs a name")]
    NameRequired,
    /// The client needs at least one redirect URI.
    #[error("a client needs at least one redirect URI")]
    NoRedirectUri,
    /// A redirect URI that may not be registered.
    #[error("{uri:?} cannot be a redirect URI: {reason}")]
    InvalidRedirectUri {
        /// The URI as given.
        uri: String,
        /// Why not.
        reason: &'static str,
    },
    /// No client has this id.
    #[error("no client {0:?}")]
    NotFound(String),
    /// A public client has no secret to rotate.
    #[error("client {0:?} is public: it has no secret")]
    Public(String),
    /// The random source failed.
    #[error("the random source failed")]
    Random,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ClientsError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::from(e))
    }
}

/// A registered client.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_clients)]
pub struct Client {
    /// The public identifier.
    pub client_id: String,
    /// The name people see on the consent page and the account page.
    pub name: String,
    /// SHA-256 of the secret (base64url); `None` for a public client.
    pub secret_hash: Option<String>,
    /// Trusted by the operator: no consent page.
    pub first_party: bool,
    /// Exact redirect URIs, one per line.
    pub redirect_uris: String,
    /// Exact post-logout redirect URIs, one per line.
    pub post_logout_redirect_uris: String,
    /// When it was registered.
    pub created_at: NaiveDateTime,
    /// When its secret last changed, if ever.
    pub secret_rotated_at: Option<NaiveDateTime>,
    /// How its ID tokens are signed: `RS256` (openid-client's default) or `ES256`.
    pub id_token_alg: String,
}

impl Client {
    /// Public clients (single-page and native apps) cannot keep a secret and must use PKCE.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// The registered redirect URIs.
    pub fn redirect_uris(&self) -> impl Iterator<Item = &str> {
        self.redirect_uris.lines().filter(|l| !l.is_empty())
    }

    /// The algorithm its ID tokens are signed with (RS256 unless registered otherwise).
    pub fn id_token_alg(&self) -> KeyAlg {
        KeyAlg::parse(&self.id_token_alg).unwrap_or(KeyAlg::Rs256)
    }

    /// The registered post-logout redirect URIs.
    pub fn post_logout_redirect_uris(&self) -> impl Iterator<Item = &str> {
        self.post_logout_redirect_uris
            .lines()
            .filter(|l| !l.is_empty())
    }
}

/// What an operator registers.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Its name.
    pub name: String,
    /// Its redirect URIs (at least one).
    pub redirect_uris: Vec<String>,
    /// Where it may send people after logging out.
    pub post_logout_redirect_uris: Vec<String>,
    /// A single-page or native app: no secret.
    pub public: bool,
    /// Trusted: no consent page.
    pub first_party: bool,
    /// The ID tokens' algorithm; RS256 when `None`.
    pub id_token_alg: Option<KeyAlg>,
}

/// A new client with its secret, which is shown once and never stored.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The client as stored.
    pub client: Client,
    /// The secret, for a confidential client.
    pub secret: Option<String>,
}

/// Registers a client; a confidential one gets a fresh secret.
pub async fn register_client(
    db: &Db,
    clock: &Clock,
    new: NewClient,
) -> Result<RegisteredClient, ClientsError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() {
        return Err(ClientsError::NameRequired);
    }
    if new.redirect_uris.is_empty() {
        return Err(ClientsError::NoRedirectUri);
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        check_redirect_uri(uri)?;
    }
    let client_id = client_id()?;
    let secret = if new.public {
        None
    } else {
        Some(random_token(32)?)
    };
    let client = Client {
        client_id,
        name,
        secret_hash: secret.as_deref().map(secret_hash),
        first_party: new.first_party,
        redirect_uris: new.redirect_uris.join("\n"),
        post_logout_redirect_uris: new.post_logout_redirect_uris.join("\n"),
        created_at: clock.now_naive(),
        secret_rotated_at: None,
        id_token_alg: new
            .id_token_alg
            .unwrap_or(KeyAlg::Rs256)
            .as_str()
            .to_owned(),
    };
    let row = client.clone();
    db.run(move |conn| {
        diesel::insert_into(oauth_clients::table)
            .values(&row)
            .execute(conn)
            .map_err(ClientsError::from)
    })
    .await?;
    Ok(RegisteredClient { client, secret })
}

/// Creates or updates the clients the config file declares (their ids are fixed there, their
/// secrets come from the environment); returns how many changed. A client dropped from the
/// file stays registered until `latchkey clients remove`.
pub async fn sync_declared_clients(
    db: &Db,
    clock: &Clock,
    declared: &[DeclaredClient],
) -> Result<usize, ClientsError> {
    for client in declared {
        for uri in client
            .redirect_uris
            .iter()
            .chain(&client.post_logout_redirect_uris)
        {
            check_redirect_uri(uri)?;
        }
    }
    let now = clock.now_naive();
    let wanted: Vec<Client> = declared
        .iter()
        .map(|d| Client {
            client_id: d.client_id.clone(),
            name: d.name.clone(),
            secret_hash: d.secret.as_ref().map(|s| secret_hash(s.expose())),
            first_party: d.first_party,
            redirect_uris: d.redirect_uris.join("\n"),
            post_logout_redirect_uris: d.post_logout_redirect_uris.join("\n"),
            created_at: now,
            secret_rotated_at: None,
            id_token_alg: d.id_token_alg.clone(),
        })
        .collect();
    db.run(move |conn| {
        write_transaction(conn, |conn| -> Result<usize, ClientsError> {
            let mut changed = 0;
            for want in &wanted {
                let have: Option<Client> = oauth_clients::table
                    .find(&want.client_id)
                    .select(Client::as_select())
                    .first(conn)
                    .optional()?;
                let Some(have) = have else {
                    diesel::insert_into(oauth_clients::table)
                        .values(want)
                        .execute(conn)?;
                    changed += 1;
                    continue;
                };
                let same = have.name == want.name
                    && have.secret_hash == want.secret_hash
                    && have.first_party == want.first_party
                    && have.redirect_uris == want.redirect_uris
                    && have.post_logout_redirect_uris == want.post_logout_redirect_uris
                    && have.id_token_alg == want.id_token_alg;
                if same {
                    continue;
                }
                let rotated = (have.secret_hash != want.secret_hash)
                    .then_some(now)
                    .or(have.secret_rotated_at);
                diesel::update(oauth_clients::table.find(&want.client_id))
                    .set((
                        oauth_clients::name.eq(&want.name),
                        oauth_clients::secret_hash.eq(&want.secret_hash),
                        oauth_clients::first_party.eq(want.first_party),
                        oauth_clients::redirect_uris.eq(&want.redirect_uris),
                        oauth_clients::post_logout_redirect_uris
                            .eq(&want.post_logout_redirect_uris),
                        oauth_clients::id_token_alg.eq(&want.id_token_alg),
                        oauth_clients::secret_rotated_at.eq(rotated),
                    ))
                    .execute(conn)?;
                changed += 1;
            }
            Ok(changed)
        })
    })
    .await
}

/// Every client, oldest first.
pub async fn list_clients(db: &Db) -> Result<Vec<Client>, ClientsError> {
    db.run(|conn| {
        oauth_clients::table
            .select(Client::as_select())
            .order((oauth_clients::created_at, oauth_clients::client_id))
            .load(conn)
            .map_err(ClientsError::from)
    })
    .await
}

/// The client with this id.
pub async fn get_client(db: &Db, client_id: &str) -> Result<Client, ClientsError> {
    let id = client_id.to_owned();
    db.run(move |conn| {
        oauth_clients::table
            .find(&id)
            .select(Client::as_select())
            .first(conn)
            .optional()?
            .ok_or(ClientsError::NotFound(id))
    })
    .await
}

/// Removes a client.
pub async fn remove_client(db: &Db, client_id: &str) -> Result<(), ClientsError> {
    let id = client_id.to_owned();
    db.run(move |conn| {
        let removed = diesel::delete(oauth_clients::table.find(&id)).execute(conn)?;
        if removed == 0 {
            return Err(ClientsError::NotFound(id));
        }
        Ok(())
    })
    .await
}

/// Gives a confidential client a new secret (the old one stops working at once); returns it.
pub async fn rotate_client_secret(
    db: &Db,
    clock: &Clock,
    client_id: &str,
) -> Result<String, ClientsError> {
    let id = client_id.to_owned();
    let secret = random_token(32)?;
    let hash = secret_hash(&secret);
    let now = clock.now_naive();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let current: Option<Option<String>> = oauth_clients::table
                .find(&id)
                .select(oauth_clients::secret_hash)
                .first(conn)
                .optional()?;
            match current {
                None => Err(ClientsError::NotFound(id)),
                Some(None) => Err(ClientsError::Public(id)),
                Some(Some(_)) => {
                    diesel::update(oauth_clients::table.find(&id))
                        .set((
                            oauth_clients::secret_hash.eq(Some(hash)),
                            oauth_clients::secret_rotated_at.eq(Some(now)),
                        ))
                        .execute(conn)?;
                    Ok(())
                }
            }
        })
    })
    .await?;
    Ok(secret)
}

/// Whether `presented` is the client's secret (constant time; false for a public client).
pub fn check_client_secret(client: &Client, presented: &str) -> bool {
    client.secret_hash.as_deref().is_some_and(|stored| {
        verify_slices_are_equal(stored.as_bytes(), secret_hash(presented).as_bytes()).is_ok()
    })
}

fn secret_hash(secret: &str) -> String {
    base64url_encode(digest(&SHA256, secret.as_bytes()).as_ref())
}

/// 128 random bits, base64url, starting with a letter or digit: an id that begins with `-`
/// would read as an option on a command line (`latchkey clients remove -x…`).
fn client_id() -> Result<String, ClientsError> {
    loop {
        let id = random_token(16)?;
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Ok(id);
        }
    }
}

fn random_token(bytes: usize) -> Result<String, ClientsError> {
    let mut buffer = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buffer).map_err(|_| ClientsError::Random)?;
    Ok(base64url_encode(&buffer))
}

/// RFC 6749 §3.1.2 and RFC 8252: absolute, no fragment, no credentials; `https`, or `http`
/// only to the loopback interface (native apps and local development), or a private-use
/// scheme of a native app (`com.example.app:/callback`).
fn check_redirect_uri(uri: &str) -> Result<(), ClientsError> {
    let invalid = |reason| ClientsError::InvalidRedirectUri {
        uri: uri.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(uri).map_err(|_| invalid("it is not an absolute URL"))?;
    if parsed.fragment().is_some() {
        return Err(invalid("it has a fragment (RFC 6749, section 3.1.2)"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("it carries credentials"));
    }
    let loopback = matches!(
        parsed.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(invalid(
            "plain http is allowed only to localhost, 127.0.0.1 or [::1]",
        )),
        // A native app's private-use scheme is reverse-DNS (RFC 8252, section 7.1).
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(invalid(
            "use https, http to the loopback interface, or a reverse-DNS private-use scheme",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_rfc_6749_and_8252() {
        for ok in [
            "https://app.example.com/api/auth/callback/latchkey",
            "http://localhost:3000/api/auth/callback/auth0",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("/callback", "absolute"),
            ("https://app.example.com/cb#frag", "fragment"),
            ("http://app.example.com/cb", "only to localhost"),
            ("https://user:pw@app.example.com/cb", "credentials"),
            ("javascript:alert(1)", "private-use"),
            ("data:text/html,hi", "private-use"),
        ] {
            let error = check_redirect_uri(bad).unwrap_err().to_string();
            assert!(error.contains(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn secrets_are_checked_by_hash_in_constant_time() {
        let client = Client {
            client_id: "c".into(),
            name: "n".into(),
            secret_hash: Some(secret_hash("s3cret")),
            first_party: false,
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            created_at: NaiveDateTime::default(),
            secret_rotated_at: None,
            id_token_alg: "RS256".into(),
        };
        assert!(check_client_secret(&client, "s3cret"));
        assert!(!check_client_secret(&client, "s3cret "));
        let public = Client {
            secret_hash: None,
            ..client
        };
        assert!(!check_client_secret(&public, ""));
    }
}
