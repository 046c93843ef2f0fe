//! The command line: the global flags, the commands, dispatch and exit codes. Each
//! command lives in its own file under `cli/`, with its flags and a few lines over the
//! library; this file holds what they share.

mod adopt;
mod backup;
mod backups;
mod baseline;
mod deploy;
mod diff;
mod down;
mod fleet;
mod history;
mod init;
mod lint;
mod new;
mod plan;
mod pull;
mod reset;
mod resolve;
mod restore;
mod status;
mod verify;
mod work;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, Overrides};
use crate::error::{Error, exit};
use crate::migrator::{Migrator, RunReport};
use crate::notify::Notifiers;
use crate::report::{self, ProgressPrinter};
use crate::source::{self, Version};
use crate::validate::Validators;

pub use backups::Command as BackupsCommand;
pub use diff::Side as DiffSide;
pub use fleet::FleetArgs;
pub use lint::DialectArg;
pub use plan::Format as PlanFormat;

#[derive(Debug, Parser)]
#[command(
    name = "godwit",
    version,
    about = "Versioned SQL migrations for PostgreSQL, MySQL/MariaDB and SQLite"
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 a migration failed (state recorded), 2 usage or configuration error, \
3 cannot connect or lock not acquired, 4 blocked by safety checks, 5 `status` found pending migrations."
)]
pub struct Cli {
    /// Project directory (where godwit.toml and migrations/ live).
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    pub dir: PathBuf,
    /// Database URL; wins over DATABASE_URL, .env and godwit.toml.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Keep retrying an unreachable database for this many seconds.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub wait: Option<u64>,
    /// How long to wait for another deployer's lock (e.g. 30s, 5min).
    #[arg(long, global = true, value_name = "DURATION", value_parser = config::parse_duration)]
    pub lock_wait: Option<Duration>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write godwit.toml and an empty migrations/ directory.
    Init,
    /// Create a new timestamped migration directory with up.sql and down.sql.
    New(new::Args),
    /// Show every migration's state (exit 0 up to date, 5 pending, 4 problems).
    Status(status::Args),
    /// Apply pending migrations in order.
    Deploy(deploy::Args),
    /// Join a running `godwit deploy` whose backfill runs with workers, from another
    /// process or machine, and take its batches until none is left. With the global
    /// `--wait SECONDS`, wait that long for such a step to start.
    Work(work::Args),
    /// Revert applied migrations with their down.sql (default: the newest one).
    Down(down::Args),
    /// Record how a failed or interrupted migration was fixed by hand.
    Resolve(resolve::Args),
    /// Record every migration up to VERSION as applied without running it
    /// (`--from TOOL` does what `adopt` does).
    Baseline(baseline::Args),
    /// Take over a database another tool migrated: record what its history table says
    /// was applied (Prisma, Drizzle, sqlx, Flyway, goose, dbmate, golang-migrate, diesel, popx).
    Adopt(adopt::Args),
    /// Drop everything in the database and apply all migrations again (development only).
    Reset(reset::Args),
    /// Build the schema in a shadow database, check every down.sql, compare with the
    /// database (exit 0 clean, 4 drift or irreversible, 1 a script failed on the shadow).
    Verify(verify::Args),
    /// Write the migration that turns what the migrations build into the declared schema
    /// (`schema =` in godwit.toml), checked on shadow databases; `--check` only compares
    /// (exit 0 same, 4 different).
    Diff(diff::Args),
    /// Write the database's schema as DDL for its dialect: deterministic, sorted and
    /// normalised as verify compares it (stdout, or schema.sql in --out DIR).
    Pull(pull::Args),
    /// Back up the whole database now (history table included); prints the backup's ID.
    Backup(backup::Args),
    /// List whole-database backups (ID, age, size, why) and the copies of dropped data
    /// kept in the database; `backups prune` drops the ones no longer wanted.
    Backups(backups::Args),
    /// Put the database back as backup ID left it, history table included.
    Restore(restore::Args),
    /// Dry run against the database: each pending statement's lock, risk, lint findings
    /// and live counts of the data at stake. Reads only.
    Plan(plan::Args),
    /// Static safety checks of migration files; needs no database (exit 4 on an error).
    Lint(lint::Args),
    /// WebAssembly plugins: look inside one, check it against this godwit, run it on
    /// sample data, or scaffold a new one.
    Plugin {
        #[command(subcommand)]
        command: crate::plugin_cli::PluginCommand,
    },
    /// Past runs, or with --stats: success rate, mean duration, rollbacks.
    History(history::Args),
}

