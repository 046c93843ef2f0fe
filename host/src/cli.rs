//! The command line: flags, dispatch, and exit codes. Each command is a few lines over
//! the library.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::backup;
use crate::config::{self, Config, FileConfig, Overrides};
use crate::error::{Error, Refusal, exit};
use crate::findings_report::{self, Format, Summary};
use crate::history;
use crate::migrator::{DeployOptions, DownTarget, Migrator, Resolve};
use crate::notify::Notifiers;
use crate::report::{self, Progress};
use crate::source::{self, Version};
use crate::validate::Validators;
use crate::verify::{self, VerifyOptions};
use crate::{Dialect, lint as checks};

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
    New {
        /// What the migration does, e.g. add_users_email_index.
        name: Vec<String>,
        /// Make it a plugin step run by this [plugins.NAME] of godwit.toml (a step.toml
        /// instead of up.sql).
        #[arg(long, value_name = "PLUGIN")]
        step: Option<String>,
    },
    /// Show every migration's state (exit 0 up to date, 5 pending, 4 problems).
    Status {
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Apply pending migrations in order.
    Deploy {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Apply pending migrations older than the newest applied one.
        #[arg(long)]
        allow_out_of_order: bool,
        /// If a migration fails, restore the backup taken before the run (taken even
        /// with `[backup] policy = "never"`): for migrations a transaction cannot undo.
        #[arg(long)]
        restore_on_failure: bool,
        /// Apply the migrations although another tool's history table (Prisma's, diesel's,
        /// ...) says it migrated this database and godwit's history is empty; without it,
        /// deploy refuses and points to `godwit adopt`.
        #[arg(long)]
        ignore_other_history: bool,
        /// Run each backfill's batches on N connections at once (1 to 64), instead of its
        /// step.toml's `[batch] workers`. Other processes can help with `godwit work`.
        #[arg(long, value_name = "N", value_parser = workers_arg)]
        workers: Option<u32>,
        #[command(flatten)]
        fleet: FleetArgs,
        /// With --targets: deploy the first K targets first, and the rest only if every
        /// one of those succeeded (else the rest are skipped).
        #[arg(long, value_name = "K", requires = "targets", value_parser = clap::value_parser!(u64).range(1..))]
        canary: Option<u64>,
    },
    /// Join a running `godwit deploy` whose backfill runs with workers, from another
    /// process or machine, and take its batches until none is left. With the global
    /// `--wait SECONDS`, wait that long for such a step to start.
    Work {
        /// Connections taking batches at once in this process (1 to 64).
        #[arg(long, value_name = "N", value_parser = workers_arg, default_value = "1")]
        workers: u32,
    },
    /// Revert applied migrations with their down.sql (default: the newest one).
    Down {
        /// Revert everything newer than this version.
        #[arg(long, value_name = "VERSION", conflicts_with = "steps")]
        to: Option<String>,
        /// How many migrations to revert.
        #[arg(long, value_name = "N")]
        steps: Option<usize>,
    },
    /// Record how a failed or interrupted migration was fixed by hand.
    Resolve(ResolveArgs),
    /// Record every migration up to VERSION as applied without running it
    /// (`--from TOOL` does what `adopt` does).
    Baseline {
        #[arg(required_unless_present = "from")]
        version: Option<String>,
        #[arg(long, value_name = "TOOL", conflicts_with = "version")]
        from: Option<crate::adopt::Tool>,
    },
    /// Take over a database another tool migrated: record what its history table says
    /// was applied (Prisma, Drizzle, sqlx, Flyway, goose, dbmate, golang-migrate).
    Adopt {
        /// Which tool's table to read, when the database has more than one.
        #[arg(long, value_name = "TOOL")]
        from: Option<crate::adopt::Tool>,
    },
    /// Drop everything in the database and apply all migrations again (development only).
    Reset {
        /// Allow reset outside `environment = "development"`.
        #[arg(long)]
        force: bool,
    },
    /// Build the schema in a shadow database, check every down.sql, compare with the
    /// database (exit 0 clean, 4 drift or irreversible, 1 a script failed on the shadow).
    Verify {
        /// An empty database to use as the shadow instead of creating one (wins over
        /// shadow_url in godwit.toml).
        #[arg(long, value_name = "URL")]
        shadow_url: Option<String>,
        /// Leave the shadow database in place for inspection.
        #[arg(long)]
        keep_shadow: bool,
        /// Do not run any down.sql: apply the migrations and compare with the database.
        #[arg(long, conflicts_with = "down_all")]
        skip_down: bool,
        /// Check the down.sql files as a whole: apply every migration, then revert them all
        /// from the newest, and compare with the schema before them (for histories whose
        /// down files undo their group rather than each its own up).
        #[arg(long)]
        down_all: bool,
    },
    /// Write the migration that turns what the migrations build into the declared schema
    /// (`schema =` in godwit.toml), checked on shadow databases; `--check` only compares
    /// (exit 0 same, 4 different).
    Diff {
        /// The new migration's name (later ones it needs get `_indexes`, `_validate`).
        #[arg(required_unless_present_any = ["check", "from"], conflicts_with = "check")]
        name: Option<String>,
        /// Compare only: exit 0 when the migrations build the declared schema, 4 if not.
        #[arg(long)]
        check: bool,
        /// Print the migrations instead of writing them.
        #[arg(long)]
        dry_run: bool,
        /// Write changes that lose data (drop a table or column, narrow a type).
        #[arg(long)]
        allow_destructive: bool,
        /// A rename: OLD=NEW for a table, TABLE.OLD=NEW for a column (repeatable).
        #[arg(long, value_name = "OLD=NEW")]
        rename: Vec<String>,
        /// OLD (a table, or TABLE.COLUMN) was dropped, not renamed (repeatable).
        #[arg(long, value_name = "OLD")]
        no_rename: Vec<String>,
        /// With `--to migrations`: print the SQL that brings the database back to what
        /// the migrations build (drift repair).
        #[arg(long, value_enum, requires = "to", conflicts_with_all = ["check", "name"])]
        from: Option<DiffSide>,
        #[arg(long, value_enum, requires = "from")]
        to: Option<DiffSide>,
        /// An empty database to use as the shadow (one after the other) instead of
        /// creating them; wins over shadow_url in godwit.toml.
        #[arg(long, value_name = "URL")]
        shadow_url: Option<String>,
    },
    /// Write the database's schema as DDL for its dialect: deterministic, sorted and
    /// normalised as verify compares it (stdout, or schema.sql in --out DIR).
    Pull {
        /// Write DIR/schema.sql (DIR relative to the project directory) instead of stdout.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Back up the whole database now (history table included); prints the backup's ID.
    Backup {
        /// Why, recorded with the backup (default "manual").
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List whole-database backups (ID, age, size, why) and the copies of dropped data
    /// kept in the database; `backups prune` drops the ones no longer wanted.
    Backups {
        #[command(subcommand)]
        command: Option<BackupsCommand>,
    },
    /// Put the database back as backup ID left it, history table included.
    Restore {
        /// The backup's ID, as `godwit backups` lists it.
        id: String,
        /// Restore a backup taken from another database into this one.
        #[arg(long)]
        force: bool,
    },
    /// Dry run against the database: each pending statement's lock, risk, lint findings
    /// and live counts of the data at stake. Reads only.
    Plan {
        /// human (default), json, or markdown (for a pull-request comment).
        #[arg(long, value_enum)]
        format: Option<PlanFormat>,
    },
    /// Static safety checks of migration files; needs no database (exit 4 on an error).
    Lint {
        /// Migration directories or migrations folders, relative to the project directory
        /// (default: the project's migrations directory).
        paths: Vec<PathBuf>,
        /// Output format (default human, or json with --json).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// The SQL dialect to check for (default: the configured database URL's, else
        /// postgres).
        #[arg(long, value_enum)]
        dialect: Option<DialectArg>,
    },
    /// WebAssembly plugins: look inside one, check it against this godwit, run it on
    /// sample data, or scaffold a new one.
    Plugin {
        #[command(subcommand)]
        command: crate::plugin_cli::PluginCommand,
    },
    /// Past runs, or with --stats: success rate, mean duration, rollbacks.
    History {
        #[arg(long)]
        stats: bool,
        /// Show only the newest N rows.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

/// `--targets FILE` and `--parallel N`: the command on every database the file lists.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Run on every database listed in FILE (one `[NAME] URL` or `[NAME] env(VARIABLE)` a
    /// line, `#` comments; see docs/fleet.md) instead of the configured one. The path is
    /// relative to the project directory.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// With --targets: how many targets to work on at once.
    #[arg(long, value_name = "N", requires = "targets", value_parser = clap::value_parser!(u64).range(1..))]
    pub parallel: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// Drop copies of dropped data (`--copies`) or delete whole-database backup files
    /// (`--files`) that are no longer wanted.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Drop copies of dropped tables and columns kept in the database (`godwit down`
    /// can no longer put their data back).
    #[arg(long)]
    copies: bool,
    /// Delete whole-database backup files and their sidecars.
    #[arg(long)]
    files: bool,
    /// Only those made longer ago than this, e.g. 30d, 12h.
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    older_than: Option<Duration>,
    /// Only the copies made by this migration's deploy.
    #[arg(
        long,
        value_name = "VERSION",
        requires = "copies",
        conflicts_with = "files"
    )]
    version: Option<String>,
    /// Everything of the chosen kind.
    #[arg(long, conflicts_with_all = ["older_than", "version"])]
    all: bool,
    /// Say what would go; change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The two sides `godwit diff --from … --to …` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffSide {
    /// The live database.
    Database,
    /// What the migrations build on a shadow.
    Migrations,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

/// `--dialect` values, with the URL schemes people already know as aliases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectArg {
    #[value(alias = "postgresql", alias = "pg")]
    Postgres,
    #[value(alias = "mariadb")]
    Mysql,
    #[value(alias = "sqlite3")]
    Sqlite,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Dialect {
        match d {
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Mysql => Dialect::MySql,
            DialectArg::Sqlite => Dialect::Sqlite,
        }
    }
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ResolveArgs {
    /// The migration is fully in effect (finished by hand).
    #[arg(long, value_name = "VERSION")]
    applied: Option<String>,
    /// Nothing of it is in effect; the next deploy applies it from the start.
    #[arg(long, value_name = "VERSION")]
    rolled_back: Option<String>,
    /// The failed statement was dealt with by hand; deploy continues with the next one.
    #[arg(long = "continue", value_name = "VERSION")]
    continue_: Option<String>,
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            let message = config::redact(&err.to_string());
            // Scripts reading --json get the error on stdout too, with the exit code.
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": message, "exit_code": err.exit_code() })
                );
            }
            eprintln!("error: {message}");
            err.exit_code()
        }
    }
}

