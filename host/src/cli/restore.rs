//! `godwit restore`: the database as a backup left it, history table included.

use clap::Args as ClapArgs;

use crate::config::Config;
use crate::error::{Error, exit};
use crate::migrator::Migrator;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The backup's ID, as `godwit backups` lists it.
    id: String,
    /// Restore a backup taken from another database into this one.
    #[arg(long)]
    force: bool,
}

pub(super) async fn run(
    migrator: &mut Migrator,
    config: &Config,
    args: &Args,
    json: bool,
) -> Result<u8, Error> {
    let meta = migrator.restore(&args.id, args.force).await?;
    if json {
        outln!("{}", serde_json::json!({ "restored": meta }));
    } else {
        outln!(
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
