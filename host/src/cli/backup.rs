//! `godwit backup`: a whole-database backup now.

use clap::Args as ClapArgs;

use crate::backup;
use crate::config::Config;
use crate::error::{Error, exit};
use crate::migrator::Migrator;
use crate::report;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Why, recorded with the backup (default "manual").
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

pub(super) async fn run(
    migrator: &mut Migrator,
    config: &Config,
    args: &Args,
    json: bool,
) -> Result<u8, Error> {
    let meta = migrator
        .backup(args.reason.as_deref().unwrap_or("manual"))
        .await?;
    let path = backup::dir(config).join(&meta.file);
    if json {
        outln!("{}", serde_json::json!({ "backup": meta, "path": path }));
    } else {
        outln!(
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