fn version(text: &str) -> Result<Version, Error> {
    Version::parse(text).ok_or_else(|| Error::Config(format!("`{text}` is not a version: use the digits before the first `_` of a migration directory")))
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
    match &cli.command {
        Command::Init => return init(&cli.dir),
        Command::New { name, step } => {
            return new_migration(&cli.dir, &name.join("_"), step.as_deref());
        }
        Command::Lint {
            paths,
            format,
            dialect,
        } => return lint(&cli, paths, *format, *dialect).await,
        _ => {}
    }
    match &cli.command {
        Command::Deploy {
            fleet:
                FleetArgs {
                    targets: Some(file),
                    parallel,
                },
            canary,
            to,
            allow_out_of_order,
            restore_on_failure,
            ignore_other_history,
            workers,
        } => {
            let options = DeployOptions {
                to: to.as_deref().map(version).transpose()?,
                allow_out_of_order: *allow_out_of_order,
                restore_on_failure: *restore_on_failure,
                ignore_other_history: *ignore_other_history,
                workers: *workers,
            };
            let fleet = read_fleet(&cli, file)?;
            let run = fleet_run(*parallel, canary.map(|k| k as usize), json);
            let report = crate::fleet::deploy(&fleet, &options, run).await?;
            print_report(json, &report, || report::fleet(&report));
            return Ok(report.exit_code);
        }
        Command::Status {
            fleet:
                FleetArgs {
                    targets: Some(file),
                    parallel,
                },
        } => {
            let fleet = read_fleet(&cli, file)?;
            let report = crate::fleet::status(&fleet, fleet_run(*parallel, None, json)).await?;
            print_report(json, &report, || report::fleet(&report));
            return Ok(report.exit_code);
        }
        _ => {}
    }
    let config = Config::load(&cli.dir, &overrides)?;
    if let Command::Backups { command } = &cli.command {
        return backups(&config, command.as_ref(), json).await;
    }
    if matches!(cli.command, Command::Reset { force: false }) && !config.is_development() {
        return Err(Error::blocked(
            Refusal::NotApplicable,
            format!(
                "reset drops everything in {} and is only allowed when godwit.toml says environment = \"development\"; pass --force if you really mean it",
                config.target.display
            ),
        ));
    }
    // Read the files before connecting: a malformed migration is reported even when the
    // database is down.
    // Backup and restore never read them: a broken file must not stand in their way.
    let migrations = if matches!(
        cli.command,
        Command::Backup { .. } | Command::Restore { .. } | Command::Pull { .. }
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
        Command::Deploy { .. }
            | Command::Down { .. }
            | Command::Reset { .. }
            | Command::Resolve(_)
            | Command::Restore { .. }
    );
    let validates = matches!(
        cli.command,
        Command::Deploy { .. } | Command::Reset { .. } | Command::Plan { .. }
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
        let mut progress = Progress::default();
        migrator.observe(move |e| {
            progress.event(e);
            sender.send(e);
        });
    }
    let migrations = migrations.unwrap_or_default();
    let result = command(cli, &config, &migrations, migrator, validators).await;
    for warning in notifiers.finish() {
        eprintln!("warning: {}", config::redact(&warning));
    }
    result
}

