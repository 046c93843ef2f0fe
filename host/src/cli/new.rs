//! `godwit new`: a timestamped migration directory in the project's layout.

use std::path::Path;

use clap::Args as ClapArgs;

use crate::config::FileConfig;
use crate::error::{Error, exit};
use crate::source;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// What the migration does, e.g. add_users_email_index.
    name: Vec<String>,
    /// Make it a plugin step run by this [plugins.NAME] of godwit.toml (a step.toml
    /// instead of up.sql).
    #[arg(long, value_name = "PLUGIN")]
    step: Option<String>,
}

pub(super) fn run(dir: &Path, args: &Args) -> Result<u8, Error> {
    let name = migration_name(&args.name.join("_"))?;
    // The folder and its layout as every other command finds them; no database needed.
    let file = FileConfig::read(dir)?;
    let folder = file.migrations_dir(dir);
    let created = source::create(
        &folder,
        &file.layout(),
        &source::NewMigration {
            name: &name,
            step: args.step.as_deref(),
        },
        chrono::Utc::now().naive_utc(),
    )?;
    let shown: Vec<String> = created.iter().map(|p| p.display().to_string()).collect();
    outln!("Created {}", shown.join(" and "));
    Ok(exit::OK)
}

/// A migration name as `godwit new` takes it: lower case, words joined by `_`, and
/// saying what it changes.
pub(super) fn migration_name(raw: &str) -> Result<String, Error> {
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