/// Parses the process arguments, runs, prints, and returns the exit code.
pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let json = cli.json;
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            let message = config::redact(&err.to_string());
            // Scripts reading --json get the error on stdout too, with the exit code.
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "error": message, "exit_code": err.exit_code() })
                );
            }
            eprintln!("error: {message}");
            err.exit_code()
        }
    };
    // The command ran to its end; its output did not all arrive. Say so, and do not
    // report success to a script that got a truncated file.
    match crate::output::output_failed() {
        Some(err) => {
            eprintln!("error: the output could not be written ({err}): it is incomplete");
            if code == exit::OK { exit::USAGE } else { code }
        }
        None => code,
    }
}

/// A version as given on the command line. diesel's directory prefix
/// (`2026-07-15-181652-0000`) is taken as the digits diesel records for it
/// (`202607151816520000`).
fn version(text: &str) -> Result<Version, Error> {
    let undashed = text.replace('-', "");
    Version::parse_recorded(text)
        .or_else(|| (text.contains('-') && !undashed.is_empty()).then(|| Version::parse(&undashed)).flatten())
        .ok_or_else(|| Error::Config(format!(
            "`{text}` is not a version: use the digits before the first `_` of a migration directory (`godwit status` lists every version)"
        )))
}

pub async fn run(cli: Cli) -> Result<u8, Error> {
    let json = cli.json;
    let overrides = Overrides {
        database_url: cli.database_url.clone(),
        wait: cli.wait.map(Duration::from_secs),
        lock_wait: cli.lock_wait,
    };
    if let Command::Plugin { command } = cli.command {
        // Plugin calls block on a runtime of wasmtime-wasi's own: keep them off this thread.
        let dir = cli.dir;
        return tokio::task::spawn_blocking(move || {
            crate::plugin_cli::run(command, &dir, &overrides, json)
        })
        .await
        .map_err(|e| Error::Io(format!("the plugin command stopped: {e}")))?;
    }
    // The commands that need no configured database first.
    match &cli.command {
        Command::Init => return init::run(&cli.dir),
        Command::New(args) => return new::run(&cli.dir, args),
        Command::Lint(args) => return lint::run(&cli, args).await,
        Command::Deploy(
            args @ deploy::Args {
                fleet:
                    FleetArgs {
                        targets: Some(file),
                        ..
                    },
                ..
            },
        ) => return deploy::fleet(&cli, args, file).await,
        Command::Status(
            args @ status::Args {
                fleet:
                    FleetArgs {
                        targets: Some(file),
                        ..
                    },
            },
        ) => return status::fleet(&cli, args, file).await,
        _ => {}
    }
    let config = Config::load(&cli.dir, &overrides)?;
    match &cli.command {
        Command::Backups(args) => return backups::run(&config, args, json).await,
        Command::Reset(args) => reset::allowed(&config, args)?,
        _ => {}
    }
    let config = unless_missing(&cli.command, config)?;
    // Read the files before connecting: a malformed migration is reported even when the
    // database is down.
    // Backup and restore never read them: a broken file must not stand in their way.
    let migrations = if matches!(
        cli.command,
        Command::Backup(_) | Command::Restore(_) | Command::Pull(_)
    ) {
        None
    } else {
        Some(source::read(
            &config.migrations_dir,
            &config.layout(),
            config.target.dialect,
        )?)
    };
    // Plugins load (and are checked against their pins) before the database is touched.
    let runs = matches!(
        cli.command,
        Command::Deploy(_)
            | Command::Down(_)
            | Command::Reset(_)
            | Command::Resolve(_)
            | Command::Restore(_)
    );
    let validates = matches!(
        cli.command,
        Command::Deploy(_) | Command::Reset(_) | Command::Plan(_)
    );
    let (notifiers, validators) =
        if (runs || validates) && config.file.plugins.values().any(|p| p.enabled) {
            let (runtime, entries) = crate::validate::load_enabled(&config)?;
            let (notifying, validating): (Vec<_>, Vec<_>) = entries
                .into_iter()
                .partition(|e| e.plugin.world() == Some(crate::plugin::World::Notifier));
            (
                if runs {
                    Notifiers::from_entries(std::sync::Arc::clone(&runtime), notifying)
                } else {
                    Notifiers::none()
                },
                validates
                    .then(|| Validators::from_entries(runtime, validating, config.target.dialect))
                    .flatten(),
            )
        } else {
            (Notifiers::none(), None)
        };
    let mut migrator = Migrator::connect(&config).await?;
    if let Some(migrations) = &migrations {
        migrator.use_sources(migrations.clone());
    }
    let sender = notifiers.sender();
    if json {
        // stdout keeps the one final document; the events stream on stderr, a line each.
        migrator.observe(move |e| {
            if let Ok(line) = serde_json::to_string(e) {
                eprintln!("{line}");
            }
            sender.send(e);
        });
    } else {
        let mut progress = ProgressPrinter::default();
        migrator.observe(move |e| {
            progress.event(e);
            sender.send(e);
        });
    }
    let migrations = migrations.unwrap_or_default();
    let result = connected(cli, &config, &migrations, migrator, validators).await;
    for warning in notifiers.finish() {
        eprintln!("warning: {}", config::redact(&warning));
    }
    result
}

