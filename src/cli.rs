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
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
}

/// The server's flags: each overrides its key of the configuration file (flags >
/// environment > file > defaults, see `config`).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (every key: examples/paydown.toml); environment variables and
    /// flags override its keys.
    #[arg(long, env = "PAYDOWN_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PAYDOWN_LISTEN", value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// A second address that serves only /metrics, without a token (for Prometheus).
    #[arg(long, env = "PAYDOWN_METRICS_LISTEN", value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
    /// `postgres://user@host/db`, `sqlite://path` or a plain SQLite file path [default: paydown.db].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Worker threads; defaults to the number of cores.
    #[arg(long, env = "PAYDOWN_WORKERS")]
    pub workers: Option<usize>,
    /// Folder of finance's own payroll layouts, `<DIR>/payroll/<name>.toml` [default: reports].
    #[arg(long, env = "PAYDOWN_REPORTS_DIR", value_name = "DIR")]
    pub reports_dir: Option<std::path::PathBuf>,
    /// A separate TOML file of webhook secrets, replay window and identity mapping (the
    /// `[ingest]` section of the configuration in a file of its own, as in earlier versions);
    /// replaces that section. Without either, webhooks accept only ingest tokens.
    #[arg(long, env = "PAYDOWN_INGEST_CONFIG", value_name = "FILE")]
    pub ingest_config: Option<std::path::PathBuf>,
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
    /// Post what the ledger lacks for every person the pay journal names (the server's
    /// worker does it too, within a fraction of a second).
    Accrue {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Re-price everyone from the start, not only what the journal names (a repair
        /// after the database was changed outside paydown).
        #[arg(long)]
        all: bool,
    },
    /// Recompute every period from the facts and compare with the ledger; exits 1 on any difference.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Import history: pages from CSV, shifts from iCalendar or CSV. Idempotent; bad rows
    /// are reported with their line and skipped (exit status 3 when any was rejected).
    Import {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export reports: payroll (CSV, XLSX, JSON in a layout), accruals by cost centre.
    Export {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Management reports in the terminal: `report debt` (what pages cost).
    Report {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        what: ReportWhat,
    },
    /// API tokens: create (the secret is printed once), list, revoke.
    Token {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Pull people, schedules and incidents from a paging tool's REST API, incrementally
    /// (exit status 3 when any record was skipped).
    Sync {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        tool: SyncTool,
    },
    /// Exchange rates for management figures (debt report, dashboard) and the reporting
    /// currency they are converted into. Payroll never converts.
    Rates {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        action: RatesAction,
    },
    /// Pay periods: list, close, or set the scheme of a new ledger.
    Periods {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        action: PeriodAction,
    },
    /// The server's configuration file: check it before a deployment.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate a configuration file with the environment's overrides, and print the
    /// effective configuration (secrets redacted); exit 1 naming the key at fault.
    Check {
        /// The TOML file, as given to `paydown serve --config`.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// Pages from a CSV file: `generic` (paydown's documented columns) or `pagerduty`
    /// (PagerDuty's incident export).
    Pages {
        /// The CSV file to read.
        file: std::path::PathBuf,
        /// `generic` (paydown's documented columns) or `pagerduty` (PagerDuty's incident export).
        #[arg(long, default_value = "generic")]
        format: String,
        /// For PagerDuty exports whose times carry no offset: the zone they are in.
        #[arg(long)]
        time_zone: Option<String>,
        /// A TOML column mapping (examples in examples/mappings/): the file is a tool's own export,
        /// read as the generic format through it (`--format` is then ignored).
        #[arg(long)]
        mapping: Option<std::path::PathBuf>,
    },
    /// Shifts from an iCalendar feed (a `.ics` file or an `https://` feed URL) or a shifts CSV.
    Shifts {
        /// A file, or the feed's URL (`https://…`; never printed whole, as it often holds a token).
        file: String,
        /// `ics` or `csv`; guessed from the file name when omitted (a URL is read as `ics`).
        #[arg(long)]
        format: Option<String>,
        /// The source the shifts are recorded under (their idempotency namespace).
        #[arg(long)]
        source: Option<String>,
        /// For a personal feed that names nobody: the person every shift belongs to.
        #[arg(long)]
        person: Option<String>,
        /// Window recurring events are expanded in (RFC 3339); default: the last and next 180 days.
        #[arg(long)]
        from: Option<String>,
        /// End of that window (RFC 3339); default: 180 days from now.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncTool {
    /// PagerDuty (REST API v2): users → people by email, schedules' final entries → shifts,
    /// incidents and their log entries → pages. Key: --token, PAYDOWN_PAGERDUTY_TOKEN or
    /// `[sync.pagerduty]` of the ingest configuration.
    Pagerduty(SyncArgs),
    /// Opsgenie / Jira Service Management Operations (REST API v2): users → people by email,
    /// schedules' final timelines → shifts, alerts and their logs → pages. Key: --token,
    /// PAYDOWN_OPSGENIE_TOKEN or `[sync.opsgenie]`.
    Opsgenie(SyncArgs),
    /// Grafana OnCall (HTTP API v1): users → people by email, schedules' final shifts →
    /// shifts, alert groups → pages. Needs --api-url (the stack's OnCall API URL). Key:
    /// --token, PAYDOWN_GRAFANA_ONCALL_TOKEN or `[sync.grafana_oncall]`.
    GrafanaOncall(SyncArgs),
}

impl SyncTool {
    fn split(self) -> (crate::sync::Tool, SyncArgs) {
        match self {
            SyncTool::Pagerduty(args) => (crate::sync::Tool::Pagerduty, args),
            SyncTool::Opsgenie(args) => (crate::sync::Tool::Opsgenie, args),
            SyncTool::GrafanaOncall(args) => (crate::sync::Tool::GrafanaOncall, args),
        }
    }
}

/// What every `paydown sync <tool>` takes.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// A read-only API key; else the tool's environment variable, else `[sync.<tool>] token`
    /// (or `token_env`) of the ingest configuration.
    #[arg(long, hide_env_values = true)]
    token: Option<String>,
    /// Default: `[sync.<tool>] api_url`, else the tool's public endpoint.
    #[arg(long)]
    api_url: Option<String>,
    /// Start of the window (RFC 3339); default: where the last run got to, else 30 days ago.
    #[arg(long)]
    since: Option<String>,
    /// End of the window (RFC 3339); default: now.
    #[arg(long)]
    until: Option<String>,
    /// TOML ingest configuration whose `[mapping]` maps people and services (as `serve`).
    #[arg(long, env = "PAYDOWN_INGEST_CONFIG", value_name = "FILE")]
    ingest_config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// The payroll file of a period.
    Payroll {
        /// The pay period, e.g. `2026-10` (see `paydown periods list`).
        #[arg(long)]
        period: String,
        /// A layout in `reports/payroll/` (or `PAYDOWN_REPORTS_DIR`) or a built-in one.
        #[arg(long, default_value = "long")]
        layout: String,
        /// csv, xlsx or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Where to write; `-` for standard output; the report's own file name when omitted.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// What finance books per cost centre, with control totals.
    Accruals {
        /// The pay period, e.g. `2026-10` (see `paydown periods list`).
        #[arg(long)]
        period: String,
        /// csv, xlsx or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Where to write; `-` for standard output; the report's own file name when omitted.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// The ledger entries posted to a period since its last payroll export (all of them when it
    /// was never exported), with a net total per currency.
    Changes {
        /// The pay period, e.g. `2026-10` (see `paydown periods list`).
        #[arg(long)]
        period: String,
        /// csv or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Where to write; `-` for standard output; the report's own file name when omitted.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RatesAction {
    /// Record an exchange rate: from `--from` on, one `--currency` is worth `--rate` `--to`.
    Set {
        /// ISO 4217 code converted from, e.g. INR.
        #[arg(long)]
        currency: String,
        /// ISO 4217 code converted into; default: the reporting currency.
        #[arg(long)]
        to: Option<String>,
        /// Units of `--to` per unit of `--currency`, e.g. 0.012.
        #[arg(long)]
        rate: String,
        /// The first day the rate applies to (YYYY-MM-DD).
        #[arg(long)]
        from: String,
    },
    /// List the recorded rates, in the order recorded.
    List {
        /// Only rates into this currency.
        #[arg(long)]
        to: Option<String>,
    },
    /// Show the reporting currency, or set it when a code is given.
    ReportingCurrency {
        /// The ISO 4217 code to set (e.g. `USD`); without it, prints the current one.
        currency: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportWhat {
    /// Bring the dashboard's per-day rollup up to date: recompute every day whose pages,
    /// responses or ledger lines changed (the server's worker does this every few seconds).
    Refresh {
        /// Recompute every day from scratch.
        #[arg(long)]
        all: bool,
    },
    /// The reliability debt of pages, grouped, as a table.
    Debt {
        /// alert_key, service, team or month.
        #[arg(long, default_value = "alert_key")]
        group_by: String,
        /// Start (RFC 3339); default 90 days before `--to`.
        #[arg(long)]
        from: Option<String>,
        /// End (RFC 3339); default now.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print its secret (shown only now).
    Create {
        /// engineer, manager, finance, admin or ingest.
        #[arg(long)]
        role: String,
        /// What the token is for, e.g. "payroll export".
        #[arg(long)]
        name: String,
        /// For an engineer token: the person it acts as.
        #[arg(long)]
        person: Option<String>,
        /// For a manager token: a team it sees (repeat for several).
        #[arg(long = "team")]
        teams: Vec<String>,
        /// Days until the token expires; never when omitted.
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token at once.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PeriodAction {
    /// List the periods and their status.
    List,
    /// The review before approval: totals, changes since the last export, anomalies
    /// (posts what the ledger lacks first).
    Review {
        /// The period, e.g. `2026-10`, as `periods list` shows it.
        id: String,
        /// Print the review as JSON (the API's answer).
        #[arg(long)]
        json: bool,
    },
    /// Approve a period (after posting what it lacks); a later posting lapses the approval.
    Approve {
        /// The period, e.g. `2026-10`, as `periods list` shows it.
        id: String,
        /// Why, in a sentence: kept in the audit log with the step.
        #[arg(long)]
        reason: String,
        /// Who you are, for the audit log and four-eyes (recorded as `cli:NAME`).
        #[arg(long = "as")]
        operator: Option<String>,
    },
    /// Withdraw a period's approval before the close.
    Reopen {
        /// The period, e.g. `2026-10`, as `periods list` shows it.
        id: String,
        /// Why, in a sentence: kept in the audit log with the step.
        #[arg(long)]
        reason: String,
        /// Who you are, for the audit log (recorded as `cli:NAME`).
        #[arg(long = "as")]
        operator: Option<String>,
    },
    /// Close an approved period for good, once every earlier period is closed.
    Close {
        /// The period, e.g. `2026-10`, as `periods list` shows it.
        id: String,
        /// Why, in a sentence: kept in the audit log with the step.
        #[arg(long)]
        reason: String,
        /// Who you are, for the audit log and four-eyes (recorded as `cli:NAME`).
        #[arg(long = "as")]
        operator: Option<String>,
    },
    /// Set the scheme (`monthly`, `semi-monthly`, `biweekly:YYYY-MM-DD`) before the first period exists.
    Scheme {
        /// `monthly`, `semi-monthly` or `biweekly:YYYY-MM-DD` (the first day of a fortnight).
        scheme: String,
    },
}

/// Who the ledger records for postings made from the command line.
pub const CLI_ACTOR: &str = "cli";

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args, None),
        Command::Demo { serve: args, seed } => serve(args, Some(seed)),
        Command::Config { action: ConfigAction::Check { file } } => check_config(&file),
        Command::Migrate { database } => {
            let store = open(&database.database_url)?;
            let applied = store.migrate().context("applying migrations")?;
            println!("database is up to date ({} backend)", store.backend());
            for name in applied {
                println!("applied {name}");
            }
            Ok(())
        }
        Command::Accrue { database, all } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            if all {
                let people = crate::accrual::mark_everyone(&mut conn).context("journaling everyone")?;
                eprintln!("re-pricing all {people} people");
            }
            let bar = progress_bar(None, ACCRUE_PROGRESS);
            let mut show = |done: crate::accrual::Progress| {
                bar.set_position(u64::try_from(done.people_done).unwrap_or(u64::MAX));
                bar.set_message(format!("{} entries", done.entries_posted));
            };
            let now = crate::clock::now();
            // A second connection only when there is bulk work to price on it: a pass with
            // nothing to do would spend more on opening it than on the pass.
            let reader = if crate::accrual::wants_second_connection(&mut conn)? {
                store.spare_conn(std::time::Duration::from_secs(1))
            } else {
                None
            };
            let report = match reader {
                Some(mut reader) => crate::accrual::accrue_pipelined(&mut conn, &mut reader, CLI_ACTOR, now, &mut show),
                None => crate::accrual::accrue_with_progress(&mut conn, CLI_ACTOR, now, &mut show),
            }
            .context("accruing")?;
            bar.finish_and_clear();
            println!(
                "accrual {}: {} people, {} lines and {} reversals posted ({} adjustments into a later period)",
                report.run_id, report.people, report.lines_posted, report.reversals_posted, report.adjustments_posted
            );
            for problem in &report.unpriced {
                println!("not priced: {problem}");
            }
            Ok(())
        }
        Command::Verify { database } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            let bar = progress_bar(Some(0), VERIFY_PROGRESS);
            let report = crate::accrual::verify_with_progress(&mut conn, &mut |done, total| {
                bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
                bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
            })
            .context("verifying")?;
            bar.finish_and_clear();
            if report.journal_pending > 0 {
                println!(
                    "note: {} changes wait in the pay journal; differences they explain go once they are priced",
                    report.journal_pending
                );
            }
            println!(
                "verified {} entries of {} people in {} periods as of {}",
                report.entries,
                report.people,
                report.periods,
                report
                    .as_of
                    .map_or_else(|| "no accrual yet".to_owned(), |at| crate::domain::timestamp::format_rfc3339(&at))
            );
            if report.is_clean() {
                println!("the ledger matches the facts");
                return Ok(());
            }
            for difference in &report.differences {
                println!("DIFFERENCE {difference}");
            }
            anyhow::bail!("{} differences between the ledger and the facts", report.differences.len())
        }
        Command::Import { database, what } => {
            let store = open(&database.database_url)?;
            let stamp = crate::storage::Stamp::new(CLI_ACTOR, crate::clock::now());
            let report = match what {
                ImportWhat::Pages { file, mapping: Some(mapping), .. } => {
                    let text =
                        std::fs::read_to_string(&mapping).with_context(|| format!("reading {}", mapping.display()))?;
                    let mapping = crate::ingest::column_mapping::ColumnMapping::parse(&text)
                        .map_err(|error| anyhow::anyhow!("{}: {error}", mapping.display()))?;
                    let opened = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
                    let generic = mapping
                        .to_generic(std::io::BufReader::new(opened))
                        .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
                    let format = crate::ingest::csv_pages::PageCsvFormat::Generic;
                    crate::import::import_pages(&store, &generic[..], format, &stamp, &mut |_| {})?
                }
                ImportWhat::Pages { file, format, time_zone, mapping: None } => {
                    let format = match format.as_str() {
                        "generic" => crate::ingest::csv_pages::PageCsvFormat::Generic,
                        "pagerduty" => crate::ingest::csv_pages::PageCsvFormat::PagerDuty {
                            time_zone: time_zone
                                .map(|zone| {
                                    zone.parse::<chrono_tz::Tz>()
                                        .map_err(|_| anyhow::anyhow!("unknown time zone `{zone}`"))
                                })
                                .transpose()?,
                        },
                        other => anyhow::bail!("unknown format `{other}`: generic or pagerduty"),
                    };
                    let opened = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
                    let size = opened.metadata().map(|metadata| metadata.len()).ok();
                    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                    let reader = std::io::BufReader::new(CountingReader { inner: opened, read: read.clone() });
                    let bar = progress_bar(size, IMPORT_PROGRESS);
                    let started = std::time::Instant::now();
                    let mut tick = |rows: u64| {
                        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
                        let rate = rows.saturating_mul(1000) / millis;
                        bar.set_message(format!("{rows} rows, {rate} rows/s"));
                        bar.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
                    };
                    let report = crate::import::import_pages(&store, reader, format, &stamp, &mut tick)?;
                    bar.finish_and_clear();
                    report
                }
                ImportWhat::Shifts { file, format, source, person, from, to } => {
                    use crate::ingest::feed;
                    let is_url = feed::is_url(&file);
                    let path = std::path::Path::new(&file);
                    let text = if is_url {
                        feed::fetch(&file)?
                    } else {
                        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
                    };
                    let source = source.unwrap_or_else(|| {
                        if is_url {
                            return feed::source_of(&file);
                        }
                        path.file_name().map_or_else(|| "import".to_owned(), |name| name.to_string_lossy().into_owned())
                    });
                    let is_ics = format.as_deref().map_or_else(
                        || is_url || path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("ics")),
                        |format| format == "ics",
                    );
                    if is_ics {
                        let now = crate::clock::now();
                        let parse = |text: Option<String>, default| -> anyhow::Result<_> {
                            text.map(|text| crate::domain::timestamp::parse_rfc3339(&text).map_err(anyhow::Error::msg))
                                .transpose()
                                .map(|at| at.unwrap_or(default))
                        };
                        let options = crate::ingest::ics::IcsOptions {
                            source,
                            from: parse(from, now - chrono::Duration::days(180))?,
                            to: parse(to, now + chrono::Duration::days(180))?,
                            default_time_zone: chrono_tz::UTC,
                            person,
                        };
                        let rows = crate::ingest::ics::shifts_from_ics(&text, &options)
                            .map_err(|error| anyhow::anyhow!("line {}: {}", error.line, error.message))?;
                        crate::import::import_shifts(&store, rows.into_iter(), &stamp)?
                    } else {
                        // Parsed as it is written, on the import's own thread.
                        let rows = crate::ingest::csv_shifts::shifts_from_csv(text.as_bytes(), &source)
                            .map_err(|error| anyhow::anyhow!("line {}: {}", error.line, error.message))?;
                        crate::import::import_shifts(&store, rows, &stamp)?
                    }
                }
            };
            println!(
                "{} rows in {:.1} s ({} rows/s): {} created, {} updated, {} unchanged, {} rejected",
                report.rows,
                report.elapsed.as_secs_f64(),
                report.rows_per_second(),
                report.created,
                report.updated,
                report.unchanged,
                report.rejected.len()
            );
            if let Some(pay_from) = report.pay_from {
                println!(
                    "{} rows fall before pay_from {pay_from}: kept for reports and health signals, never paid",
                    report.before_pay_from
                );
            }
            for error in report.rejected.iter().take(REJECTED_SHOWN_MAX) {
                println!("rejected line {}: {}: {}", error.line, error.field, error.message);
            }
            if report.rejected.len() > REJECTED_SHOWN_MAX {
                println!("… and {} more rejected rows", report.rejected.len() - REJECTED_SHOWN_MAX);
            }
            if !report.rejected.is_empty() {
                std::process::exit(3);
            }
            Ok(())
        }
        Command::Sync { database, tool } => {
            let (tool, SyncArgs { token, api_url, since, until, ingest_config }) = tool.split();
            let store = open(&database.database_url)?;
            store.migrate().context("applying migrations")?;
            let instant = |text: Option<String>, flag: &str| -> anyhow::Result<_> {
                text.map(|text| {
                    crate::domain::timestamp::parse_rfc3339(&text).map_err(|error| anyhow::anyhow!("--{flag}: {error}"))
                })
                .transpose()
            };
            let config = match ingest_config {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    crate::ingest::config::IngestConfig::parse(&text)
                        .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
                }
                None => crate::ingest::config::IngestConfig::default(),
            };
            let settings = config.sync.get(tool.key()).cloned().unwrap_or_default();
            let (token, api_url) = crate::sync::credentials(tool, token, api_url, &settings)
                .map_err(|message| anyhow::anyhow!(message))?;
            let spec = crate::sync::RunSpec {
                tool,
                token,
                api_url,
                since: instant(since, "since")?,
                until: instant(until, "until")?,
                retry: crate::sync::client::RetryPolicy::default(),
            };
            let bar = progress_bar(None, SYNC_PROGRESS);
            let mut tick = |report: &crate::sync::SyncReport| {
                let fetched: Vec<String> =
                    report.fetched.iter().map(|(kind, count)| format!("{count} {kind}")).collect();
                bar.set_message(format!(
                    "fetched {}; pages {} created, {} updated; {} skipped",
                    fetched.join(", "),
                    report.pages.created,
                    report.pages.updated,
                    report.skipped.len()
                ));
            };
            let report = crate::sync::run(&store, &config.mapping, &spec, crate::clock::now(), &mut tick)
                .with_context(|| format!("syncing from {}", tool.display_name()))?;
            bar.finish_and_clear();
            print_sync_report(&report);
            if !report.skipped.is_empty() {
                std::process::exit(3);
            }
            Ok(())
        }
        Command::Export { database, what } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            let (name, bytes, output) = match what {
                ExportWhat::Payroll { period, layout, format, output } => {
                    let format =
                        crate::reports::export::Format::parse(&format).context("--format: csv, xlsx or json")?;
                    return export_payroll(&mut conn, &period, &layout, format, output);
                }
                ExportWhat::Changes { period, format, output } => {
                    let format = crate::reports::export::Format::parse(&format)
                        .filter(|format| *format != crate::reports::export::Format::Json)
                        .context("--format: csv or xlsx")?;
                    let (last, input) = crate::storage::report_input::changes_input(&mut conn, &period)?;
                    match &last {
                        Some(last) => eprintln!(
                            "{} entries posted since the export of {} ({} by {})",
                            input.entries.len(),
                            last.exported_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            last.layout,
                            last.exported_by
                        ),
                        None => eprintln!("{period} was never exported: every entry is listed"),
                    }
                    let since = last.as_ref().map(crate::storage::exports::ExportRecord::since);
                    let (name, bytes) = crate::reports::export::changes_file(format, &input, since.as_ref())
                        .map_err(anyhow::Error::msg)?;
                    (name, bytes, output)
                }
                ExportWhat::Accruals { period, format, output } => {
                    let format =
                        crate::reports::export::Format::parse(&format).context("--format: csv, xlsx or json")?;
                    let input = crate::storage::report_input::payroll_input(&mut conn, &period)?;
                    let (name, bytes) =
                        crate::reports::export::accruals_file(format, &input).map_err(anyhow::Error::msg)?;
                    (name, bytes, output)
                }
            };
            match output {
                Some(path) if path.as_os_str() == "-" => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                }
                Some(path) => {
                    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
                }
                None => {
                    std::fs::write(&name, &bytes).with_context(|| format!("writing {name}"))?;
                    eprintln!("wrote {name} ({} bytes)", bytes.len());
                }
            }
            Ok(())
        }
        Command::Report { database, what: ReportWhat::Refresh { all } } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            let started = std::time::Instant::now();
            let days = if all { crate::rollup::rebuild(&mut conn) } else { crate::rollup::refresh_all(&mut conn) }
                .context("refreshing the dashboard rollup")?;
            println!("dashboard rollup: {days} days recomputed in {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Report { database, what: ReportWhat::Debt { group_by, from, to } } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            let group_by =
                crate::http::dashboard_group_by(Some(&group_by)).map_err(|error| anyhow::anyhow!(error.message))?;
            let to = to
                .map(|text| crate::domain::timestamp::parse_rfc3339(&text).map_err(anyhow::Error::msg))
                .transpose()?
                .unwrap_or_else(crate::clock::now);
            let from = from
                .map(|text| crate::domain::timestamp::parse_rfc3339(&text).map_err(anyhow::Error::msg))
                .transpose()?
                .unwrap_or(to - chrono::Duration::days(90));
            let overview = crate::dashboard::debt(&mut conn, from, to, group_by, None)?;
            println!(
                "{:<28} {:>4} {:>6} {:>6} {:>8} {:>14} {:>14} {:>14}",
                "group", "cur", "pages", "night", "non-act", "total", "previous", "annualised"
            );
            for line in &overview.groups {
                let group = &line.group;
                println!(
                    "{:<28} {:>4} {:>6} {:>6} {:>8} {:>14} {:>14} {:>14}",
                    group.key.chars().take(28).collect::<String>(),
                    group.currency.code(),
                    group.pages,
                    group.night_pages,
                    group.non_actionable_pages,
                    group.total,
                    line.previous_total,
                    line.annualised.map(|amount| amount.to_string()).unwrap_or_default()
                );
            }
            if let Some(currency) = overview.reporting.currency {
                println!("\nranked in {currency} at the rates in force on {}:", overview.reporting.rates_on);
                for line in overview.groups.iter().filter(|line| line.ranked) {
                    if let Some(figure) = &line.reporting {
                        let rate = match figure.rate_effective_from {
                            Some(from) => format!("at {} {currency}/{} from {from}", figure.rate, line.group.currency),
                            None => String::new(),
                        };
                        println!(
                            "{:<28} {:>14} {currency}  {:>14} {} {rate}",
                            line.group.key.chars().take(28).collect::<String>(),
                            figure.total,
                            line.group.total,
                            line.group.currency
                        );
                    }
                }
                if let Some(total) = overview.reporting.total {
                    println!("{:<28} {:>14} {currency}", "total", total);
                }
            }
            for note in &overview.reporting.notes {
                println!("note: {note}");
            }
            for line in overview.groups.iter().take(10) {
                println!("{}", line.summary);
            }
            if !overview.missing_rates.is_empty() {
                println!("no loaded hourly cost for: {} (their time is not costed)", overview.missing_rates.join(", "));
            }
            Ok(())
        }
        Command::Token { database, action } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            let stamp = crate::storage::Stamp::new(CLI_ACTOR, crate::clock::now());
            match action {
                TokenAction::Create { role, name, person, teams, expires_in_days } => {
                    let role = crate::domain::role::Role::parse(&role).with_context(|| {
                        format!("unknown role `{role}`: engineer, manager, finance, admin or ingest")
                    })?;
                    let expires_at = expires_in_days.map(|days| stamp.at + chrono::Duration::days(days));
                    let new = crate::storage::tokens::NewToken { name, role, person, teams, expires_at };
                    let (token, secret) =
                        crate::storage::tokens::create(&mut conn, &new, &stamp).context("creating the token")?;
                    // The secret alone on standard output (`TOKEN=$(paydown token create …)`), the
                    // words about it on standard error, each on lines of their own.
                    eprintln!("created {} token `{}` ({})", token.role.as_str(), token.name, token.id);
                    eprintln!(
                        "its secret, on the next line; store it now: paydown keeps only its hash and cannot show it again"
                    );
                    {
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        // Not a quiet closed pipe: the secret is shown nowhere else.
                        writeln!(out, "{secret}").and_then(|()| out.flush()).map_err(|error| {
                            anyhow::anyhow!(
                                "printing the secret failed ({error}): revoke token {} and create another",
                                token.id
                            )
                        })?;
                    }
                }
                TokenAction::List => {
                    for token in crate::storage::tokens::list(&mut conn)? {
                        let state = match (token.revoked_at, token.expires_at) {
                            (Some(_), _) => "revoked".to_owned(),
                            (None, Some(at)) if at <= stamp.at => "expired".to_owned(),
                            (None, Some(at)) => format!("expires {}", crate::domain::timestamp::format_rfc3339(&at)),
                            (None, None) => "active".to_owned(),
                        };
                        let scope = token.person.clone().unwrap_or_else(|| token.teams.join(","));
                        println!("{}\t{}\t{}\t{}\t{}", token.id, token.role.as_str(), token.name, scope, state);
                    }
                }
                TokenAction::Revoke { id } => {
                    let token = crate::storage::tokens::revoke(&mut conn, &id, &stamp).context("revoking the token")?;
                    println!("revoked `{}` ({})", token.name, token.id);
                }
            }
            Ok(())
        }
        Command::Rates { database, action } => {
            use crate::storage::exchange_rates;
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            let stamp = crate::storage::Stamp::new(CLI_ACTOR, crate::clock::now());
            let field =
                |error: crate::domain::field_error::FieldError| anyhow::anyhow!("--{}: {}", error.field, error.message);
            match action {
                RatesAction::Set { currency, to, rate, from } => {
                    let input = crate::http::RateInput { currency, to_currency: to, rate, effective_from: from };
                    let reporting = exchange_rates::reporting(&mut conn)?.reporting_currency;
                    let rate = crate::http::parse_rate(&input, reporting).map_err(|error| {
                        let flag = match error.field.as_str() {
                            "to_currency" => "to",
                            "effective_from" => "from",
                            other => other,
                        };
                        anyhow::anyhow!("--{flag}: {}", error.message)
                    })?;
                    let stored = exchange_rates::record(&mut conn, &rate, &stamp)?;
                    println!(
                        "1 {} = {} {} from {} (recorded {})",
                        stored.currency, stored.rate, stored.to_currency, stored.effective_from, stored.id
                    );
                }
                RatesAction::List { to } => {
                    let to = to.map(|code| exchange_rates::parse_currency("to", &code)).transpose().map_err(field)?;
                    println!("{:<4} {:<4} {:>18} {:<10}  recorded", "from", "to", "rate", "effective");
                    for rate in exchange_rates::list(&mut conn, to)? {
                        println!(
                            "{:<4} {:<4} {:>18} {:<10}  {} by {}",
                            rate.currency.code(),
                            rate.to_currency.code(),
                            rate.rate,
                            rate.effective_from,
                            rate.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            rate.recorded_by
                        );
                    }
                }
                RatesAction::ReportingCurrency { currency: None } => {
                    match exchange_rates::reporting(&mut conn)?.reporting_currency {
                        Some(currency) => println!("{currency}"),
                        None => println!("no reporting currency is set"),
                    }
                }
                RatesAction::ReportingCurrency { currency: Some(code) } => {
                    let currency = exchange_rates::parse_currency("currency", &code).map_err(field)?;
                    exchange_rates::set_reporting(&mut conn, currency, &stamp)?;
                    println!("reporting currency: {currency}");
                }
            }
            Ok(())
        }
        Command::Periods { database, action } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            match action {
                PeriodAction::List => {
                    println!("scheme: {}", crate::storage::ledger::scheme(&mut conn)?);
                    for period in crate::storage::ledger::list_periods(&mut conn)? {
                        println!("{}\t{} .. {}\t{}", period.id, period.starts_on, period.ends_on, period.status);
                    }
                }
                PeriodAction::Review { id, json } => {
                    crate::accrual::accrue(&mut conn, CLI_ACTOR, crate::clock::now()).context("accruing")?;
                    let review = crate::pay_run::review(&mut conn, &id).with_context(|| format!("reviewing {id}"))?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&review)?);
                    } else {
                        print_review(&review);
                    }
                }
                PeriodAction::Approve { id, reason, operator } => {
                    let by = cli_identity(operator);
                    let run = crate::pay_run::approve(&mut conn, &id, &by, Some(&reason), crate::clock::now())
                        .with_context(|| format!("approving pay period {id}"))?;
                    println!("approved {} ({} entries)", run.period.id, run.entries);
                }
                PeriodAction::Reopen { id, reason, operator } => {
                    let by = cli_identity(operator);
                    let run = crate::pay_run::reopen(&mut conn, &id, &by, Some(&reason), crate::clock::now())
                        .with_context(|| format!("reopening pay period {id}"))?;
                    println!("reopened {}: approval withdrawn", run.period.id);
                }
                PeriodAction::Close { id, reason, operator } => {
                    let by = cli_identity(operator);
                    let run = crate::pay_run::close(&mut conn, &id, &by, Some(&reason), crate::clock::now())
                        .with_context(|| format!("closing pay period {id}"))?;
                    let period = run.period;
                    println!("closed {} ({} .. {})", period.id, period.starts_on, period.ends_on);
                }
                PeriodAction::Scheme { scheme } => {
                    let parsed: crate::domain::period::PeriodScheme = scheme.parse().map_err(anyhow::Error::msg)?;
                    crate::storage::ledger::set_scheme(
                        &mut conn,
                        parsed,
                        &crate::storage::Stamp::new(CLI_ACTOR, crate::clock::now()),
                    )
                    .context("setting the scheme")?;
                    println!("pay period scheme: {parsed}");
                }
            }
            Ok(())
        }
    }
}

