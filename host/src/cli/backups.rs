//! `godwit backups [prune]`: the whole-database backups and the in-database copies of
//! dropped data, and dropping the ones no longer wanted.

use std::time::Duration;

use clap::{Args as ClapArgs, Subcommand};

use crate::config::{self, Config};
use crate::error::{DbError, Error, exit};
use crate::migrator::Migrator;
use crate::{backup, report};

#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drop copies of dropped data (`--copies`) or delete whole-database backup files
    /// (`--files`) that are no longer wanted.
    Prune(PruneArgs),
}

#[derive(Debug, ClapArgs)]
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

/// Listing the files needs no database; the copies of dropped data are listed too when
/// the database answers.
pub(super) async fn run(config: &Config, args: &Args, json: bool) -> Result<u8, Error> {
    let dir = backup::dir(config);
    let Some(Command::Prune(args)) = &args.command else {
        // A SQLite database that does not exist has no copies; connecting would create it.
        let copies = if config.target.missing_sqlite_file().is_some() {
            Ok(backup::copy::Listing::default())
        } else {
            match Migrator::connect(config).await {
                Ok(mut migrator) => Ok(migrator.copies().await?),
                Err(Error::Db(DbError::Connect(message))) => Err(message),
                Err(other) => return Err(other),
            }
        };
        outln!(
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
    let copies = if args.copies && config.target.missing_sqlite_file().is_none() {
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
        outln!(
            "{}",
            serde_json::json!({ "dry_run": args.dry_run, "files": files, "copies": copies })
        );
    } else {
        outln!("{}", report::pruned(&files, &copies, args.dry_run));
    }
    Ok(exit::OK)
}