/// What a command does with a SQLite file that does not exist yet. Opening one creates
/// it, which only the commands that write may do: a mistyped path would otherwise leave
/// an empty database behind and be reported as one. The commands that report read it as
/// the empty database it stands for (`status` before the first deploy shows every
/// migration pending, `pull` an empty schema, `down` nothing to revert), and say so;
/// `backup`, `adopt` and `work`, which need a database that is there, refuse.
fn unless_missing(command: &Command, config: Config) -> Result<Config, Error> {
    let Some(path) = config.target.missing_sqlite_file() else {
        return Ok(config);
    };
    let refuse = |command| {
        Err(Error::SqliteFileMissing {
            path: path.clone(),
            target: config.target.display.clone(),
            command,
        })
    };
    match command {
        Command::Status(_)
        | Command::Plan(_)
        | Command::History(_)
        | Command::Verify(_)
        | Command::Diff(_)
        | Command::Pull(_)
        | Command::Down(_) => {
            eprintln!(
                "note: {} does not exist yet: read as an empty database; `godwit deploy` creates it",
                path.display()
            );
            let empty = config.target.as_empty();
            Ok(config.with_target(empty))
        }
        Command::Backup(_) => refuse("backup"),
        Command::Adopt(_) => refuse("adopt"),
        Command::Work(_) => refuse("work"),
        _ => Ok(config),
    }
}

/// The commands that talk to the database, once it is connected.
async fn connected(
    cli: Cli,
    config: &Config,
    migrations: &[source::Migration],
    mut migrator: Migrator,
    mut validators: Option<Validators>,
) -> Result<u8, Error> {
    let json = cli.json;
    if matches!(cli.command, Command::Deploy(_) | Command::Reset(_))
        && let Some(validators) = validators.take()
    {
        migrator.validate_with(validators);
    }
    let migrator = &mut migrator;
    match cli.command {
        Command::Init
        | Command::New(_)
        | Command::Backups(_)
        | Command::Lint(_)
        | Command::Plugin { .. } => {
            unreachable!("handled before connecting")
        }
        Command::Backup(args) => backup::run(migrator, config, &args, json).await,
        Command::Restore(args) => restore::run(migrator, config, &args, json).await,
        Command::Plan(args) => plan::run(migrator, validators.as_ref(), &args, json).await,
        Command::Status(_) => status::run(migrator, config, migrations, json).await,
        Command::Deploy(args) => deploy::run(migrator, config, &args, json).await,
        Command::Work(args) => work::run(migrator, config, &args, json).await,
        Command::Down(args) => down::run(migrator, &args, json).await,
        Command::Resolve(args) => resolve::run(migrator, &args, json).await,
        Command::Adopt(args) => adopt::run(migrator, &args, json).await,
        Command::Baseline(args) => baseline::run(migrator, &args, json).await,
        Command::Reset(_) => reset::run(migrator, config, json).await,
        Command::Verify(args) => verify::run(migrator, args, json).await,
        Command::Pull(args) => pull::run(migrator, config, &args, json).await,
        Command::Diff(args) => diff::run(migrator, args, json).await,
        Command::History(args) => history::run(migrator, &args, json).await,
    }
}

/// A command's result: pretty JSON, or its text.
fn print_report(json: bool, report: &impl serde::Serialize, text: impl FnOnce() -> String) {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(report).expect("serializable")
        );
    } else {
        outln!("{}", text());
    }
}

/// A run of migrations (deploy, down): pretty JSON, or its summary with `verb`.
fn print_run(report: &RunReport, verb: &str, json: bool) {
    print_report(json, report, || report::run_summary(report, verb));
}

fn print_message(message: &str, json: bool) {
    if json {
        outln!("{}", serde_json::json!({ "message": message }));
    } else {
        outln!("{message}");
    }
}

/// `--workers N`: a whole number from 1 to [`godwit_core::step::MAX_WORKERS`].
fn workers_arg(text: &str) -> Result<u32, String> {
    let max = godwit_core::step::MAX_WORKERS;
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a worker count: give a whole number from 1 to {max} (how many connections run a backfill's batches at once)"
        )),
    }
}