/// The CLI's operator as the pay run names them: `cli`, or `cli:NAME` with `--as NAME`.
fn cli_identity(operator: Option<String>) -> crate::domain::pay_run::Identity {
    let actor = operator.map_or_else(|| CLI_ACTOR.to_owned(), |name| format!("{CLI_ACTOR}:{name}"));
    crate::domain::pay_run::Identity { actor, token_id: None, person: None }
}

/// A period's review as text for a terminal.
fn print_review(review: &crate::pay_run::Review) {
    let run = &review.run;
    let state = crate::domain::serde_name(&run.run.state);
    println!(
        "pay period {} ({} .. {}): {state}, {} entries",
        run.period.id, run.period.starts_on, run.period.ends_on, run.entries
    );
    if let Some(approval) = &run.run.approval {
        let lapsed = if run.run.approval_lapsed {
            format!(" (lapsed: {} entries posted since)", run.run.entries_since_approval)
        } else {
            String::new()
        };
        println!("approved by {} at {}{lapsed}: {}", approval.by.actor, approval.at, approval.reason);
    }
    if !run.earlier_open.is_empty() {
        println!("earlier periods still open: {}", run.earlier_open.join(", "));
    }
    for total in &review.totals {
        println!(
            "  {}\t{}\t{} {}\t({} entries)",
            total.person, total.component, total.amount, total.currency, total.entries
        );
    }
    for (currency, amount) in &review.total_by_currency {
        println!("total {amount} {currency}");
    }
    let changes = &review.changes_since_export;
    match &changes.last_export {
        Some(export) => println!(
            "since the last export ({} {} at {}): {} entries",
            export.layout, export.format, export.exported_at, changes.count
        ),
        None => println!("never exported: all {} entries are new", changes.count),
    }
    println!("{} anomalies", review.anomalies.len());
    for anomaly in &review.anomalies {
        println!("  {}", serde_json::to_string(anomaly).unwrap_or_default());
    }
}

