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

/// Where the declared schema comes from (`schema =` in godwit.toml); an error that says
/// how to set it when it is absent.
fn declared_source(config: &Config) -> Result<&crate::config::SchemaSource, DeclaredError> {
    config
        .file
        .schema
        .as_ref()
        .ok_or(DeclaredError::NotConfigured)
}

/// Connects to a shadow, runs the setup and applies the declared schema to it.
async fn declared_shadow(
    shadow_config: &Config,
    setup: Option<&str>,
    parts: &[declared::Part],
    dialect: godwit_core::Dialect,
) -> Result<Box<dyn godwit_db::Driver>, Error> {
    let mut shadow = godwit_db::connect(&shadow_config.connect_settings()).await?;
    run_setup(shadow.as_mut(), setup).await?;
    declared::apply(parts, shadow.as_mut(), dialect).await?;
    Ok(shadow)
}

/// Builds both schemas on shadows of the target's server and compares them.
pub async fn check(target: &mut Migrator, shadow_url: Option<&str>) -> Result<CheckReport, Error> {
    let config = target.config().clone();
    let dialect = config.target.dialect;
    let source = declared_source(&config)?;
    // Both read before any shadow is made: a broken file or command stops us early.
    let parts = declared::read(source, &config.project_dir)?;
    let migrations = target.read_sources()?;
    for migration in &migrations {
        migration.up.statements(dialect)?;
    }

    let (built, applied) = on_shadow(target, shadow_url, |shadow_config, setup| async move {
        let mut shadow = Migrator::connect(&shadow_config).await?;
        run_setup(shadow.driver(), setup.as_deref()).await?;
        let applied = deploy_on_shadow(&mut shadow).await?;
        Ok((shadow.driver().introspect().await?, applied))
    })
    .await?;

    let wanted = on_shadow(target, shadow_url, |shadow_config, setup| async move {
        let mut shadow = declared_shadow(&shadow_config, setup.as_deref(), &parts, dialect).await?;
        Ok(shadow.introspect().await?)
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

pub use crate::schema::generate::{self, DiffError};

use crate::schema::{Definitions, Schema};
use generate::{Destructive, Generated, Renames};
use godwit_core::Dialect;
use godwit_db::{Driver, SqlError};

/// What `godwit diff NAME` was asked.
#[derive(Clone, Debug, Default)]
pub struct GenerateOptions {
    /// The migration's name (already normalised); later ones get `_indexes`, `_validate`.
    pub name: String,
    /// Print, write nothing.
    pub dry_run: bool,
    pub allow_destructive: bool,
    /// `--rename OLD=NEW` / `TABLE.OLD=NEW`.
    pub rename: Vec<String>,
    /// `--no-rename OLD` / `TABLE.OLD`.
    pub no_rename: Vec<String>,
    /// `--from database --to migrations`: what brings the database back to the migrations.
    pub from_database: bool,
}

/// One statement of a generated migration and what it risks.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedStatement {
    pub sql: String,
    /// The lock it takes, as the database names it (`none` for none).
    pub lock: String,
    pub hazards: Vec<Hazard>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hazard {
    /// Blocks writes to the table while it runs.
    Lock { table: String, lock: String },
    /// The table is rewritten or copied row by row.
    TableRewrite { table: String },
    /// Data goes, with the live count where the database answered.
    DataLoss { what: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedMigration {
    /// `NAME`, `NAME_indexes`, `NAME_validate`.
    pub name: String,
    pub no_transaction: bool,
    pub up: String,
    pub down: String,
    pub statements: Vec<PlannedStatement>,
    /// Files written (none with --dry-run).
    pub files: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GenerateReport {
    pub migrations: Vec<PlannedMigration>,
    /// The data-losing changes, each with its live count.
    pub data_loss: Vec<String>,
    pub dry_run: bool,
    /// Proved on a shadow: up gives the desired schema, down the current, up again.
    pub proved: bool,
}

impl GenerateReport {
    pub fn text(&self) -> String {
        if self.migrations.is_empty() {
            return "Nothing to do: the schemas are the same.".into();
        }
        let mut out = String::new();
        for m in &self.migrations {
            if self.dry_run {
                out.push_str(&format!("-- ===== {} (up) =====\n{}\n", m.name, m.up));
                out.push_str(&format!("-- ===== {} (down) =====\n{}\n", m.name, m.down));
            } else {
                out.push_str(&format!("Wrote {}\n", m.files.join(" and ")));
            }
            // Locks are in --json; a person reads what rewrites a table or loses data.
            let mut seen = std::collections::BTreeSet::new();
            for s in &m.statements {
                for h in &s.hazards {
                    let line = match h {
                        Hazard::Lock { .. } => continue,
                        Hazard::TableRewrite { table } => format!("may rewrite table {table}"),
                        Hazard::DataLoss { what } => what.clone(),
                    };
                    if seen.insert(line.clone()) {
                        out.push_str(&format!("  {}: {line}\n", m.name));
                    }
                }
            }
        }
        if self.proved {
            out.push_str("Checked on a shadow database: up builds the declared schema, down brings back the current one, up again.\n");
        }
        if !self.dry_run {
            out.push_str("Review the files, then `godwit plan` and `godwit deploy`.");
        }
        out.trim_end().to_string()
    }
}

/// `--rename` and `--no-rename` flags added to the hints read from the schema.
fn rename_flags(options: &GenerateOptions, renames: &mut Renames) -> Result<(), DiffError> {
    for flag in &options.rename {
        let (old, new) = flag
            .split_once('=')
            .ok_or_else(|| DiffError::BadRenameFlag(flag.clone()))?;
        let (old, new) = (old.trim(), new.trim());
        if old.is_empty() || new.is_empty() {
            return Err(DiffError::BadRenameFlag(flag.clone()));
        }
        match old.split_once('.') {
            Some((table, old_column)) => {
                let new_column = new
                    .split_once('.')
                    .map_or(new, |(_, column)| column)
                    .to_string();
                // The table as the declared schema names it, if it is renamed too.
                let table = renames
                    .tables
                    .iter()
                    .find(|(_, o)| o.as_str() == table)
                    .map_or(table.to_string(), |(n, _)| n.clone());
                renames
                    .columns
                    .insert((table, new_column), old_column.to_string());
            }
            None => {
                renames.tables.insert(new.to_string(), old.to_string());
            }
        }
    }
    renames
        .not_renamed
        .extend(options.no_rename.iter().map(|s| s.trim().to_string()));
    Ok(())
}

/// Runs `statements` of one generated script on a shadow, as deploy would: in one
/// transaction unless marked otherwise, with SQLite's foreign keys off for a rebuild.
async fn run_script(
    driver: &mut dyn Driver,
    dialect: Dialect,
    text: &str,
    no_transaction: bool,
) -> Result<(), String> {
    let statements = godwit_core::split::split(text, dialect).map_err(|e| e.to_string())?;
    let foreign_keys_off =
        dialect == Dialect::Sqlite && text.contains("-- godwit:foreign-keys-off");
    let describe = |e: SqlError| godwit_db::describe_db_error(&e);
    if foreign_keys_off {
        driver
            .execute("PRAGMA foreign_keys = OFF")
            .await
            .map_err(describe)?;
    }
    let transaction = !no_transaction && dialect != Dialect::MySql;
    if transaction {
        driver.begin().await.map_err(describe)?;
    }
    for s in &statements {
        if let Err(e) = driver.execute(&s.sql).await {
            if transaction {
                let _ = driver.rollback().await;
            }
            return Err(format!("{}: {}", s.sql, describe(e)));
        }
    }
    if transaction {
        driver.commit().await.map_err(describe)?;
    }
    if foreign_keys_off {
        driver
            .execute("PRAGMA foreign_keys = ON")
            .await
            .map_err(describe)?;
    }
    Ok(())
}

/// Applies every migration to a shadow database, in any order and beside any other
/// tool's history; how many were applied. A failure says it happened on the shadow.
async fn deploy_on_shadow(shadow: &mut Migrator) -> Result<usize, Error> {
    let run = shadow
        .deploy(&DeployOptions {
            to: None,
            allow_out_of_order: true,
            restore_on_failure: false,
            ignore_other_history: true,
            workers: None,
        })
        .await
        .map_err(|e| match e {
            Error::MigrationFailed { cause, message, .. } => Error::failed(
                cause,
                format!(
                    "the migrations do not apply to an empty shadow database: {message}\n  \
                 `godwit verify` shows every script that fails there"
                ),
            ),
            other => other,
        })?;
    Ok(run.applied.len())
}

/// Builds the migrations on a fresh shadow; what they build and its definitions.
async fn build_migrations(
    target: &mut Migrator,
    shadow_url: Option<&str>,
) -> Result<(Schema, Definitions), Error> {
    on_shadow(target, shadow_url, |shadow_config, setup| async move {
        let mut shadow = Migrator::connect(&shadow_config).await?;
        run_setup(shadow.driver(), setup.as_deref()).await?;
        deploy_on_shadow(&mut shadow).await?;
        let driver = shadow.driver();
        Ok((driver.introspect().await?, driver.definitions().await?))
    })
    .await
}

/// `godwit diff NAME` (and `--from database --to migrations`): generate, prove, write.
pub async fn generate_migrations(
    target: &mut Migrator,
    shadow_url: Option<&str>,
    options: &GenerateOptions,
) -> Result<GenerateReport, Error> {
    let config = target.config().clone();
    let dialect = config.target.dialect;
    let migrations = target.read_sources()?;
    for migration in &migrations {
        migration.up.statements(dialect)?;
    }
    let mut renames = Renames::default();
    let ((current, current_definitions), (desired, desired_definitions)) = if options.from_database
    {
        let driver = target.driver();
        let live = (driver.introspect().await?, driver.definitions().await?);
        (live, build_migrations(target, shadow_url).await?)
    } else {
        let parts = declared::read(declared_source(&config)?, &config.project_dir)?;
        for part in &parts {
            generate::hints(&part.text, dialect, &mut renames);
        }
        let built = build_migrations(target, shadow_url).await?;
        let wanted = on_shadow(target, shadow_url, |shadow_config, setup| async move {
            let mut shadow =
                declared_shadow(&shadow_config, setup.as_deref(), &parts, dialect).await?;
            Ok((shadow.introspect().await?, shadow.definitions().await?))
        })
        .await?;
        (built, wanted)
    };
    rename_flags(options, &mut renames).map_err(Error::Diff)?;
    let generated = generate::generate(
        dialect,
        &current,
        &current_definitions,
        &desired,
        &desired_definitions,
        &renames,
    )
    .map_err(|e| Error::Diff(e.into()))?;

    // Live counts of what would be lost, from the target database.
    let mut data_loss = Vec::new();
    for d in &generated.destructive {
        data_loss.push(live_count(target, dialect, d).await);
    }
    if !generated.destructive.is_empty() && !options.allow_destructive && !options.from_database {
        return Err(Error::Diff(DiffError::Destructive(data_loss)));
    }
    let mut report = GenerateReport {
        migrations: Vec::new(),
        data_loss: data_loss.clone(),
        dry_run: options.dry_run || options.from_database,
        proved: false,
    };
    if generated.migrations.is_empty() {
        return Ok(report);
    }
    lint_generated(&generated, dialect, &options.name).map_err(Error::Diff)?;
    if !options.from_database {
        prove(target, shadow_url, &generated, &current, &desired).await?;
        report.proved = true;
    }
    for m in &generated.migrations {
        let infos = godwit_core::analyze::analyze(
            &godwit_core::split::split(&m.up, dialect).map_err(|e| Error::Config(e.to_string()))?,
            dialect,
        );
        let statements = infos
            .iter()
            .map(|info| PlannedStatement {
                sql: info.sql.clone(),
                lock: crate::plan::described_locks(info),
                hazards: hazards(dialect, info, &generated.destructive, &data_loss),
            })
            .collect();
        report.migrations.push(PlannedMigration {
            name: format!("{}{}", options.name, m.phase.suffix()),
            no_transaction: m.no_transaction,
            up: m.up.clone(),
            down: m.down.clone(),
            statements,
            files: Vec::new(),
        });
    }
    if !report.dry_run {
        write(&config, &mut report)?;
    }
    Ok(report)
}

fn hazards(
    dialect: Dialect,
    info: &godwit_core::analyze::StatementInfo,
    destructive: &[Destructive],
    counts: &[String],
) -> Vec<Hazard> {
    use godwit_core::analyze::Effect;
    let mut out = Vec::new();
    // SQLite's one lock is the whole database's, for every write: not worth a line each.
    if info.lock.blocks_writes() && dialect != Dialect::Sqlite {
        for table in &info.tables {
            out.push(Hazard::Lock {
                table: table.clone(),
                lock: info.lock.name().to_string(),
            });
        }
    }
    for effect in &info.effects {
        match effect {
            Effect::CopiesTable { table, .. } | Effect::ChangeType { table, .. } => {
                out.push(Hazard::TableRewrite {
                    table: table.clone(),
                })
            }
            _ => {}
        }
    }
    // The analyser spells names as the database does (SQLite's in lower case), the schema
    // diff as the catalog does: both are exact spellings, compared as the database would.
    use godwit_core::sql::{column_key, name_key};
    let same_table = |a: &str, b: &str| name_key(dialect, a, true) == name_key(dialect, b, true);
    let same_column =
        |a: &str, b: &str| column_key(dialect, a, true) == column_key(dialect, b, true);
    for (d, count) in destructive.iter().zip(counts) {
        let hit = info.effects.iter().any(|e| match (e, d) {
            (Effect::DropTable { table, .. }, Destructive::DropTable { table: t }) => {
                same_table(table, t)
            }
            (
                Effect::DropColumn { table, column },
                Destructive::DropColumn {
                    table: t,
                    column: c,
                },
            ) => same_table(table, t) && same_column(column, c),
            (
                Effect::ChangeType { table, column, .. },
                Destructive::NarrowType {
                    table: t,
                    column: c,
                    ..
                },
            ) => same_table(table, t) && same_column(column, c),
            _ => false,
        });
        if hit {
            out.push(Hazard::DataLoss {
                what: count.clone(),
            });
        }
    }
    out
}

/// "drops users.email: 1,245 non-null values", counted as `plan` counts.
async fn live_count(target: &mut Migrator, dialect: Dialect, d: &Destructive) -> String {
    use crate::plan::{count, counted};
    use godwit_core::sql::quote;
    match d {
        Destructive::DropTable { table } => {
            let rows = count(
                target,
                &format!("SELECT count(*) FROM {}", quote(dialect, table)),
            )
            .await;
            format!("drops table {table}: {}", counted(rows, "row", "rows"))
        }
        Destructive::DropColumn { table, column } => {
            let sql = format!(
                "SELECT count({}) FROM {}",
                quote(dialect, column),
                quote(dialect, table)
            );
            format!(
                "drops {table}.{column}: {}",
                counted(
                    count(target, &sql).await,
                    "non-null value",
                    "non-null values"
                )
            )
        }
        Destructive::NarrowType {
            table,
            column,
            from,
            to,
        } => {
            let sql = format!(
                "SELECT count({}) FROM {}",
                quote(dialect, column),
                quote(dialect, table)
            );
            format!(
                "narrows {table}.{column} from {from} to {to}: {} to convert",
                counted(
                    count(target, &sql).await,
                    "non-null value",
                    "non-null values"
                )
            )
        }
    }
}

/// The generated files, read as migrations and linted as `godwit lint` would.
fn lint_generated(generated: &Generated, dialect: Dialect, name: &str) -> Result<(), DiffError> {
    let dir = tempfile::tempdir().map_err(|e| DiffError::Lint(vec![e.to_string()]))?;
    for (i, m) in generated.migrations.iter().enumerate() {
        let at = dir.path().join(format!(
            "{:014}_{name}{}",
            20000101000000u64 + i as u64,
            m.phase.suffix()
        ));
        std::fs::create_dir_all(&at)
            .and_then(|()| std::fs::write(at.join("up.sql"), &m.up))
            .and_then(|()| std::fs::write(at.join("down.sql"), &m.down))
            .map_err(|e| DiffError::Lint(vec![e.to_string()]))?;
    }
    let migrations = godwit_core::source::read_dir(dir.path(), dialect)
        .map_err(|e| DiffError::Lint(vec![e.to_string()]))?;
    let findings = godwit_lint::lint_migrations(&migrations, dialect, &Default::default())
        .map_err(|e| DiffError::Lint(vec![e.to_string()]))?;
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == godwit_core::finding::Severity::Error)
        .map(|f| format!("{}: {}", f.rule, f.message))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DiffError::Lint(errors))
    }
}

/// On a shadow: the migrations, then up (must give `desired`), down (must give
/// `current`), up again.
async fn prove(
    target: &mut Migrator,
    shadow_url: Option<&str>,
    generated: &Generated,
    current: &Schema,
    desired: &Schema,
) -> Result<(), Error> {
    let dialect = target.config().target.dialect;
    let generated = generated.clone();
    let (current, desired) = (current.clone(), desired.clone());
    on_shadow(target, shadow_url, |shadow_config, setup| async move {
        let mut shadow = Migrator::connect(&shadow_config).await?;
        run_setup(shadow.driver(), setup.as_deref()).await?;
        shadow
            .deploy(&DeployOptions {
                to: None,
                allow_out_of_order: true,
                restore_on_failure: false,
                ignore_other_history: true,
                workers: None,
            })
            .await?;
        let driver = shadow.driver();
        let failed = |step: &str, details: Vec<String>| {
            Error::Diff(DiffError::NotProved {
                step: step.to_string(),
                details,
            })
        };
        let differences = |a: &Schema, b: &Schema| -> Vec<String> {
            schema::diff(a, b)
                .iter()
                .map(|d| d.describe(Perspective::Declared))
                .collect()
        };
        for round in ["apply", "apply again after down"] {
            for m in &generated.migrations {
                run_script(driver, dialect, &m.up, m.no_transaction)
                    .await
                    .map_err(|e| failed(round, vec![e]))?;
            }
            let after = driver.introspect().await?;
            let d = differences(&desired, &after);
            if !d.is_empty() {
                return Err(failed(&format!("{round} to the declared schema"), d));
            }
            if round == "apply" {
                for m in generated.migrations.iter().rev() {
                    run_script(driver, dialect, &m.down, m.no_transaction)
                        .await
                        .map_err(|e| failed("revert (down.sql)", vec![e]))?;
                }
                let back = driver.introspect().await?;
                let d = differences(&current, &back);
                if !d.is_empty() {
                    return Err(failed("revert to the current schema (down.sql)", d));
                }
            }
        }
        Ok(())
    })
    .await
}

/// Writes each migration where `godwit new` would put it.
fn write(config: &Config, report: &mut GenerateReport) -> Result<(), Error> {
    let spec = config.layout();
    for m in &mut report.migrations {
        let created = godwit_core::source::create(
            &config.migrations_dir,
            &spec,
            &godwit_core::source::NewMigration {
                name: &m.name,
                step: None,
            },
            chrono::Utc::now().naive_utc(),
        )?;
        let up = created
            .iter()
            .find(|p| p.to_string_lossy().ends_with("up.sql"));
        let down = created
            .iter()
            .find(|p| p.to_string_lossy().ends_with("down.sql"));
        let (Some(up), Some(down)) = (up, down) else {
            for p in &created {
                let _ = std::fs::remove_file(p);
                if let Some(parent) = p.parent()
                    && parent != config.migrations_dir
                {
                    let _ = std::fs::remove_dir(parent);
                }
            }
            let layout = spec
                .layout
                .map_or("configured `pattern`".to_string(), |l| l.name().to_string());
            return Err(Error::Diff(DiffError::Layout(layout)));
        };
        for (path, text) in [(up, &m.up), (down, &m.down)] {
            std::fs::write(path, text)
                .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?;
        }
        m.files = created.iter().map(|p| p.display().to_string()).collect();
    }
    Ok(())
}