/// The commands that talk to the database, once it is connected.
async fn command(
    cli: Cli,
    config: &Config,
    migrations: &[source::Migration],
    mut migrator: Migrator,
    mut validators: Option<Validators>,
) -> Result<u8, Error> {
    let json = cli.json;
    if matches!(cli.command, Command::Deploy { .. } | Command::Reset { .. })
        && let Some(validators) = validators.take()
    {
        migrator.validate_with(validators);
    }
    match cli.command {
        Command::Init
        | Command::New { .. }
        | Command::Backups { .. }
        | Command::Lint { .. }
        | Command::Plugin { .. } => {
            unreachable!("handled above")
        }
        Command::Backup { reason } => {
            let meta = migrator
                .backup(reason.as_deref().unwrap_or("manual"))
                .await?;
            let path = backup::dir(config).join(&meta.file);
            if json {
                println!("{}", serde_json::json!({ "backup": meta, "path": path }));
            } else {
                println!(
                    "Backup {} ({}) written to {}\n  taken with {}; it includes the history table ({} migration{} applied).\n  Restore it with `godwit restore {}`.",
                    meta.id,
                    report::bytes(meta.size),
                    path.display(),
                    meta.tool,
                    meta.applied.len(),
                    if meta.applied.len() == 1 { "" } else { "s" },
                    meta.id
                );
            }
            Ok(exit::OK)
        }
        Command::Restore { id, force } => {
            let meta = migrator.restore(&id, force).await?;
            if json {
                println!("{}", serde_json::json!({ "restored": meta }));
            } else {
                println!(
                    "Restored {} from backup {} (taken {}, {}).\n  The history table was restored too: it records the {} migration{} applied then{}; `godwit status` shows the rest as pending.",
                    config.target.display,
                    meta.id,
                    meta.created_at,
                    meta.reason,
                    meta.applied.len(),
                    if meta.applied.len() == 1 { "" } else { "s" },
                    meta.applied
                        .last()
                        .map(|v| format!(" (newest {v})"))
                        .unwrap_or_default()
                );
            }
            Ok(exit::OK)
        }
        Command::Plan { format } => {
            let plan = crate::plan::plan(&mut migrator, validators.as_ref()).await?;
            let format = format.unwrap_or(if json {
                PlanFormat::Json
            } else {
                PlanFormat::Human
            });
            match format {
                PlanFormat::Human => println!("{}", crate::plan::human(&plan)),
                PlanFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&plan).expect("serializable")
                ),
                PlanFormat::Markdown => println!("{}", crate::plan::markdown(&plan)),
            }
            Ok(exit::OK)
        }
        Command::Status { .. } => {
            let rows = migrator.history().await?;
            let copies = migrator.copies().await?;
            let entries = history::entries(migrations, &rows);
            let others = migrator.unadopted_histories().await?;
            let status = report::status(&entries, &config.target.display, &copies, json);
            if json {
                let mut doc: serde_json::Value =
                    serde_json::from_str(&status).expect("status JSON");
                doc["other_history"] = serde_json::json!(others);
                doc["checker_only"] = serde_json::json!(crate::driver::checker_only(config));
                println!(
                    "{}",
                    serde_json::to_string_pretty(&doc).expect("serializable")
                );
            } else {
                println!("{status}");
                let checker_only = crate::driver::checker_only(config);
                if !checker_only.is_empty() {
                    print!("\n{}", crate::driver::checker_only_text(&checker_only));
                }
                if !others.is_empty() {
                    println!("\n{}", crate::adopt::unadopted_note(&others));
                }
            }
            let summary = report::summarize(&entries);
            Ok(crate::fleet::status_code(&summary, !others.is_empty()))
        }
        Command::Deploy {
            to,
            allow_out_of_order,
            restore_on_failure,
            ignore_other_history,
            workers,
            ..
        } => {
            let options = DeployOptions {
                to: to.as_deref().map(version).transpose()?,
                allow_out_of_order,
                restore_on_failure,
                ignore_other_history,
                workers,
            };
            let checker_only = crate::driver::checker_only(config);
            if !json {
                print!("{}", crate::driver::checker_only_text(&checker_only));
            }
            let report = migrator.deploy(&options).await?;
            if json && !checker_only.is_empty() {
                let mut doc = serde_json::to_value(&report).expect("serializable");
                doc["checker_only"] = serde_json::json!(checker_only);
                println!(
                    "{}",
                    serde_json::to_string_pretty(&doc).expect("serializable")
                );
            } else {
                print_run(&report, "applied", json);
            }
            Ok(exit::OK)
        }
        Command::Work { workers } => {
            let report = migrator.work(workers, config.wait).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("serializable")
                );
            } else {
                println!(
                    "step {}_{}: this process took {} batch{} ({} row{}) on {} connection{}; {} of its {} batches are done",
                    report.version,
                    report.name,
                    report.batches,
                    if report.batches == 1 { "" } else { "es" },
                    report.rows,
                    if report.rows == 1 { "" } else { "s" },
                    report.workers,
                    if report.workers == 1 { "" } else { "s" },
                    report.step_batches_done,
                    report.step_batches
                );
            }
            Ok(exit::OK)
        }
        Command::Down { to, steps } => {
            let target = match (to, steps) {
                (Some(v), _) => DownTarget::To(version(&v)?),
                (None, n) => DownTarget::Steps(n.unwrap_or(1)),
            };
            let report = migrator.down(&target).await?;
            print_run(&report, "reverted", json);
            Ok(exit::OK)
        }
        Command::Resolve(args) => {
            let (v, action) = match (args.applied, args.rolled_back, args.continue_) {
                (Some(v), _, _) => (v, Resolve::Applied),
                (_, Some(v), _) => (v, Resolve::RolledBack),
                (_, _, Some(v)) => (v, Resolve::Continue),
                _ => unreachable!("clap requires one"),
            };
            let message = migrator.resolve(&version(&v)?, action).await?;
            print_message(&message, json);
            Ok(exit::OK)
        }
        Command::Adopt { from }
        | Command::Baseline {
            version: None,
            from,
        } => {
            let report = migrator.adopt(from).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("serializable")
                );
            } else {
                println!("{}", crate::adopt::human(&report));
            }
            Ok(if report.failed.is_empty() {
                exit::OK
            } else {
                exit::BLOCKED
            })
        }
        Command::Baseline {
            version: Some(v), ..
        } => {
            let recorded = migrator.baseline(&version(&v)?).await?;
            if json {
                println!("{}", serde_json::json!({ "baselined": recorded }));
            } else if recorded.is_empty() {
                println!("Nothing to baseline: no pending migration at or below {v}.");
            } else {
                println!(
                    "Recorded {} migration(s) as applied without running them:\n  {}",
                    recorded.len(),
                    recorded.join("\n  ")
                );
            }
            Ok(exit::OK)
        }
        Command::Reset { .. } => {
            // Reset ends in a deploy: the same notice as `deploy`.
            let checker_only = crate::driver::checker_only(config);
            if !json {
                print!("{}", crate::driver::checker_only_text(&checker_only));
            }
            let (dropped, report) = migrator.reset().await?;
            if json {
                let mut doc = serde_json::json!({ "dropped": dropped, "deploy": report });
                if !checker_only.is_empty() {
                    doc["checker_only"] = serde_json::json!(checker_only);
                }
                println!("{doc}");
            } else {
                println!("{}", report::run_summary(&report, "applied"));
                println!(
                    "(dropped first: {})",
                    if dropped.is_empty() {
                        "nothing".into()
                    } else {
                        dropped.join(", ")
                    }
                );
            }
            Ok(exit::OK)
        }
        Command::Verify {
            shadow_url,
            keep_shadow,
            skip_down,
            down_all,
        } => {
            let options = VerifyOptions {
                shadow_url,
                keep_shadow,
                down: if skip_down {
                    verify::DownCheck::Skip
                } else if down_all {
                    verify::DownCheck::All
                } else {
                    verify::DownCheck::Each
                },
            };
            let report = verify::verify(&mut migrator, &options, &mut |step| {
                if json {
                    return;
                }
                match step {
                    verify::Progress::ShadowReady(shadow) => println!("{}", shadow.describe()),
                    verify::Progress::Checked(check) => println!("  {}", check.line()),
                    verify::Progress::Step(step) => println!("  {step}"),
                }
            })
            .await?;
            print_report(json, &report, || report.text());
            Ok(report.exit_code())
        }
        Command::Pull { out } => pull(config, &mut migrator, out.as_deref(), json).await,
        Command::Diff {
            name,
            check,
            dry_run,
            allow_destructive,
            rename,
            no_rename,
            from,
            to,
            shadow_url,
        } => {
            if check {
                let report = crate::diff::check(&mut migrator, shadow_url.as_deref()).await?;
                print_report(json, &report, || report.text());
                return Ok(report.exit_code());
            }
            let from_database = match (from, to) {
                (Some(DiffSide::Database), Some(DiffSide::Migrations)) => true,
                (None, None) => false,
                _ => {
                    return Err(Error::Config(
                        "godwit diff knows `--from database --to migrations` (the SQL that brings a drifted \
                         database back to the migrations); for the declared schema, give a NAME"
                            .into(),
                    ));
                }
            };
            let name = match name {
                Some(raw) => migration_name(&raw)?,
                None => "repair_drift".into(),
            };
            let options = crate::diff::GenerateOptions {
                name,
                dry_run,
                allow_destructive,
                rename,
                no_rename,
                from_database,
            };
            let report =
                crate::diff::generate_migrations(&mut migrator, shadow_url.as_deref(), &options)
                    .await?;
            print_report(json, &report, || report.text());
            Ok(exit::OK)
        }
        Command::History { stats, limit } => {
            let rows = migrator.history().await?;
            let shown = &rows[rows.len().saturating_sub(limit.unwrap_or(usize::MAX))..];
            if stats {
                let s = report::stats(&rows);
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&s).expect("serializable")
                    );
                } else {
                    println!("{}", report::stats_text(&s));
                }
            } else {
                println!("{}", report::history(shown, json));
            }
            Ok(exit::OK)
        }
    }
}