/// Writes a payroll export as it is produced, a slice of people at a time, with a bar of
/// the people done. A failed export removes its partial file.
fn export_payroll(
    conn: &mut crate::storage::AnyConnection,
    period: &str,
    layout: &str,
    format: crate::reports::export::Format,
    output: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use crate::reports::export;
    use crate::storage::report_input;
    use std::io::Write;
    let people = report_input::payroll_people(conn, period)?;
    let info = report_input::payroll_input_for(conn, period, Some(&[]))?.period;
    let reports_dir = crate::config::reports_dir_from_environment();
    let name = export::payroll_file_name(&reports_dir, layout, format, &info).map_err(anyhow::Error::msg)?;
    let path = output.unwrap_or_else(|| std::path::PathBuf::from(&name));
    let to_stdout = path.as_os_str() == "-";
    let out: Box<dyn Write + Send> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        ))
    };
    let mut out = CountingWriter { inner: out, written: 0 };
    let mut slices: Vec<Vec<String>> = people.chunks(export::STREAM_PEOPLE_PER_CHUNK).map(<[String]>::to_vec).collect();
    if slices.is_empty() {
        slices.push(Vec::new());
    }
    let bar = progress_bar(Some(u64::try_from(people.len()).unwrap_or(u64::MAX)), EXPORT_PROGRESS);
    let mut exported: Vec<String> = Vec::new();
    let inputs = slices.iter().map(|slice| {
        let input = report_input::payroll_input_for(conn, period, Some(slice)).map_err(|error| error.to_string());
        if let Ok(input) = &input {
            exported.extend(input.entries.iter().map(|entry| entry.id.clone()));
        }
        bar.inc(u64::try_from(slice.len()).unwrap_or(0));
        if bar.position() == bar.length().unwrap_or(0) && format == export::Format::Xlsx {
            bar.set_message("zipping the workbook");
        }
        input
    });
    let result = export::stream_payroll::<String, _>(&reports_dir, layout, format, inputs, &mut out);
    bar.finish_and_clear();
    if let Err(message) = result {
        drop(out);
        if !to_stdout {
            let _ = std::fs::remove_file(&path);
        }
        anyhow::bail!("{message}");
    }
    out.flush()?;
    if !to_stdout {
        eprintln!("wrote {} ({} bytes)", path.display(), out.written);
    }
    // The changes file counts from this export.
    let stamp = crate::storage::Stamp::new(CLI_ACTOR, crate::clock::now());
    crate::storage::exports::record_export(conn, period, layout, format.extension(), &exported, &stamp)
        .context("recording the export")?;
    Ok(())
}

