//! `godwit diff --check`: do the migrations build the declared schema?
//!
//! The CI check for "a schema change without its migration". Every migration is applied
//! to one shadow database (as `verify` builds one), the declared schema (`schema =` in
//! godwit.toml) is built in a second, and the two are compared with verify's schema
//! model. The shadows are made one after the other, so a single given `shadow_url` serves
//! both. The target database itself is only the server the shadows are made on.
//!
//! Exit codes: 0 the migrations build the declared schema; 4 they do not (the
//! differences are listed); 1 a migration fails on the shadow; 2 the declared schema
//! cannot be read or does not build in an empty database.

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, exit};
use crate::migrator::{DeployOptions, Migrator};
use crate::schema::declared::{self, DeclaredError};
use crate::schema::{self, Perspective};
use crate::verify::shadow::{run_setup, with_shadow};
use crate::verify::{DriftLine, indent};

#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// Where the declared schema came from: its path, or the command.
    pub schema: String,
    /// How many migrations the first shadow applied.
    pub migrations: usize,
    /// The migrations build exactly the declared schema.
    pub matches: bool,
    /// Expected: what the migrations build; actual: the declared schema.
    pub differences: Vec<DriftLine>,
}

impl CheckReport {
    pub fn exit_code(&self) -> u8 {
        if self.matches {
            exit::OK
        } else {
            exit::BLOCKED
        }
    }

    pub fn text(&self) -> String {
        let declared = &self.schema;
        let one = self.migrations == 1;
        let applied = format!(
            "{} migration{}",
            self.migrations,
            if one { "" } else { "s" }
        );
        if self.matches {
            let builds = if one { "builds" } else { "build" };
            return format!("The {applied} {builds} the declared schema ({declared}).");
        }
        let mut out = format!(
            "The {applied} {} NOT build the declared schema ({declared}): {} difference{}:\n",
            if one { "does" } else { "do" },
            self.differences.len(),
            if self.differences.len() == 1 { "" } else { "s" }
        );
        for line in &self.differences {
            out.push_str(&format!("  {}\n", indent(&line.message, "  ")));
        }
        out.push_str(
            "Write the migration that makes the change, or, if the migrations are right, \
             update the declared schema (`godwit pull` writes it from a database they built).",
        );
        out
    }
}

/// Runs `work` on a shadow of its own, made on the target's server (or the given one
/// emptied) and dropped afterwards.
async fn on_shadow<T, Fut>(
    target: &mut Migrator,
    shadow_url: Option<&str>,
    work: impl FnOnce(Config, Option<String>) -> Fut,
) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let config = target.config().clone();
    let driver = target.driver();
    with_shadow(
        "diff --check",
        &config,
        driver,
        shadow_url,
        false,
        |c, setup, _| work(c, setup),
    )
    .await
}

/// Builds both schemas on shadows of the target's server and compares them.
pub async fn check(target: &mut Migrator, shadow_url: Option<&str>) -> Result<CheckReport, Error> {
    let config = target.config().clone();
    let dialect = config.target.dialect;
    let source = config
        .file
        .schema
        .as_ref()
        .ok_or(DeclaredError::NotConfigured)?;
    // Both read before any shadow is made: a broken file or command stops us early.
    let parts = declared::read(source, &config.project_dir)?;
    let migrations = target.read_sources()?;
    for migration in &migrations {
        migration.up.statements(dialect)?;
    }

    let (built, applied) = on_shadow(target, shadow_url, |shadow_config, setup| async move {
        let mut shadow = Migrator::connect(&shadow_config).await?;
        run_setup(shadow.driver(), setup.as_deref()).await?;
        let run = shadow
            .deploy(&DeployOptions {
                to: None,
                allow_out_of_order: true,
                restore_on_failure: false,
                ignore_other_history: true,
            })
            .await
            .map_err(|e| match e {
                Error::MigrationFailed(message) => Error::MigrationFailed(format!(
                    "the migrations do not apply to an empty shadow database: {message}\n  \
                         `godwit verify` shows every script that fails there"
                )),
                other => other,
            })?;
        Ok((shadow.driver().introspect().await?, run.applied.len()))
    })
    .await?;

    let wanted = on_shadow(target, shadow_url, |shadow_config, setup| async move {
        let mut shadow = crate::driver::connect(&shadow_config).await?;
        run_setup(shadow.as_mut(), setup.as_deref()).await?;
        declared::apply(&parts, shadow.as_mut(), dialect).await?;
        shadow.introspect().await
    })
    .await?;

    let differences: Vec<DriftLine> = schema::diff(&built, &wanted)
        .into_iter()
        .map(|d| DriftLine::new(d, Perspective::Declared))
        .collect();
    let schema = match source {
        crate::config::SchemaSource::Path(path) => path.display().to_string(),
        crate::config::SchemaSource::Command(command) => format!("`{command}`"),
    };
    Ok(CheckReport {
        schema,
        migrations: applied,
        matches: differences.is_empty(),
        differences,
    })
}
