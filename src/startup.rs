//! Builds the application once, for `main` and for the tests alike.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::http::{Method, header};
use actix_web::middleware::{DefaultHeaders, NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::clock::Clock;
use crate::config::JwtAlgorithm;
use crate::config::Settings;
use crate::db::{DbError, ISSUER_CLAIMS_MIGRATION, applied_at, run_pending_migrations};
use crate::keys::KeyAlg;
use crate::state::AppState;
use crate::web::api::{self, ApiError};
use crate::web::{
    self as routes_mod, RequestSpan, body_deadline, catch_panics, limit_body_size,
    request_id_header,
};

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    background: tokio::task::JoinHandle<()>,
}

/// How often a process re-reads the key set (well within the default publish delay).
const KEY_RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The key algorithm the API signs with, when it is an asymmetric one (made at start; the RSA
/// key of the published set is otherwise made when the set is first asked for).
fn api_signing_alg(api: JwtAlgorithm) -> Option<KeyAlg> {
    match api {
        JwtAlgorithm::Hs256 => None,
        JwtAlgorithm::Rs256 => Some(KeyAlg::Rs256),
        JwtAlgorithm::Es256 => Some(KeyAlg::Es256),
    }
}

/// Extra routes a caller may mount beside the real ones (tests use it for a panicking route).
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

impl Application {
    /// Connects, migrates, binds `settings.server.bind` and builds the server (not yet running).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::build_with(settings, clock, None).await
    }

    /// [`Application::build`] with extra routes mounted inside the same middleware stack.
    pub async fn build_with(
        settings: Settings,
        clock: Clock,
        extra: Option<ExtraRoutes>,
    ) -> anyhow::Result<Self> {
        let state = AppState::build(settings, clock)?;
        let applied = state
            .db
            .run(run_pending_migrations)
            .await
            .map_err(|e: DbError| anyhow::Error::new(e))?;
        for version in &applied {
            tracing::info!(%version, "applied migration");
        }
        // Tokens minted before Latchkey wrote `iss`/`aud` stay valid until they expire.
        let cutoff = state
            .db
            .run(|conn| applied_at(conn, ISSUER_CLAIMS_MIGRATION))
            .await
            .map_err(anyhow::Error::new)?;
        if let Some(at) = cutoff {
            state.jwt.accept_legacy_before(at.and_utc().timestamp());
        }
        let declared = &state.settings.clients;
        let changed =
            crate::oauth::sync_declared_clients(&state.db, &state.clock, declared).await?;
        if changed > 0 {
            tracing::info!(
                changed,
                "registered the clients declared in the config file"
            );
        }
        let keys = &state.keys;
        keys.reload().await?;
        if let Some(alg) = api_signing_alg(state.settings.tokens.jwt_algorithm)
            && keys.ensure(alg).await?
        {
            tracing::info!(alg = alg.as_str(), "made the first signing key");
        }
        // Deliver queued mail (including any left from before a restart), and see key rotations
        // made by other processes long before the new keys sign.
        let (delivery, keys) = (state.delivery.clone(), keys.clone());
        let background = tokio::spawn(async move {
            tokio::join!(
                crate::mail::run_outbox_worker(delivery),
                keys.keep_current(KEY_RELOAD_EVERY)
            );
        });
        warn_of_unreachable_providers(&state.settings);
        if let Some(horizon) = state.settings.django.horizon() {
            tracing::info!("{horizon}");
        }
        let listener = TcpListener::bind(&state.settings.server.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        // A blocking thread beyond the pool's connections would only wait for one, and every
        // idle thread keeps memory; so each worker gets as many as there are connections.
        let blocking = usize::try_from(state.settings.database.db_pool_size)
            .unwrap_or(8)
            .max(2);
        let pages = web::Data::new(crate::web::html::PageTemplates::load()?);
        let server = HttpServer::new(move || build_app(app_state.clone(), pages.clone(), extra))
            .worker_max_blocking_threads(blocking)
            .listen(listener)?
            .run();
        Ok(Self {
            port,
            server,
            state,
            background,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests that inspect the database.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the background work (outbox delivery, key reloading) when aborted
    /// (tests abort it before dropping their database).
    pub fn background(&self) -> tokio::task::AbortHandle {
        self.background.abort_handle()
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM: in-flight requests finish),
    /// then stops the outbox worker; undelivered mail stays queued for the next start.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.background.abort();
        result
    }
}

/// The App with every route and middleware, in one place.
fn build_app(
    state: AppState,
    pages: web::Data<crate::web::html::PageTemplates>,
    extra: Option<ExtraRoutes>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.settings.server.max_body_bytes;
    let cors_origins = state.settings.cors.cors_origins.clone();
    let settings = std::sync::Arc::clone(&state.settings);
    App::new()
        .app_data(web::Data::new(state))
        .app_data(pages)
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(move |e, _| json_error(e, limit).into()),
        )
        .app_data(
            web::FormConfig::default()
                .limit(limit)
                .error_handler(|e, _| ApiError::Parse(format!("Form parse error - {e}")).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::Parse(format!("Query parse error - {e}")).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| ApiError::NotFound("Not found.").into()),
        )
        .configure(|cfg| routes_mod::routes(cfg, &settings))
        .configure(|cfg| {
            if let Some(extra) = extra {
                extra(cfg);
            }
        })
        .default_service(web::to(api::not_found))
        // Order: the last `wrap` is the outermost layer.
        .wrap(from_fn(catch_panics))
        // Auth answers (tokens, user objects) must never sit in a shared or browser cache.
        .wrap(DefaultHeaders::new().add((CACHE_CONTROL, HeaderValue::from_static("no-store"))))
        .wrap(from_fn(body_deadline))
        .wrap(from_fn(limit_body_size))
        .wrap(cors(&cors_origins))
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        .wrap(from_fn(request_id_header))
        .wrap(TracingLogger::<RequestSpan>::new())
}

/// CORS for the configured origins only. Other origins (and same-origin form posts) pass
/// through without CORS headers instead of being refused, so the browser decides. Sitting
/// outside the handlers, it also decorates error responses, which front ends must be able to read.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .max_age(3600)
        .block_on_origin_mismatch(false)
        .allowed_origin_fn(|_, head| crate::web::oidc::is_open_to_any_origin(head.uri.path()));
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

fn json_error(e: actix_web::error::JsonPayloadError, limit: usize) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match e {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::PayloadTooLarge(limit),
        E::ContentType => ApiError::UnsupportedMediaType("unknown".to_owned()),
        E::Deserialize(e) => ApiError::Parse(format!("JSON parse error - {e}")),
        other => ApiError::Parse(format!("JSON parse error - {other}")),
    }
}

/// A social-login provider that cannot be reached is worth a warning at start, not a refusal
/// to serve. Asked from a thread of its own with its own client and runtime: the provider's
/// crate builds futures the multi-threaded runtime cannot move between threads, and the
/// server must not wait for a slow provider.
fn warn_of_unreachable_providers(settings: &crate::config::Settings) {
    if settings.social.is_empty() {
        return;
    }
    let providers = settings.social.clone();
    let checking = std::thread::Builder::new()
        .name("social-check".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let social = crate::social::Social::new(providers, crate::clock::Clock::System);
            let (Ok(runtime), Ok(social)) = (runtime, social) else {
                return;
            };
            for (provider, outcome) in runtime.block_on(social.check_all()) {
                match outcome {
                    Ok(crate::social::Reachability::Answered) => {
                        tracing::info!(%provider, "social-login provider reachable");
                    }
                    Ok(crate::social::Reachability::NothingToFetch) => {}
                    Err(e) => tracing::warn!(
                        %provider,
                        error = %e,
                        "social-login provider unreachable at start; its sign-ins fail until it answers"
                    ),
                }
            }
        });
    if let Err(e) = checking {
        tracing::warn!(error = %e, "cannot check the social-login providers");
    }
}