/// Counts the bytes read, for the import's progress bar.
struct CountingReader<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.read.fetch_add(u64::try_from(read).unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
        Ok(read)
    }
}

/// Counts what passes through, for the closing line.
struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: std::io::Write> std::io::Write for CountingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.written += u64::try_from(written).unwrap_or(0);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What `paydown sync` prints.
fn print_sync_report(report: &crate::sync::SyncReport) {
    let window = match (report.since, report.until) {
        (Some(since), Some(until)) => format!(
            " from {} to {}",
            crate::domain::timestamp::format_rfc3339(&since),
            crate::domain::timestamp::format_rfc3339(&until)
        ),
        _ => String::new(),
    };
    let fetched: Vec<String> = report.fetched.iter().map(|(kind, count)| format!("{count} {kind}")).collect();
    println!(
        "fetched{window}: {} in {} requests ({} retries, {} rate-limited) in {:.1} s",
        if fetched.is_empty() { "nothing".to_owned() } else { fetched.join(", ") },
        report.requests,
        report.retries,
        report.rate_limited,
        report.elapsed.as_secs_f64()
    );
    println!(
        "pages: {} created, {} updated, {} unchanged ({} reassignments, {} escalations in the logs)",
        report.pages.created, report.pages.updated, report.pages.unchanged, report.reassignments, report.escalations
    );
    println!(
        "shifts: {} created, {} updated, {} unchanged, {} removed (no longer in the schedule)",
        report.shifts.created, report.shifts.updated, report.shifts.unchanged, report.shifts.removed
    );
    println!("people: {} matched by email now, {} unmatched", report.people_matched, report.unmatched_users.len());
    for user in report.unmatched_users.iter().take(REJECTED_SHOWN_MAX) {
        println!("unmatched user {user}");
    }
    println!("skipped: {}", report.skipped.len());
    for skipped in report.skipped.iter().take(REJECTED_SHOWN_MAX) {
        println!("skipped {}: {}", skipped.record, skipped.reason);
    }
    if report.skipped.len() > REJECTED_SHOWN_MAX {
        println!("… and {} more skipped records", report.skipped.len() - REJECTED_SHOWN_MAX);
    }
}

