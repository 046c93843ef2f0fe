//! `godwit pull`: the database's schema as DDL, on stdout or in `DIR/schema.sql`.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use crate::config::Config;
use crate::error::{Error, exit};
use crate::migrator::Migrator;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Write DIR/schema.sql (DIR relative to the project directory) instead of stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(super) async fn run(
    migrator: &mut Migrator,
    config: &Config,
    args: &Args,
    json: bool,
) -> Result<u8, Error> {
    let driver = migrator.driver();
    let schema = driver.introspect().await?;
    let definitions = driver.definitions().await?;
    let text = crate::schema::ddl::render(&schema, &definitions, config.target.dialect);
    let Some(dir) = &args.out else {
        if json {
            outln!("{}", serde_json::json!({ "sql": text }));
        } else {
            out!("{text}");
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
        outln!(
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
        outln!(
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
