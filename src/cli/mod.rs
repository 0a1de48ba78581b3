//! The operator CLI: one clap subcommand per task, each a thin adapter over the core.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod import;

use crate::accounts::{self, AccountsError, Actor, Narrowing, NewSuperuser, PageAt, User};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{Db, run_pending_migrations};
use crate::domain::{Email, NewPassword, PasswordProblem, UserAttributes, Username};
use crate::keys::{KeyAlg, KeyState};
use crate::mail::{MailKind, MailTemplates, Mailer};
use crate::oauth::{self, ClientsError, NewClient};
use crate::social::{Reachability, Social};
use crate::startup::Application;
use crate::state::AppState;

/// Latchkey: an authentication server (HTML pages, JSON API and this admin CLI).
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, long_about = None)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default). Applies pending migrations first.
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Print the effective configuration with secrets masked; exit non-zero when it is invalid.
    Check,
    /// Create an active staff superuser, interactively or with --noinput.
    Createsuperuser(CreateSuperuserArgs),
    /// Change a user's password (interactive; 3 attempts). Ends all their sessions.
    Changepassword(ChangePasswordArgs),
    /// List and manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// List and rotate the asymmetric signing keys (JWKS).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Register and manage OpenID clients (relying parties).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Bring users over from another server (Django).
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Delete expired and revoked sessions, expired refresh tokens and spent one-time tokens.
    Flushexpiredtokens,
    /// Send one test message through the configured transport, now, and report its answer.
    Sendtestemail {
        /// Recipient address.
        address: String,
    },
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// host:port to listen on (overrides LATCHKEY_BIND).
    #[arg(long)]
    pub bind: Option<String>,
}

/// `createsuperuser` options. The password never comes from argv: it is prompted for, or read
/// from LATCHKEY_SUPERUSER_PASSWORD with --noinput.
#[derive(Debug, Args)]
pub struct CreateSuperuserArgs {
    /// Do not prompt; take values from the options or LATCHKEY_SUPERUSER_USERNAME/_EMAIL/_PASSWORD.
    #[arg(long = "noinput", visible_alias = "no-input")]
    pub noinput: bool,
    /// The login name (defaults to the email address).
    #[arg(long)]
    pub username: Option<String>,
    /// The email address.
    #[arg(long)]
    pub email: Option<String>,
}

