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
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
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
    /// TOML file with webhook secrets, the replay window and the identity mapping
    /// (see `ingest::config`); without it webhooks accept only ingest tokens.
    #[arg(long, env = "PAYDOWN_INGEST_CONFIG")]
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
    /// Pay periods: list, close, or set the scheme of a new ledger.
    Periods {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        action: PeriodAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// Pages from a CSV file: `generic` (paydown's documented columns) or `pagerduty`
    /// (PagerDuty's incident export).
    Pages {
        file: std::path::PathBuf,
        #[arg(long, default_value = "generic")]
        format: String,
        /// For PagerDuty exports whose times carry no offset: the zone they are in.
        #[arg(long)]
        time_zone: Option<String>,
        /// A TOML column mapping (`ingest::column_mapping`): the file is a tool's own export,
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
    #[arg(long)]
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
    #[arg(long, env = "PAYDOWN_INGEST_CONFIG")]
    ingest_config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// The payroll file of a period.
    Payroll {
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
        #[arg(long)]
        period: String,
        /// csv or json.
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        output: Option<std::path::PathBuf>,
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
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PeriodAction {
    /// List the periods and their status.
    List,
    /// Post what a period lacks, then close it for good.
    Close { id: String },
    /// Set the scheme (`monthly`, `semi-monthly`, `biweekly:YYYY-MM-DD`) before the first period exists.
    Scheme { scheme: String },
}

/// Who the ledger records for postings made from the command line.
pub const CLI_ACTOR: &str = "cli";

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
        Command::Accrue { database, all } => {
            let store = open(&database.database_url)?;
            let mut conn = store.conn()?;
            if all {
                let people = crate::ledger::mark_everyone(&mut conn).context("journaling everyone")?;
                eprintln!("re-pricing all {people} people");
            }
            let bar = progress_bar(None, "{spinner} accruing: {pos} people priced, {msg} {elapsed}");
            let report = crate::ledger::accrue_with_progress(&mut conn, CLI_ACTOR, crate::http::now(), &mut |done| {
                bar.set_position(u64::try_from(done.people_done).unwrap_or(u64::MAX));
                bar.set_message(format!("{} entries", done.entries_posted));
            })
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
            let bar = progress_bar(Some(0), "{bar:30} verifying {pos}/{len} people {elapsed}");
            let report = crate::ledger::verify_with_progress(&mut conn, &mut |done, total| {
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
            let stamp = crate::storage::Stamp::new(CLI_ACTOR, crate::http::now());
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
                    let bar = progress_bar(size, "{bar:30} {bytes}/{total_bytes}, {msg}, {elapsed} (eta {eta})");
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
                    let rows: Vec<_> = if is_ics {
                        let now = crate::http::now();
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
                        crate::ingest::ics::shifts_from_ics(&text, &options)
                            .map_err(|error| anyhow::anyhow!("line {}: {}", error.line, error.message))?
                    } else {
                        crate::ingest::csv_shifts::shifts_from_csv(text.as_bytes(), &source)
                            .map_err(|error| anyhow::anyhow!("line {}: {}", error.line, error.message))?
                            .collect()
                    };
                    crate::import::import_shifts(&store, rows, &stamp)?
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
            let bar = progress_bar(None, "{spinner} {msg}, {elapsed}");
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
            let report = crate::sync::run(&store, &config.mapping, &spec, crate::http::now(), &mut tick)
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
                ExportWhat::Accruals { period, format, output } => {
                    let format = crate::reports::export::Format::parse(&format).context("--format: csv or json")?;
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
                .unwrap_or_else(crate::http::now);
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
            let stamp = crate::storage::Stamp::new(CLI_ACTOR, crate::http::now());
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
                        writeln!(out, "{secret}").and_then(|()| out.flush()).context("printing the secret")?;
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
                PeriodAction::Close { id } => {
                    let period = crate::ledger::close_period(&mut conn, &id, CLI_ACTOR, crate::http::now())
                        .with_context(|| format!("closing pay period {id}"))?;
                    println!("closed {} ({} .. {})", period.id, period.starts_on, period.ends_on);
                }
                PeriodAction::Scheme { scheme } => {
                    let parsed: crate::domain::period::PeriodScheme = scheme.parse().map_err(anyhow::Error::msg)?;
                    crate::storage::ledger::set_scheme(
                        &mut conn,
                        parsed,
                        &crate::storage::Stamp::new(CLI_ACTOR, crate::http::now()),
                    )
                    .context("setting the scheme")?;
                    println!("pay period scheme: {parsed}");
                }
            }
            Ok(())
        }
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
    let name = export::payroll_file_name(layout, format, &info).map_err(anyhow::Error::msg)?;
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
    let bar = progress_bar(
        Some(u64::try_from(people.len()).unwrap_or(u64::MAX)),
        "{bar:30} {pos}/{len} people, {per_sec}, {elapsed} (eta {eta}) {msg}",
    );
    let inputs = slices.iter().map(|slice| {
        let input = report_input::payroll_input_for(conn, period, Some(slice)).map_err(|error| error.to_string());
        bar.inc(u64::try_from(slice.len()).unwrap_or(0));
        if bar.position() == bar.length().unwrap_or(0) && format == export::Format::Xlsx {
            bar.set_message("zipping the workbook");
        }
        input
    });
    let result = export::stream_payroll::<String, _>(layout, format, inputs, &mut out);
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

fn serve(args: ServeArgs, demo_seed: Option<u64>) -> anyhow::Result<()> {
    let ingest = match &args.ingest_config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            crate::ingest::config::IngestConfig::parse(&text)
                .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
        }
        None => crate::ingest::config::IngestConfig::default(),
    };
    let store = open(&args.database.database_url)?;
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
    let listener = TcpListener::bind(&args.listen).with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    println!(
        "paydown listening on http://{address} ({} database {})",
        store.backend(),
        redact(&args.database.database_url)
    );
    println!("API docs: http://{address}/docs/  OpenAPI: http://{address}/openapi.json");
    if !demo_tokens.is_empty() {
        println!("demo tokens (valid 30 days; send as `Authorization: Bearer <token>`):");
        for (role, scope, secret) in &demo_tokens {
            println!("  {role:<9} {scope:<22} {secret}");
        }
        if let Some((_, _, secret)) = demo_tokens.iter().find(|(role, _, _)| role == "engineer") {
            println!(
                "try: curl -H 'Authorization: Bearer {secret}' 'http://{address}/v1/people/alice/statement?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z'"
            );
        }
    } else {
        let mut conn = store.conn()?;
        if crate::storage::tokens::count(&mut conn)? == 0 {
            println!("no API tokens exist yet: every /v1 request gets 401 until you create the first admin token:");
            println!(
                "  paydown token create --role admin --name \"first admin\" --database-url {}",
                redact(&args.database.database_url)
            );
        }
    }
    tracing::info!(server.address = %address, "paydown listening");
    let state = crate::http::AppState::with_ingest(store, ingest);
    let scheduled = crate::sync::scheduled::spawn(state.store.clone(), state.ingest.clone(), state.sync_jobs.clone());
    if scheduled > 0 {
        println!("scheduled syncs: {scheduled} (GET /v1/sync/status)");
    }
    actix_web::rt::System::new().block_on(async move {
        let server = crate::server::build_with_accrual(state, listener, workers)?;
        server.await
    })?;
    println!("paydown stopped");
    Ok(())
}