/// Rejected rows printed in full; the rest are counted.
const REJECTED_SHOWN_MAX: usize = 100;

/// Progress lines, each within 80 columns (`{wide_msg}` takes what is left, and is cut to fit).
const ACCRUE_PROGRESS: &str = "{spinner} accruing: {pos} people priced, {elapsed} {wide_msg}";
const VERIFY_PROGRESS: &str = "{bar:30} verifying {pos}/{len} people {elapsed}";
const IMPORT_PROGRESS: &str = "{bar:20} {bytes}/{total_bytes} eta {eta} {wide_msg}";
const SYNC_PROGRESS: &str = "{spinner} {elapsed} {wide_msg}";
const EXPORT_PROGRESS: &str = "{bar:20} {pos}/{len} people eta {eta} {wide_msg}";

/// A progress bar on stderr, hidden when stderr is not a terminal (CI, pipes): a bar when
/// the total is known, a spinner otherwise.
fn progress_bar(total: Option<u64>, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn open(url: &str) -> anyhow::Result<Store> {
    Store::open(url).with_context(|| format!("opening the database `{}`", redact(url)))
}

fn redact(url: &str) -> String {
    url.parse::<crate::storage::DatabaseUrl>().map(|url| url.redacted()).unwrap_or_else(|_| url.to_owned())
}

/// The environment as the configuration reads it.
fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    let config = crate::config::Config::load(Some(file), &environment, &crate::config::Flags::default())
        .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    print!("{}", config.to_redacted_toml());
    eprintln!("{}: valid (the effective configuration, secrets redacted, is above)", file.display());
    Ok(())
}