/// The targets file of `--targets`; `--database-url` names one database, so the two
/// together are refused rather than one silently ignored.
fn read_fleet(cli: &Cli, file: &Path) -> Result<crate::fleet::Fleet, Error> {
    if cli.database_url.is_some() {
        return Err(Error::Config(
            "--database-url and --targets both say which databases to use; give one of them (list every database in the targets file)".into(),
        ));
    }
    let overrides = Overrides {
        database_url: None,
        wait: cli.wait.map(Duration::from_secs),
        lock_wait: cli.lock_wait,
    };
    crate::fleet::Fleet::read(&cli.dir, file, &overrides)
}

fn fleet_run(parallel: Option<u64>, canary: Option<usize>, json: bool) -> crate::fleet::Run {
    crate::fleet::Run {
        parallel: parallel.map_or(crate::fleet::DEFAULT_PARALLEL, |n| n as usize),
        canary,
        json,
    }
}

/// A command's result: pretty JSON, or its text.
fn print_report(json: bool, report: &impl serde::Serialize, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("serializable")
        );
    } else {
        println!("{}", text());
    }
}

/// `godwit pull`: the schema as DDL, on stdout or in `DIR/schema.sql`.
async fn pull(
    config: &Config,
    migrator: &mut Migrator,
    out: Option<&Path>,
    json: bool,
) -> Result<u8, Error> {
    let driver = migrator.driver();
    let schema = driver.introspect().await?;
    let definitions = driver.definitions().await?;
    let text = crate::schema::ddl::render(&schema, &definitions, config.target.dialect);
    let Some(dir) = out else {
        if json {
            println!("{}", serde_json::json!({ "sql": text }));
        } else {
            print!("{text}");
        }
        return Ok(exit::OK);
    };
    let dir = config.project_dir.join(dir);
    let path = dir.join(crate::schema::ddl::FILE_NAME);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, &text))
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
    let counts = [
        (schema.tables.len(), "table"),
        (schema.views.len(), "view"),
        (schema.sequences.len(), "sequence"),
        (schema.enums.len(), "type"),
        (schema.routines.len(), "routine"),
        (schema.triggers.len(), "trigger"),
    ];
    if json {
        println!(
            "{}",
            serde_json::json!({
                "path": path.display().to_string(),
                "objects": counts.iter().map(|(n, kind)| (kind.to_string(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            })
        );
    } else {
        let listed: Vec<String> = counts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, kind)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
            .collect();
        println!(
            "Wrote {} ({}) from {}.",
            path.display(),
            if listed.is_empty() {
                "an empty schema".to_string()
            } else {
                listed.join(", ")
            },
            config.target.display
        );
    }
    Ok(exit::OK)
}

/// `godwit backups [prune]`. Listing the files needs no database; the copies of
/// dropped data are listed too when the database answers.
async fn backups(
    config: &Config,
    command: Option<&BackupsCommand>,
    json: bool,
) -> Result<u8, Error> {
    let dir = backup::dir(config);
    let Some(BackupsCommand::Prune(args)) = command else {
        let copies = if sqlite_file_missing(config) {
            Ok(backup::copy::Listing::default())
        } else {
            match Migrator::connect(config).await {
                Ok(mut migrator) => Ok(migrator.copies().await?),
                Err(Error::Connect(message)) => Err(message),
                Err(other) => return Err(other),
            }
        };
        println!(
            "{}",
            report::backups(&backup::list(&dir)?, &dir, &copies, json)
        );
        return Ok(exit::OK);
    };
    if !args.copies && !args.files {
        return Err(Error::Config(
            "say what to prune: --copies (copies of dropped data in the database), --files (whole-database backup files), or both".into(),
        ));
    }
    if !args.all && args.older_than.is_none() && args.version.is_none() {
        return Err(Error::Config(
            "say which to prune: --older-than DURATION, --version VERSION (copies only), or --all"
                .into(),
        ));
    }
    let files = if args.files {
        backup::prune_files(&dir, args.older_than, args.dry_run)?
    } else {
        Vec::new()
    };
    let copies = if args.copies && !sqlite_file_missing(config) {
        let which = backup::copy::Prune {
            older_than: args.older_than,
            version: args.version.clone(),
            dry_run: args.dry_run,
        };
        Migrator::connect(config)
            .await?
            .prune_copies(&which)
            .await?
    } else {
        Vec::new()
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "dry_run": args.dry_run, "files": files, "copies": copies })
        );
    } else {
        println!("{}", report::pruned(&files, &copies, args.dry_run));
    }
    Ok(exit::OK)
}

