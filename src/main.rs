use clap::Parser;

fn main() -> anyhow::Result<()> {
    paydown::server::init_tracing();
    paydown::cli::run(paydown::cli::Cli::parse())
}
