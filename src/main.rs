use std::process::ExitCode;

use clap::Parser;
use latchkey::cli::{self, Cli, Command, ServeArgs};
use latchkey::config::{LoadContext, Settings};
use latchkey::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or(Command::Serve(ServeArgs { bind: None }));
    let mut ctx = LoadContext::from_process();
    if let Command::Serve(args) = &command {
        ctx.bind_flag.clone_from(&args.bind);
    }
    let settings = match Settings::load(&ctx) {
        Ok(settings) => settings,
        Err(error) => {
            for problem in &error.problems {
                eprintln!("latchkey: configuration error: {problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    if let Command::Check = command {
        actix_web::rt::System::new().block_on(cli::print_check(&settings));
        return ExitCode::SUCCESS;
    }
    telemetry::init(&settings.server.log, settings.server.log_format);
    let env = ctx.env;
    actix_web::rt::System::new().block_on(async move { cli::run(command, settings, &env).await })
}