/// `changepassword` options.
#[derive(Debug, Args)]
pub struct ChangePasswordArgs {
    /// The user (defaults to the current OS user's name).
    pub username: Option<String>,
}

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its client_id and, for a confidential client, its secret
    /// (shown this once, stored only as a hash).
    Add(AddClientArgs),
    /// Every client: id, name, kind, redirect URIs.
    List,
    /// One client in full (never its secret).
    Show {
        /// The client_id.
        client_id: String,
    },
    /// Remove a client.
    Remove {
        /// The client_id.
        client_id: String,
    },
    /// Give a confidential client a new secret; the old one stops working at once.
    RotateSecret {
        /// The client_id.
        client_id: String,
        /// Print `{"client_id": …, "client_secret": …}` for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// `clients add` options.
#[derive(Debug, Args)]
pub struct AddClientArgs {
    /// The name people see.
    pub name: String,
    /// An exact redirect URI (repeat for several).
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    /// A single-page or native app that cannot keep a secret (PKCE required).
    #[arg(long)]
    pub public: bool,
    /// Trusted by the operator: no consent page.
    #[arg(long)]
    pub first_party: bool,
    /// Where the client may send people after logout (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// How its ID tokens are signed: RS256 (what openid-client and next-auth expect) or ES256.
    #[arg(long = "id-token-alg", default_value = "RS256", value_parser = parse_id_token_alg)]
    pub id_token_alg: KeyAlg,
    /// Print `{"client_id": …, "client_secret": …}` for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Every stored key: id, algorithm, state (pending, active, retiring, retired), age and
    /// schedule.
    List,
    /// Publish a new key now; it signs after `key_publish_delay`, and the current key stays
    /// published until what it signed has expired.
    Rotate {
        /// RS256 (what OpenID clients expect) or ES256.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users, a page at a time (filters combine).
    List(ListArgs),
    /// Let a user log in again.
    Activate {
        /// The username.
        username: String,
    },
    /// Stop a user from logging in and end all their sessions.
    Deactivate {
        /// The username.
        username: String,
    },
    /// Lift a user's failed-login backoff and lock.
    Unlock {
        /// The username.
        username: String,
    },
    /// Count accounts by password hash format: Django's formats become argon2id as their owners
    /// log in, so this shows how far the move from Django has come.
    HashReport,
    /// Delete a user with their sessions and tokens.
    Delete {
        /// The username.
        username: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `users list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only users whose username or email contains this text (case-insensitive).
    #[arg(long)]
    pub search: Option<String>,
    /// Only staff.
    #[arg(long)]
    pub staff: bool,
    /// Only inactive accounts.
    #[arg(long)]
    pub inactive: bool,
    /// Most users to show.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub limit: i64,
    /// Start after this user id (the next page: the id the previous page ended with).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
}

/// A command failed: the message is printed as one `Error: …` line on stderr.
#[derive(Debug)]
pub struct CliError(String);

impl CliError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<AccountsError> for CliError {
    /// One line in the operator's words (Django's `manage.py` phrasing where it has one).
    fn from(e: AccountsError) -> Self {
        let line = match e {
            AccountsError::UsernameRequired => "A username is required.".to_owned(),
            AccountsError::UsernameIsAnotherEmail => {
                "A username that is an email address must be the account's own address.".to_owned()
            }
            AccountsError::Taken { username: true, .. } => {
                "That username is already taken.".to_owned()
            }
            AccountsError::Taken { .. } => "That email address is already taken.".to_owned(),
            AccountsError::WeakPassword(problems) => problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            AccountsError::PasswordMismatch => "Passwords do not match.".to_owned(),
            AccountsError::NotFound => "user not found".to_owned(),
            AccountsError::Forbidden => "not allowed".to_owned(),
            AccountsError::Throttled { retry_after } => {
                format!("too many attempts: try again in {retry_after} seconds")
            }
            AccountsError::Unavailable => {
                "the database cannot be reached (or the server is saturated): try again".to_owned()
            }
            AccountsError::Unexpected(e) => format!("{e:#}"),
            // Outcomes of flows the CLI does not offer.
            other => other.to_string(),
        };
        Self(line)
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        Self(format!("{e:#}"))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

type CliResult = Result<(), CliError>;

/// Runs one subcommand (not `check`, which needs no runtime) and maps the outcome to an exit code.
pub async fn run(command: Command, settings: Settings, env: &HashMap<String, String>) -> ExitCode {
    let outcome = match command {
        Command::Serve(_) => serve(settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Check => {
            print_check(&settings).await;
            Ok(())
        }
        Command::Sendtestemail { address } => sendtestemail(&settings, &address).await,
        other => match open_state(settings).await {
            Ok(state) => admin(other, &state, env).await,
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(message)) => {
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the effective configuration (secrets masked), then whether each social-login
/// provider answers (a warning, not a failure: a provider may be down for a while).
pub async fn print_check(settings: &Settings) {
    for line in settings.describe() {
        println!("{line}");
    }
    if !settings.social.is_empty() {
        match Social::new(settings.social.clone(), Clock::System) {
            Ok(social) => {
                for (name, outcome) in social.check_all().await {
                    match outcome {
                        Ok(Reachability::Answered) => {
                            println!("social {name}: reachable (discovery and keys fetched)");
                        }
                        Ok(Reachability::NothingToFetch) => {
                            println!(
                                "social {name}: not checked (GitHub has no discovery document)"
                            );
                        }
                        Err(e) => println!(
                            "warning: social {name}: {e}; its sign-ins fail until it answers"
                        ),
                    }
                }
            }
            Err(e) => println!("warning: social providers not checked: {e}"),
        }
    }
    println!("Configuration OK.");
}

async fn admin(command: Command, state: &AppState, env: &HashMap<String, String>) -> CliResult {
    match command {
        Command::Createsuperuser(args) if args.noinput => {
            createsuperuser_noinput(state, args, env).await
        }
        Command::Createsuperuser(args) => createsuperuser_interactive(state, args).await,
        Command::Changepassword(args) => changepassword(state, args, env).await,
        Command::Users(UsersCommand::List(args)) => users_list(state, args).await,
        Command::Import(command) => import::import(state, command).await,
        Command::Clients(command) => clients(state, command).await,
        Command::Keys(KeysCommand::List) => keys_list(state).await,
        Command::Keys(KeysCommand::Rotate { alg }) => keys_rotate(state, &alg).await,
        Command::Flushexpiredtokens => {
            let flushed = crate::maintenance::flush_expired(state, &state.ip_limiter)
                .await
                .map_err(|e| CliError::new(e.to_string()))?;
            let sessions = flushed.sessions;
            println!(
                "Deleted {} sessions, {} refresh tokens and {} one-time tokens.",
                sessions.sessions, sessions.refresh_tokens, flushed.one_time_tokens
            );
            println!(
                "Deleted {} delivered mails, {} mail cooldowns and {} throttle records.",
                flushed.sent_mail, flushed.cooldowns, flushed.throttle
            );
            println!("Deleted {} retired signing keys.", flushed.signing_keys);
            println!(
                "Deleted {} expired authorization codes.",
                flushed.authorization_codes
            );
            Ok(())
        }
        Command::Users(UsersCommand::Activate { username }) => {
            accounts::set_active(state, &Actor::Operator, &username, true)
                .await
                .map_err(|e| not_found(e, &username))?;
            println!("User '{username}' activated.");
            Ok(())
        }
        Command::Users(UsersCommand::Deactivate { username }) => {
            accounts::set_active(state, &Actor::Operator, &username, false)
                .await
                .map_err(|e| not_found(e, &username))?;
            println!("User '{username}' deactivated; their sessions have ended.");
            Ok(())
        }
        Command::Users(UsersCommand::Unlock { username }) => {
            let had = accounts::unlock(state, &Actor::Operator, &username)
                .await
                .map_err(|e| not_found(e, &username))?;
            if had {
                println!("User '{username}' unlocked.");
            } else {
                println!("User '{username}' was not locked or throttled.");
            }
            Ok(())
        }
        Command::Users(UsersCommand::Delete { username, yes }) => {
            users_delete(state, &username, yes).await
        }
        Command::Users(UsersCommand::HashReport) => hash_report(state).await,
        Command::Serve(_) | Command::Migrate | Command::Check | Command::Sendtestemail { .. } => {
            Ok(())
        }
    }
}

/// `users hash-report`: one line per format, then the share already on argon2id.
async fn hash_report(state: &AppState) -> CliResult {
    let report = accounts::hash_report(state, &Actor::Operator)
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    let total: u64 = report.iter().map(|(_, n)| n).sum();
    let mut current = 0;
    for (format, count) in &report {
        if *format == accounts::HashFormat::Current {
            current = *count;
        }
        println!("{:<22} {count:>10}", format.name());
    }
    let usable = report
        .iter()
        .filter(|(f, _)| f.is_usable())
        .map(|(_, n)| n)
        .sum::<u64>();
    println!("{:<22} {total:>10}", "total");
    if usable > 0 {
        let left = usable - current;
        println!(
            "{left} of {usable} usable passwords still wait for their owner's next login to become argon2id."
        );
    }
    Ok(())
}

/// Renders the test mail and hands it to the transport synchronously (no outbox), so the
/// operator sees the transport's own answer or error.
async fn sendtestemail(settings: &Settings, address: &str) -> CliResult {
    let to = Email::parse(address).map_err(|e| CliError::new(e.to_string()))?;
    let mail = &settings.mail;
    let templates = MailTemplates::load(mail.template_dir.as_deref())
        .map_err(|e| CliError::new(e.to_string()))?;
    let rendered = templates
        .render(
            MailKind::Test,
            &serde_json::json!({"site_name": mail.site_name}),
        )
        .map_err(|e| CliError::new(e.to_string()))?;
    let message = Mailer::build(&mail.default_from_email, to.as_str(), &rendered)
        .map_err(|e| CliError::new(e.to_string()))?;
    let mailer = Mailer::from_settings(mail).map_err(|e| CliError::new(e.to_string()))?;
    let reply = mailer
        .send(message)
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    println!("Sent a test email to {}: {reply}", to.as_str());
    Ok(())
}

async fn open_state(settings: Settings) -> Result<AppState, CliError> {
    let state = AppState::build_for_command(settings, Clock::System)?;
    apply_migrations(&state.db).await?;
    Ok(state)
}

async fn apply_migrations(db: &Db) -> Result<Vec<String>, CliError> {
    db.run(run_pending_migrations)
        .await
        .map_err(|e| CliError::new(e.to_string()))
}

async fn serve(settings: Settings) -> CliResult {
    let app = Application::build(settings, Clock::System).await?;
    let settings = &app.state().settings;
    tracing::info!(
        bind = %settings.server.bind,
        port = app.port(),
        backend = app.state().db.backend().name(),
        "latchkey listening"
    );
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: &Settings) -> CliResult {
    let db = Db::connect(
        &settings.database.database_url,
        1,
        0,
        std::time::Duration::from_secs(5),
    )
    .map_err(|e| CliError::new(e.to_string()))?;
    let applied = apply_migrations(&db).await?;
    if applied.is_empty() {
        println!("No migrations to apply.");
    }
    for version in applied {
        println!("Applied migration {version}.");
    }
    Ok(())
}

fn not_found(e: AccountsError, username: &str) -> CliError {
    match e {
        AccountsError::NotFound => CliError::new(format!("user '{username}' does not exist")),
        other => other.into(),
    }
}

async fn createsuperuser_noinput(
    state: &AppState,
    args: CreateSuperuserArgs,
    env: &HashMap<String, String>,
) -> CliResult {
    let from_env = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    let email = args
        .email
        .or_else(|| from_env("LATCHKEY_SUPERUSER_EMAIL"))
        .ok_or_else(|| CliError::new("You must use --email with --noinput."))?;
    let email = Email::parse(&email).map_err(|e| CliError::new(e.to_string()))?;
    let username = match args
        .username
        .or_else(|| from_env("LATCHKEY_SUPERUSER_USERNAME"))
    {
        Some(raw) => Username::parse(&raw).map_err(|e| CliError::new(e.to_string()))?,
        None => accounts::default_username(&email)
            .ok_or_else(|| CliError::new("You must use --username with --noinput."))?,
    };
    // As in Django, a password given by environment skips the policy (the operator chose it);
    // without one the account gets an unusable password.
    let password = from_env("LATCHKEY_SUPERUSER_PASSWORD")
        .map(NewPassword::parse_bypassing_policy)
        .transpose()
        .map_err(|e| CliError::new(e.to_string()))?;
    check_free(state, &username, &email).await?;
    create(state, username, email, password).await
}

async fn check_free(state: &AppState, username: &Username, email: &Email) -> CliResult {
    if accounts::username_taken(state, username).await? {
        return Err(CliError::new("That username is already taken."));
    }
    if accounts::email_taken(state, email).await? {
        return Err(CliError::new("That email address is already taken."));
    }
    Ok(())
}

async fn create(
    state: &AppState,
    username: Username,
    email: Email,
    password: Option<NewPassword>,
) -> CliResult {
    let input = NewSuperuser {
        username,
        email,
        password,
    };
    accounts::create_superuser(state, &Actor::Operator, input).await?;
    println!("Superuser created successfully.");
    Ok(())
}

/// Line-based prompts on the terminal; EOF or Ctrl-D cancels.
struct Prompt {
    stdin: std::io::Stdin,
}

impl Prompt {
    fn line(&self, question: &str) -> Result<String, CliError> {
        eprint!("{question}");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        if self.stdin.lock().read_line(&mut answer)? == 0 {
            return Err(CliError::new("Operation cancelled."));
        }
        Ok(answer.trim_end_matches(['\r', '\n']).to_owned())
    }

    fn secret(&self, question: &str) -> Result<String, CliError> {
        rpassword::prompt_password(question)
            .map_err(|e| CliError::new(format!("cannot read password: {e}")))
    }
}

async fn createsuperuser_interactive(state: &AppState, args: CreateSuperuserArgs) -> CliResult {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            "Superuser creation skipped due to not running in a TTY. Run it from a terminal, \
             or use --noinput with LATCHKEY_SUPERUSER_EMAIL (and _USERNAME, _PASSWORD) set.",
        ));
    }
    let prompt = Prompt {
        stdin: std::io::stdin(),
    };
    let mut preset = args.username;
    let mut username = loop {
        let raw = match preset.take() {
            Some(raw) => raw,
            None => prompt.line("Username (leave blank to use the email address): ")?,
        };
        if raw.is_empty() {
            break None;
        }
        match Username::parse(&raw) {
            Err(e) => eprintln!("Error: {e}"),
            Ok(name) if accounts::username_taken(state, &name).await? => {
                eprintln!("Error: That username is already taken.");
            }
            Ok(name) => break Some(name),
        }
    };
    let mut preset = args.email;
    let email = loop {
        let raw = match preset.take() {
            Some(raw) => raw,
            None => prompt.line("Email address: ")?,
        };
        match Email::parse(&raw) {
            Err(e) => eprintln!("Error: {e}"),
            Ok(email) if accounts::email_taken(state, &email).await? => {
                eprintln!("Error: That email address is already taken.");
            }
            Ok(email) => break email,
        }
    };
    if username.is_none() {
        match accounts::default_username(&email) {
            Some(name) if !accounts::username_taken(state, &name).await? => username = Some(name),
            _ => {
                eprintln!(
                    "Error: That email address cannot be used as the username; please enter one."
                );
            }
        }
    }
    let username = match username {
        Some(name) => name,
        None => loop {
            let raw = prompt.line("Username: ")?;
            match Username::parse(&raw) {
                Err(e) => eprintln!("Error: {e}"),
                Ok(name) if accounts::username_taken(state, &name).await? => {
                    eprintln!("Error: That username is already taken.");
                }
                Ok(name) => break name,
            }
        },
    };
    let attributes = UserAttributes {
        username: username.as_str(),
        email: email.as_str(),
        ..UserAttributes::default()
    };
    let password = loop {
        let first = prompt.secret("Password: ")?;
        let second = prompt.secret("Password (again): ")?;
        if accounts::check_retype(&first, Some(&second)).is_err() {
            eprintln!("Error: Your passwords didn't match.");
            continue;
        }
        if first.is_empty() {
            eprintln!("Error: Blank passwords aren't allowed.");
            continue;
        }
        let problems = accounts::password_problems(state, &first, &attributes);
        if problems
            .iter()
            .any(|p| matches!(p, PasswordProblem::TooLong { .. }))
        {
            print_problems(&problems);
            continue;
        }
        if !problems.is_empty() {
            print_problems(&problems);
            let answer =
                prompt.line("Bypass password validation and create user anyway? [y/N]: ")?;
            if !answer.trim().eq_ignore_ascii_case("y") {
                continue;
            }
        }
        match NewPassword::parse_bypassing_policy(first) {
            Ok(password) => break password,
            Err(e) => eprintln!("Error: {e}"),
        }
    };
    create(state, username, email, Some(password)).await
}

fn print_problems(problems: &[PasswordProblem]) {
    for problem in problems {
        eprintln!("{problem}");
    }
}

const MAX_PASSWORD_TRIES: usize = 3;

async fn changepassword(
    state: &AppState,
    args: ChangePasswordArgs,
    env: &HashMap<String, String>,
) -> CliResult {
    let username = args
        .username
        .or_else(|| env.get("USER").cloned())
        .unwrap_or_else(|| "root".to_owned());
    let user: User = accounts::get_by_username(state, &Actor::Operator, &username)
        .await
        .map_err(|e| not_found(e, &username))?;
    println!("Changing password for user '{}'", user.username);
    let prompt = Prompt {
        stdin: std::io::stdin(),
    };
    let attributes = accounts::attributes_of(&user);
    for _ in 0..MAX_PASSWORD_TRIES {
        let first = prompt.secret("Password: ")?;
        if first.is_empty() {
            return Err(CliError::new("aborted"));
        }
        let second = prompt.secret("Password (again): ")?;
        match accounts::accept_new_password(state, first, Some(&second), &attributes) {
            Ok(password) => {
                accounts::set_password(state, &Actor::Operator, &user, &password).await?;
                println!("Password changed successfully for user '{}'", user.username);
                return Ok(());
            }
            Err(AccountsError::PasswordMismatch) => {
                println!("Passwords do not match. Please try again.");
            }
            Err(AccountsError::WeakPassword(problems)) => print_problems(&problems),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CliError::new(format!(
        "Aborting password change for user '{}' after {MAX_PASSWORD_TRIES} attempts",
        user.username
    )))
}

async fn users_list(state: &AppState, args: ListArgs) -> CliResult {
    let narrowing = Narrowing {
        search: args.search.clone(),
        staff: args.staff,
        inactive: args.inactive,
    };
    let at = PageAt::After(args.after);
    let page = accounts::list_users(state, &Actor::Operator, narrowing, at, args.limit).await?;
    let users = page.users;
    if users.is_empty() {
        println!("No users.");
        return Ok(());
    }
    // The summary goes to stderr, so stdout stays one table row per user for scripts.
    let last = users.last().map_or(0, |u| u.id);
    eprintln!("{} shown, {} matching in all.", users.len(), page.count);
    if users.len() as i64 == args.limit {
        eprintln!("Next page: add --after {last}");
    }
    let rows: Vec<[String; 8]> = users
        .iter()
        .map(|u| {
            [
                u.id.to_string(),
                u.username.clone(),
                u.email.clone(),
                yes_no(u.is_active),
                yes_no(u.is_staff),
                yes_no(u.is_superuser),
                u.date_joined.format("%Y-%m-%d %H:%M:%S").to_string(),
                u.last_login.map_or_else(
                    || "never".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                ),
            ]
        })
        .collect();
    let header = [
        "ID",
        "USERNAME",
        "EMAIL",
        "ACTIVE",
        "STAFF",
        "SUPERUSER",
        "JOINED (UTC)",
        "LAST LOGIN (UTC)",
    ];
    print_table(&header, &rows)
}

/// Columns padded to their widest cell, two spaces apart: one line per row, for people and
/// for `cut`/`awk` alike.
fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> CliResult {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let print_row = |out: &mut std::io::StdoutLock<'_>, cells: &[&str]| -> std::io::Result<()> {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())
    };
    print_row(&mut out, header)?;
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        print_row(&mut out, &cells)?;
    }
    Ok(())
}

fn clients_failed(e: ClientsError) -> CliError {
    CliError::new(e.to_string())
}

async fn clients(state: &AppState, command: ClientsCommand) -> CliResult {
    match command {
        ClientsCommand::Add(args) => clients_add(state, args).await,
        ClientsCommand::List => clients_list(state).await,
        ClientsCommand::Show { client_id } => clients_show(state, &client_id).await,
        ClientsCommand::Remove { client_id } => {
            oauth::remove_client(&state.db, &client_id)
                .await
                .map_err(clients_failed)?;
            println!("Client {client_id} removed.");
            Ok(())
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let secret = oauth::rotate_client_secret(&state.db, &state.clock, &client_id)
                .await
                .map_err(clients_failed)?;
            print_credentials(&client_id, Some(&secret), json)
        }
    }
}

async fn clients_add(state: &AppState, args: AddClientArgs) -> CliResult {
    let new = NewClient {
        name: args.name,
        redirect_uris: args.redirect_uris,
        post_logout_redirect_uris: args.post_logout_redirect_uris,
        public: args.public,
        first_party: args.first_party,
        id_token_alg: Some(args.id_token_alg),
    };
    let registered = oauth::register_client(&state.db, &state.clock, new)
        .await
        .map_err(clients_failed)?;
    let id = &registered.client.client_id;
    print_credentials(id, registered.secret.as_deref(), args.json)
}

async fn clients_list(state: &AppState) -> CliResult {
    let clients = oauth::list_clients(&state.db)
        .await
        .map_err(clients_failed)?;
    if clients.is_empty() {
        println!("No clients.");
        return Ok(());
    }
    let rows: Vec<[String; 4]> = clients
        .iter()
        .map(|c| {
            [
                c.client_id.clone(),
                c.name.clone(),
                client_kind(c),
                c.redirect_uris().collect::<Vec<_>>().join(" "),
            ]
        })
        .collect();
    print_table(&["CLIENT_ID", "NAME", "KIND", "REDIRECT URIS"], &rows)
}

async fn clients_show(state: &AppState, client_id: &str) -> CliResult {
    let c = oauth::get_client(&state.db, client_id)
        .await
        .map_err(clients_failed)?;
    let time = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    println!("client_id: {}", c.client_id);
    println!("name: {}", c.name);
    println!("kind: {}", client_kind(&c));
    for uri in c.redirect_uris() {
        println!("redirect_uri: {uri}");
    }
    for uri in c.post_logout_redirect_uris() {
        println!("post_logout_redirect_uri: {uri}");
    }
    println!("id_token_alg: {}", c.id_token_alg().as_str());
    println!("registered: {}", time(c.created_at));
    if let Some(at) = c.secret_rotated_at {
        println!("secret rotated: {}", time(at));
    }
    Ok(())
}

/// `confidential, first-party` and the like.
fn client_kind(client: &oauth::Client) -> String {
    let kind = if client.is_public() {
        "public"
    } else {
        "confidential"
    };
    if client.first_party {
        format!("{kind}, first-party")
    } else {
        kind.to_owned()
    }
}

/// The id and the secret, once: as JSON for scripts, or as lines for people.
fn print_credentials(client_id: &str, secret: Option<&str>, json: bool) -> CliResult {
    if json {
        let body = serde_json::json!({"client_id": client_id, "client_secret": secret});
        println!("{body}");
        return Ok(());
    }
    println!("client_id: {client_id}");
    match secret {
        Some(secret) => {
            println!("client_secret: {secret}");
            eprintln!("The secret is shown only now: store it in the client's configuration.");
        }
        None => eprintln!("A public client: no secret; it must use PKCE (S256)."),
    }
    Ok(())
}

async fn keys_list(state: &AppState) -> CliResult {
    let keys = state
        .keys
        .list()
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    if keys.is_empty() {
        println!(
            "No signing keys (the first request for /.well-known/jwks.json, or a server signing with RS256 or ES256, makes one)."
        );
        return Ok(());
    }
    let now = state.clock.now_naive();
    let api = state.settings.tokens.jwt_algorithm.as_str();
    let time = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            let age = now.signed_duration_since(k.created_at);
            let signs = if k.state == KeyState::Active && k.alg == api {
                "API tokens"
            } else {
                ""
            };
            [
                k.kid.clone(),
                k.alg.clone(),
                k.state.as_str().to_owned(),
                format!("{}d {}h", age.num_days(), age.num_hours() % 24),
                time(k.activates_at),
                k.unpublish_at.map_or_else(|| "-".to_owned(), time),
                signs.to_owned(),
            ]
        })
        .collect();
    let header = [
        "KID",
        "ALG",
        "STATE",
        "AGE",
        "SIGNS FROM (UTC)",
        "UNPUBLISHED AT (UTC)",
        "SIGNS",
    ];
    print_table(&header, &rows)
}

/// `--id-token-alg`: the algorithms the key ring holds.
fn parse_id_token_alg(alg: &str) -> Result<KeyAlg, String> {
    KeyAlg::parse(alg).ok_or_else(|| format!("unknown algorithm {alg:?}: use RS256 or ES256"))
}

async fn keys_rotate(state: &AppState, alg: &str) -> CliResult {
    let alg = KeyAlg::parse(alg)
        .ok_or_else(|| CliError::new(format!("unknown algorithm {alg:?}: use RS256 or ES256")))?;
    let key = state
        .keys
        .rotate(alg)
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    println!(
        "Published {} key {}; it signs from {} UTC.",
        key.alg,
        key.kid,
        key.activates_at.format("%Y-%m-%d %H:%M:%S")
    );
    Ok(())
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

async fn users_delete(state: &AppState, username: &str, yes: bool) -> CliResult {
    let user = accounts::get_by_username(state, &Actor::Operator, username)
        .await
        .map_err(|e| not_found(e, username))?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(format!(
                "not deleting user '{username}' without confirmation: pass --yes when not running in a TTY"
            )));
        }
        let prompt = Prompt {
            stdin: std::io::stdin(),
        };
        let answer = prompt.line(&format!(
            "Delete user '{username}' with all their sessions and tokens? [y/N]: "
        ))?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Err(CliError::new("Deletion cancelled."));
        }
    }
    accounts::delete_account(state, &Actor::Operator, user.id, None)
        .await
        .map_err(|e| not_found(e, username))?;
    println!("User '{username}' deleted.");
    Ok(())
}
