//! `latchkey import django`: Django's users into Latchkey, with a progress line and a closing
//! summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Subcommand, ValueEnum};

use super::{CliError, CliResult};
use crate::django::{self, DuplicateEmails, ImportOptions, Source, Summary};
use crate::state::AppState;

/// `import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Copy Django's users (ids, usernames, addresses, names, flags, dates, password hashes)
    /// from its database or from `manage.py dumpdata`. Run it again to update: it is idempotent.
    Django(DjangoArgs),
}

/// Who keeps an address several Django accounts share.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DuplicatePolicy {
    /// Refuse every account of the group (and list them).
    Refuse,
    /// The most recently active keeps it; the others are imported without an address.
    KeepMostRecent,
}

/// `import django` options.
#[derive(Debug, Args)]
pub struct DjangoArgs {
    /// Django's database: postgres://…, sqlite:///path or a SQLite file path (read only).
    #[arg(
        long = "from",
        required_unless_present = "dumpdata",
        conflicts_with = "dumpdata"
    )]
    pub from: Option<String>,
    /// `manage.py dumpdata` output (JSON), for any database Django speaks.
    #[arg(long)]
    pub dumpdata: Option<PathBuf>,
    /// The user table (a custom user model's, for example `accounts_user`).
    #[arg(long, default_value = "auth_user")]
    pub table: String,
    /// The user model's label in dumpdata (for example `accounts.user`).
    #[arg(long, default_value = "auth.user")]
    pub model: String,
    /// The column (or dumpdata field) holding the address.
    #[arg(long, default_value = "email")]
    pub email_column: String,
    /// The column (or dumpdata field) holding the username.
    #[arg(long, default_value = "username")]
    pub username_column: String,
    /// Say what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// What to do with accounts that share an address.
    #[arg(long, value_enum, default_value = "refuse")]
    pub on_duplicate_email: DuplicatePolicy,
    /// Also SimpleJWT's blacklisted refresh tokens (the token_blacklist app), which stay refused
    /// while `django_secret_key` lets Django's tokens in.
    #[arg(long)]
    pub with_token_blacklist: bool,
    /// Users per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

/// Runs `import django`.
pub async fn import(state: &AppState, command: ImportCommand) -> CliResult {
    let ImportCommand::Django(args) = command;
    let source = match (&args.from, &args.dumpdata) {
        (_, Some(path)) => Source::Dumpdata {
            path: path.clone(),
            model: args.model.clone(),
            email_field: args.email_column.clone(),
            username_field: args.username_column.clone(),
        },
        (Some(url), None) => Source::Database {
            url: url.clone(),
            table: args.table.clone(),
            email_column: args.email_column.clone(),
            username_column: args.username_column.clone(),
        },
        (None, None) => return Err(CliError::new("give --from URL or --dumpdata FILE")),
    };
    let with_blacklist = args.with_token_blacklist;
    let (users, blacklist) = tokio::task::spawn_blocking(move || {
        let users = django::read_users(&source)?;
        let blacklist = if with_blacklist {
            django::read_blacklist(&source)?
        } else {
            Vec::new()
        };
        Ok::<_, django::ImportError>((users, blacklist))
    })
    .await
    .map_err(|e| CliError::new(e.to_string()))?
    .map_err(|e| CliError::new(e.to_string()))?;
    let options = ImportOptions {
        dry_run: args.dry_run,
        duplicates: match args.on_duplicate_email {
            DuplicatePolicy::Refuse => DuplicateEmails::Refuse,
            DuplicatePolicy::KeepMostRecent => DuplicateEmails::KeepMostRecent,
        },
        batch_size: usize::try_from(args.batch_size).unwrap_or(500),
    };
    let progress = progress_line();
    let summary = django::import_users(&state.db, &state.clock, users, options, &progress)
        .await
        .map_err(|e| {
            CliError::new(format!(
                "{e}; nothing of the failed batch was written: run the import again to go on"
            ))
        })?;
    print_summary(&summary);
    if with_blacklist {
        let found = blacklist.len();
        let added = django::import_blacklist(&state.db, blacklist, args.dry_run)
            .await
            .map_err(|e| CliError::new(e.to_string()))?;
        println!("Blacklisted refresh tokens: {found} in Django, {added} new here.");
    }
    Ok(())
}

/// A progress bar on a terminal (rewritten in place), or a line per tenth on a log.
fn progress_line() -> impl Fn(usize, usize) + Sync {
    let terminal = std::io::stderr().is_terminal();
    let last_tenth = AtomicUsize::new(usize::MAX);
    move |done: usize, total: usize| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        if terminal {
            let width = 30;
            let filled = (done * width).checked_div(total).unwrap_or(width);
            let end = if done == total { "\n" } else { "" };
            eprint!(
                "\r[{}{}] {done}/{total} users ({percent}%){end}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            let _ = std::io::stderr().flush();
        } else if last_tenth.swap(percent / 10, Ordering::Relaxed) != percent / 10 {
            eprintln!("{done}/{total} users ({percent}%)");
        }
    }
}

fn print_summary(summary: &Summary) {
    println!(
        "Imported {}, updated {}, unchanged {}, refused {}.{}",
        summary.imported,
        summary.updated,
        summary.unchanged,
        summary.refused.len(),
        if summary.dry_run {
            " Dry run: nothing was written."
        } else {
            ""
        }
    );
    if !summary.without_address.is_empty() {
        println!(
            "Without an address ({}; they log in by username):",
            summary.without_address.len()
        );
        for (id, username, why) in &summary.without_address {
            println!("  id {id} ({username}): {why}");
        }
    }
    if !summary.refused.is_empty() {
        println!("Refused ({}):", summary.refused.len());
        for (id, username, reason) in &summary.refused {
            println!("  id {id} ({username}): {reason}");
        }
    }
}
