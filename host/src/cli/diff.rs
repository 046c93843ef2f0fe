//! `godwit diff`: the migration that turns what the migrations build into the declared
//! schema, or (`--check`) whether they differ.

use clap::Args as ClapArgs;

use super::{new::migration_name, print_report};
use crate::diff::GenerateOptions;
use crate::error::{Error, exit};
use crate::migrator::Migrator;

#[derive(Debug, ClapArgs)]
pub struct Args {
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
    from: Option<Side>,
    #[arg(long, value_enum, requires = "from")]
    to: Option<Side>,
    /// An empty database to use as the shadow (one after the other) instead of
    /// creating them; wins over shadow_url in godwit.toml.
    #[arg(long, value_name = "URL")]
    shadow_url: Option<String>,
}

/// The two sides `godwit diff --from … --to …` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    /// The live database.
    Database,
    /// What the migrations build on a shadow.
    Migrations,
}

pub(super) async fn run(migrator: &mut Migrator, args: Args, json: bool) -> Result<u8, Error> {
    if args.check {
        let report = crate::diff::check(migrator, args.shadow_url.as_deref()).await?;
        print_report(json, &report, || report.text());
        return Ok(report.exit_code());
    }
    let from_database = match (args.from, args.to) {
        (Some(Side::Database), Some(Side::Migrations)) => true,
        (None, None) => false,
        _ => {
            return Err(Error::Config(
                "godwit diff knows `--from database --to migrations` (the SQL that brings a drifted \
                 database back to the migrations); for the declared schema, give a NAME"
                    .into(),
            ));
        }
    };
    let name = match &args.name {
        Some(raw) => migration_name(raw)?,
        None => "repair_drift".into(),
    };
    let options = GenerateOptions {
        name,
        dry_run: args.dry_run,
        allow_destructive: args.allow_destructive,
        rename: args.rename,
        no_rename: args.no_rename,
        from_database,
    };
    let report =
        crate::diff::generate_migrations(migrator, args.shadow_url.as_deref(), &options).await?;
    print_report(json, &report, || report.text());
    Ok(exit::OK)
}