/// A SQLite database that does not exist has no copies; connecting would create it.
fn sqlite_file_missing(config: &Config) -> bool {
    if config.target.dialect != Dialect::Sqlite {
        return false;
    }
    let path = config
        .target
        .url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default();
    !path.is_empty() && path != ":memory:" && !Path::new(path).exists()
}

fn print_run(report: &crate::migrator::RunReport, verb: &str, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("serializable")
        );
    } else {
        println!("{}", report::run_summary(report, verb));
    }
}

fn print_message(message: &str, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "message": message }));
    } else {
        println!("{message}");
    }
}

const CONFIG_TEMPLATE: &str = r#"# godwit configuration. Every key is optional.
#
# The database URL is taken from --database-url, then DATABASE_URL (environment or .env),
# then database_url below; with none of them godwit uses the SQLite file .godwit/godwit.db,
# but only in development.
# database_url = "env(DATABASE_URL)"
# direct_url = "env(DIRECT_URL)"     # used for migrations instead, e.g. to bypass PgBouncer

# "development" allows `godwit reset` and the embedded SQLite fallback.
environment = "development"

migrations = "migrations"

# lock_wait = "60s"           # how long to wait for another deployer
# lock_timeout = "5s"         # default per migration; `-- godwit:lock-timeout=...` overrides
# statement_timeout = "10min"
# lock_retries = 3            # retries after a lock timeout
# connect_timeout = "10s"
# shadow_url = "env(SHADOW_URL)"  # an empty database for `godwit verify`, if it may not create one
# schema = "schema"           # the declared schema `godwit diff --check` compares with; `godwit pull --out schema` writes it
# init_sql = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"  # run on every connection first

