//! The command line: `paydown serve | demo | migrate`.

use std::net::TcpListener;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::storage::Store;

/// The SQLite file used when no database URL is given, in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "paydown.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(name = "paydown", version, about = "On-call cost and pay ledger")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// `postgres://user@host/db`, `sqlite://path` or a plain SQLite file path.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAYDOWN_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Worker threads; defaults to the number of cores.
    #[arg(long, env = "PAYDOWN_WORKERS")]
    pub workers: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (migrations are applied at start).
    Serve(ServeArgs),
    /// Run the server with a generated demo data set loaded into an empty database.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Seed of the demo data set; the same seed gives the same data.
        #[arg(long, default_value_t = crate::demo::DEFAULT_SEED)]
        seed: u64,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args, None),
        Command::Demo { serve: args, seed } => serve(args, Some(seed)),
        Command::Migrate { database } => {
            let store = open(&database.database_url)?;
            let applied = store.migrate().context("applying migrations")?;
            println!("database is up to date ({} backend)", store.backend());
            for name in applied {
                println!("applied {name}");
            }
            Ok(())
        }
    }
}

fn open(url: &str) -> anyhow::Result<Store> {
    Store::open(url).with_context(|| format!("opening the database `{}`", redact(url)))
}

fn redact(url: &str) -> String {
    url.parse::<crate::storage::DatabaseUrl>()
        .map(|url| url.redacted())
        .unwrap_or_else(|_| url.to_owned())
}

fn serve(args: ServeArgs, demo_seed: Option<u64>) -> anyhow::Result<()> {
    let store = open(&args.database.database_url)?;
    if let Some(seed) = demo_seed {
        let summary =
            crate::demo::load_if_empty(&store, seed).context("loading the demo data set")?;
        match summary {
            Some(summary) => println!("loaded the demo data set (seed {seed}): {summary}"),
            None => println!("the database already holds data; the demo data set was not loaded"),
        }
    }
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    println!(
        "paydown listening on http://{address} ({} database {})",
        store.backend(),
        redact(&args.database.database_url)
    );
    println!("API docs: http://{address}/docs/  OpenAPI: http://{address}/openapi.json");
    tracing::info!(server.address = %address, "paydown listening");
    actix_web::rt::System::new().block_on(async move {
        let server = crate::server::build(store, listener, workers)?;
        server.await
    })?;
    println!("paydown stopped");
    Ok(())
}
