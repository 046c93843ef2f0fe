//! `godwit verify`: the migrations on a shadow database, every down.sql, and drift.

use clap::Args as ClapArgs;

use super::print_report;
use crate::error::Error;
use crate::migrator::Migrator;
use crate::verify::{self, DownCheck, VerifyOptions};

#[derive(Debug, ClapArgs)]
pub struct Args {
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
}

pub(super) async fn run(migrator: &mut Migrator, args: Args, json: bool) -> Result<u8, Error> {
    let options = VerifyOptions {
        shadow_url: args.shadow_url,
        keep_shadow: args.keep_shadow,
        down: if args.skip_down {
            DownCheck::Skip
        } else if args.down_all {
            DownCheck::All
        } else {
            DownCheck::Each
        },
    };
    let report = verify::verify(migrator, &options, &mut |step| {
        if json {
            return;
        }
        match step {
            verify::VerifyProgress::ShadowReady(shadow) => outln!("{}", shadow.describe()),
            verify::VerifyProgress::Checked(check) => outln!("  {}", check.line()),
            verify::VerifyProgress::Step(step) => outln!("  {step}"),
        }
    })
    .await?;
    print_report(json, &report, || report.text());
    Ok(report.exit_code())
}