# Whole-database backups before deploy: "always", "destructive" (the default: before a
# run that drops, truncates or deletes) or "never" (which also turns off the in-database
# copies of dropped tables and columns that `godwit down` puts back).
# [backup]
# policy = "destructive"
# dir = ".godwit/backups"

# Plugin steps hold their batches back while the database is unhealthy (README:
# "Throttling on the database's health"); each step's [batch] may override these.
# [throttle]
# replicas = ["env(REPLICA_URL)"]   # replicas to ask for their lag (needed on MySQL/MariaDB)
# max_replication_lag = "5s"
# health_query = "SELECT ..."        # one boolean; false holds the batches back
# max_pause = "30m"                  # the longest one pause may last
"#;

fn init(dir: &Path) -> Result<u8, Error> {
    let path = dir.join(config::CONFIG_FILE);
    if path.exists() {
        return Err(Error::Config(format!(
            "{} already exists; godwit init leaves it alone",
            path.display()
        )));
    }
    std::fs::create_dir_all(dir.join("migrations"))?;
    std::fs::write(&path, CONFIG_TEMPLATE)?;
    // .godwit/ holds the SQLite default, backups and caches: data, not source.
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing
        .lines()
        .any(|l| matches!(l.trim(), ".godwit" | ".godwit/" | "/.godwit" | "/.godwit/"))
    {
        let separator = if existing.is_empty() || existing.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        std::fs::write(&gitignore, format!("{existing}{separator}.godwit/\n"))?;
    }
    println!(
        "Created {} and {}/",
        path.display(),
        dir.join("migrations").display()
    );
    println!("Next: `godwit new create_users`, write up.sql and down.sql, then `godwit deploy`.");
    Ok(exit::OK)
}