fn serve(args: ServeArgs, demo_seed: Option<u64>) -> anyhow::Result<()> {
    let flags = crate::config::Flags {
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        workers: args.workers,
        reports_dir: args.reports_dir,
        database_url: args.database_url,
        ingest_config: args.ingest_config,
    };
    let config = crate::config::Config::load(args.config.as_deref(), &environment, &flags)
        .map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))?;
    let database_url = config.database.url.expose();
    let store = Store::open_with_pool(database_url, config.database.pool_size, config.pool_wait())
        .with_context(|| format!("opening the database `{}`", redact(database_url)))?;
    let superuser = store
        .conn()
        .map_err(anyhow::Error::from)
        .and_then(|mut conn| crate::storage::connected_as_superuser(&mut conn).map_err(anyhow::Error::from));
    if superuser.unwrap_or(false) {
        tracing::warn!(
            "connected to PostgreSQL as a superuser (or a role with replication or BYPASSRLS): it can switch the ledger's triggers off; serve as the application role of deploy/postgres/roles.sql"
        );
    }
    if let Some(seed) = demo_seed {
        let summary = crate::demo::load_if_empty(&store, seed).context("loading the demo data set")?;
        match summary {
            Some(summary) => println!("loaded the demo data set (seed {seed}): {summary}"),
            None => println!("the database already holds data; the demo data set was not loaded"),
        }
    }
    let demo_tokens = match demo_seed {
        Some(_) => crate::demo::issue_tokens(&store).context("issuing the demo tokens")?,
        None => Vec::new(),
    };
    let listener = TcpListener::bind(config.listen).with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let metrics_listener = config
        .metrics_listen
        .map(|metrics| TcpListener::bind(metrics).with_context(|| format!("binding metrics_listen {metrics}")))
        .transpose()?;
    let workers = config.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    println!("paydown listening on http://{address} ({} database {})", store.backend(), redact(database_url));
    println!("API docs: http://{address}/docs/  OpenAPI: http://{address}/openapi.json");
    if let Some(metrics) = &metrics_listener {
        let metrics = metrics.local_addr().context("reading the metrics address")?;
        println!("metrics (no token): http://{metrics}/metrics");
    }
    if !demo_tokens.is_empty() {
        println!("demo tokens (valid 30 days; send as `Authorization: Bearer <token>`):");
        for (role, scope, secret) in &demo_tokens {
            println!("  {role:<9} {scope:<22} {secret}");
        }
        if let Some((_, _, secret)) = demo_tokens.iter().find(|(role, _, _)| role == "engineer") {
            // The seeded demo pages alice in August and September only: an October example
            // answered an empty statement. September's is read from the ledger.
            println!(
                "try: curl -H 'Authorization: Bearer {secret}' 'http://{address}/v1/people/alice/statement?period=2026-09'"
            );
        }
    } else {
        let mut conn = store.conn()?;
        if crate::storage::tokens::count(&mut conn)? == 0 {
            println!("no API tokens exist yet: every /v1 request gets 401 until you create the first admin token:");
            println!(
                "  paydown token create --role admin --name \"first admin\" --database-url {}",
                redact(database_url)
            );
        }
    }
    tracing::info!(server.address = %address, "paydown listening");
    let state = crate::http::AppState::from_config(store, &config);
    let scheduled = crate::sync::scheduled::spawn(state.store.clone(), state.ingest.clone(), state.sync_jobs.clone());
    if scheduled > 0 {
        println!("scheduled syncs: {scheduled} (GET /v1/sync/status)");
    }
    actix_web::rt::System::new().block_on(async move {
        let server = crate::server::build_with_accrual(state.clone(), listener, workers)?;
        match metrics_listener {
            Some(metrics_listener) => {
                let metrics = crate::server::build_metrics(state, metrics_listener)?;
                futures_util::future::try_join(server, metrics).await.map(|_| ())
            }
            None => server.await,
        }
    })?;
    println!("paydown stopped");
    Ok(())
}

