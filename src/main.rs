use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    paydown::cli::exit_quietly_on_broken_pipe();
    paydown::server::init_tracing();
    match paydown::cli::run(paydown::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output closed it early (`| head`): nothing went wrong.
        Err(error) if paydown::cli::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // As `fn main() -> anyhow::Result<()>` reports it: the message and its causes.
            eprintln!("Error: {error:?}");
            ExitCode::FAILURE
        }
    }
}