/// `godwit lint`: reads godwit.toml and the files, never the database URL's target, so
/// it runs in CI jobs that have no database and no DATABASE_URL. Validator plugins
/// declared in godwit.toml check each file too; their findings join the built-in ones.
async fn lint(
    cli: &Cli,
    paths: &[PathBuf],
    format: Option<Format>,
    dialect: Option<DialectArg>,
) -> Result<u8, Error> {
    let file = FileConfig::read(&cli.dir)?;
    let (dialect, origin) = match dialect {
        Some(d) => (Dialect::from(d), "--dialect".to_string()),
        None => config::configured_dialect(&cli.dir, &file, cli.database_url.as_deref())
            .map(|(d, origin)| (d, format!("from {origin}")))
            .unwrap_or_else(|| {
                // With no URL anywhere, deploy uses the embedded SQLite file, except
                // outside development, where it refuses: then PostgreSQL is the guess.
                if file.environment.as_deref().is_none_or(|e| e == "development") {
                    (Dialect::Sqlite, "the embedded SQLite default, as deploy would use; pass --dialect to choose".to_string())
                } else {
                    (Dialect::Postgres, "no database URL configured; pass --dialect to choose".to_string())
                }
            }),
    };
    let format = format.unwrap_or(if cli.json {
        Format::Json
    } else {
        Format::Human
    });
    // Paths print as given (relative stays relative), which is what CI annotations need.
    let in_project = |p: &Path| {
        if cli.dir == Path::new(".") || p.is_absolute() {
            p.to_path_buf()
        } else {
            cli.dir.join(p)
        }
    };
    let dirs: Vec<PathBuf> = if paths.is_empty() {
        // Found the way every other command finds it (godwit.toml, else another tool's
        // folder), shown relative when the project is the current directory.
        let dir = file.migrations_dir(&cli.dir);
        vec![dir.strip_prefix(".").map(Path::to_path_buf).unwrap_or(dir)]
    } else {
        paths.iter().map(|p| in_project(p)).collect()
    };
    let mut migrations = Vec::new();
    for dir in &dirs {
        let single = ["up.sql", "migration.sql"]
            .iter()
            .any(|f| dir.join(f).is_file());
        match dir.parent() {
            // One migration: read its folder in whatever layout it has, keep that one.
            Some(parent) if single => {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                let found: Vec<_> = source::read(parent, &file.layout(), dialect)?
                    .into_iter()
                    .filter(|m| m.dir.file_name() == dir.file_name())
                    .collect();
                if found.is_empty() {
                    return Err(Error::Config(format!(
                        "{} is not a migration godwit can read",
                        dir.display()
                    )));
                }
                migrations.extend(found);
            }
            _ => migrations.extend(source::read(dir, &file.layout(), dialect)?),
        }
    }
    let mut findings = checks::lint_migrations(&migrations, dialect, &file.lint)?;
    if file.plugins.values().any(|p| p.enabled) {
        let config = crate::validate::files_only_config(&cli.dir, file.clone(), dialect)?;
        if let Some(validators) = Validators::from_config(&config, dialect)? {
            let all: Vec<&source::Migration> = migrations.iter().collect();
            let before = findings.len();
            for report in validators.check_migrations(&all).await {
                findings.extend(report.into_findings());
            }
            if findings.len() > before {
                // Each statement's findings together, whoever raised them.
                findings.sort_by(|a, b| {
                    (&a.location.file, a.location.line).cmp(&(&b.location.file, b.location.line))
                });
            }
        }
    }
    if format == Format::Human {
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        println!(
            "Checked {} migration{} in {} as {dialect} ({origin}).\n",
            migrations.len(),
            if migrations.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    println!("{}", findings_report::render(&findings, format));
    Ok(if Summary::of(&findings).errors > 0 {
        exit::BLOCKED
    } else {
        exit::OK
    })
}

/// A migration name as `godwit new` takes it: lower case, words joined by `_`, and
/// saying what it changes.
fn migration_name(raw: &str) -> Result<String, Error> {
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if crate::lint::vague_name(&name) {
        return Err(Error::Config(format!(
            "`{raw}` does not say what the migration changes; name it after the change, e.g. `add_users_email_index` or `create_orders`"
        )));
    }
    Ok(name)
}

fn new_migration(dir: &Path, raw: &str, step: Option<&str>) -> Result<u8, Error> {
    let name = migration_name(raw)?;
    // The folder and its layout as every other command finds them; no database needed.
    let file = FileConfig::read(dir)?;
    let folder = file.migrations_dir(dir);
    let created = source::create(
        &folder,
        &file.layout(),
        &source::NewMigration { name: &name, step },
        chrono::Utc::now().naive_utc(),
    )?;
    let shown: Vec<String> = created.iter().map(|p| p.display().to_string()).collect();
    println!("Created {}", shown.join(" and "));
    Ok(exit::OK)
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