/// Whether an error is a write to a closed pipe (`paydown report debt | head`): the reader
/// has all it wanted, so the command ends quietly.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Makes `println!` into a closed pipe end the process quietly with status 0 (as `head`'s
/// other writers do), instead of a panic message; every other panic is reported as before.
pub fn exit_quietly_on_broken_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // std's print macros panic with "failed printing to stdout: Broken pipe (os error 32)".
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every subcommand says what it does and every argument what it takes, so `--help` is
    /// enough to use paydown.
    #[test]
    fn every_subcommand_and_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for argument in command.get_arguments() {
                let builtin = matches!(argument.get_id().as_str(), "help" | "version");
                if !builtin && argument.get_help().is_none() && argument.get_long_help().is_none() {
                    missing.push(format!("{path} {}", argument.get_id()));
                }
                // Help speaks of files and flags, not of the source code's modules.
                let help = argument.get_long_help().or(argument.get_help()).map(ToString::to_string);
                if help.is_some_and(|help| help.contains("::")) {
                    missing.push(format!("{path} {} (names a source module)", argument.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_name() != "help" && sub.get_about().is_none() {
                    missing.push(format!("{sub_path} (the subcommand)"));
                }
                walk(sub, &sub_path, missing);
            }
        }
        let command = Cli::command();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&command, "paydown", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    /// A progress line at its widest (long numbers, a long message cut by `{wide_msg}`)
    /// fits an 80-column terminal.
    #[test]
    fn progress_lines_fit_80_columns() {
        let widest = |template: &str| {
            let mut width = 0;
            let mut rest = template;
            while let Some(open) = rest.find('{') {
                width += rest[..open].chars().count();
                let close = rest[open..].find('}').map_or(rest.len(), |close| open + close);
                let key = &rest[open + 1..close];
                width += match key.split(':').next().unwrap_or_default() {
                    "bar" => key.split(':').nth(1).and_then(|n| n.parse().ok()).unwrap_or(20),
                    "spinner" => 1,
                    "pos" | "len" => 9,
                    "bytes" | "total_bytes" => 11,
                    "elapsed" | "eta" => 8,
                    "per_sec" => 14,
                    // Fills what is left and is cut to fit; at least this much shows.
                    "wide_msg" | "wide_bar" => 12,
                    other => panic!("unmeasured key {other}"),
                };
                rest = &rest[(close + 1).min(rest.len())..];
            }
            width + rest.chars().count()
        };
        for template in [ACCRUE_PROGRESS, VERIFY_PROGRESS, IMPORT_PROGRESS, SYNC_PROGRESS, EXPORT_PROGRESS] {
            assert!(widest(template) <= 80, "{template}: {} columns", widest(template));
            assert!(indicatif::ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        let pipe = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed");
        assert!(is_broken_pipe(&anyhow::Error::from(pipe).context("printing the report")));
        assert!(!is_broken_pipe(&anyhow::anyhow!("something else")));
    }
}
