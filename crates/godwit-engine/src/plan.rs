//! `godwit plan`: what the pending migrations will do to *this* database, before they
//! do it — each statement's lock, the lint findings, and live counts of the data at
//! stake ("drops users.email: 1,245 non-null values"). Read-only, and every count has a
//! timeout, so planning against production is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::migrator::Migrator;
use crate::text::{one_line, thousands};
use crate::validate::Validators;
use godwit_core::Dialect;
use godwit_core::analyze::{self, Effect, Lock, StatementInfo};
use godwit_core::finding::{Finding, Severity};
use godwit_core::rebuild::{self, Rebuild};
use godwit_core::source::Version;
use godwit_core::sql::{column_key, literal, quote};
use godwit_lint as lint;

/// How long one count may take before the plan says "unknown" instead.
const COUNT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn label(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub database: String,
    pub migrations: Vec<PlannedMigration>,
    pub risk: Risk,
    /// Everything destroyed, summed up for the reader in a hurry.
    pub data_loss: Vec<String>,
    pub findings: usize,
    pub errors: usize,
    /// Findings `godwit lint` reports that this plan leaves out: they are about tables a
    /// pending migration before them creates, which nothing uses yet when they run.
    pub findings_on_new_tables: usize,
    /// Findings `godwit lint` reports that this plan leaves out because the table they
    /// are about is not in the database: a `DROP TABLE IF EXISTS` that drops nothing.
    pub findings_on_absent_tables: usize,
    /// What validator plugins' `check-database` found in the database as it is now.
    pub database_findings: Vec<Finding>,
    /// What confines the statements of each plugin the deploy would run (pending steps'
    /// plugins, then validators), and what would stop it before anything is applied.
    pub enforcement: Vec<PlannedEnforcement>,
    /// Why `deploy` would refuse to start at all, in its own words (a failed migration
    /// awaiting `resolve`, another tool's history, a modified file): then nothing below
    /// runs until that is dealt with, and `plan` exits 4 as deploy would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What confines one plugin's statements besides godwit's SQL checker.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedEnforcement {
    pub plugin: String,
    /// `authorizer` (SQLite), `role` (PostgreSQL) or `checker-only`.
    pub by: &'static str,
    /// PostgreSQL: the role, when it could be looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<godwit_db::ScopeRole>,
    /// Why only the checker confines them, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<crate::plugin::registry::CheckerOnlyBecause>,
    /// What stops `deploy` before it applies anything (a role godwit may not create,
    /// with the SQL an administrator would run), in the error's own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedMigration {
    pub id: String,
    pub risk: Risk,
    /// Whether deploy runs it in one transaction; `mode` says how and why.
    pub transactional: bool,
    pub mode: godwit_core::source::TransactionMode,
    /// SQLite: deploy turns foreign keys off around it (the file says `PRAGMA
    /// foreign_keys=OFF`, as Prisma's and Drizzle's rebuilds do, or its tool ran it so).
    pub foreign_keys_off: bool,
    pub has_down: bool,
    /// For a plugin step: the plugin that runs it, batch by batch.
    pub step: Option<String>,
    pub statements: Vec<PlannedStatement>,
    pub findings: Vec<Finding>,
    /// The up script, which `statements` are of: findings on another file (a down.sql)
    /// are shown with that file, not under an up statement of the same number.
    #[serde(skip)]
    pub up_path: std::path::PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedStatement {
    pub number: usize,
    pub line: usize,
    pub sql: String,
    /// Each lock and the tables it is taken on, strongest first: `SHARE ROW EXCLUSIVE on
    /// orders, users` or `ROW EXCLUSIVE on archive; ACCESS SHARE on orders`.
    pub lock: String,
    pub tables: Vec<String>,
    /// Each table's own lock (a table the statement creates has none).
    pub locks: Vec<godwit_core::analyze::TableLock>,
    /// Live facts about the data this statement touches.
    pub facts: Vec<String>,
    pub data_loss: Vec<String>,
    /// Rewrites rows (UPDATE, DELETE, INSERT): a data migration, not just DDL.
    pub changes_data: bool,
    pub risk: Risk,
    /// A `DROP TABLE IF EXISTS` of tables none of which is in the database: it drops
    /// nothing, so lint's "every row is gone" (GW001) does not apply here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drops_nothing: bool,
}

/// Plans every pending migration against the connected database; `validators` add their
/// findings on each pending migration and on the database (through a read-only session).
pub async fn plan(
    migrator: &mut Migrator,
    validators: Option<&Validators>,
    to: Option<&Version>,
) -> Result<Plan, Error> {
    let config: Config = migrator.config().clone();
    let dialect = config.target.dialect;
    let sources = migrator.read_sources()?;
    if let Some(to) = to {
        crate::migrator::require_version(&sources, to)?;
    }
    // What `deploy --to` would apply: the pending migrations up to that version.
    let rows = migrator.history().await?;
    let mut pending = Migrator::pending(&sources, &rows);
    pending.retain(|m| to.is_none_or(|to| m.version <= *to));
    let refused = migrator.deploy_refusal(&sources, rows).await?;
    // The migrations before the pending ones declare what these change.
    let earlier: Vec<godwit_core::source::Migration> = match pending.first() {
        Some(first) => sources
            .into_iter()
            .filter(|m| m.version < first.version)
            .collect(),
        None => Vec::new(),
    };
    let mut findings = lint::lint_migrations_after(&earlier, &pending, dialect, &config.file.lint)?;
    let findings_on_new_tables =
        lint::left_out_of_run(&earlier, &pending, dialect, &config.file.lint, &findings)?;
    read_only(migrator, dialect).await;
    let mut database_findings = Vec::new();
    if let Some(validators) = validators {
        let all: Vec<&godwit_core::source::Migration> = pending.iter().collect();
        for report in validators.check_migrations(&all).await {
            findings.extend(report.into_findings());
        }
        for report in validators.check_database(migrator.driver()).await {
            database_findings.extend(report.into_findings());
        }
    }

    let mut tables = Tables::default();
    let mut migrations = Vec::new();
    let mut findings_on_absent_tables = 0;
    for migration in &pending {
        let statements = migration.up.statements(dialect)?;
        let mode = migration.up.transaction_mode(&statements, dialect);
        let infos = analyze::analyze(&statements, dialect);
        let mut mine: Vec<Finding> = findings
            .iter()
            .filter(|f| f.location.migration.as_deref() == Some(&migration.id()))
            .cloned()
            .collect();
        let rebuilds = rebuild::rebuilds(&infos);
        let foreign_keys_off = migration.up.foreign_keys_off(&statements, dialect);
        let new_before = tables.created.clone();
        let mut planned = Vec::new();
        for info in &infos {
            planned.push(
                plan_statement(
                    migrator,
                    dialect,
                    &infos,
                    info,
                    &rebuilds,
                    foreign_keys_off,
                    &mut tables,
                )
                .await,
            );
        }
        // What dynamic SQL or a dropped schema destroys has no table to count, but it is
        // data loss all the same, as deploy's backup decision counts it.
        if let Some(unnamed) =
            crate::backup::destroys_unnamed(statements.iter().map(|s| s.sql.as_str()), dialect)
        {
            let at = statements.iter().position(|s| match unnamed {
                crate::backup::Unnamed::DynamicSql => {
                    crate::backup::runs_dynamic_sql(&s.sql, dialect)
                }
                crate::backup::Unnamed::DropsSchema => {
                    crate::backup::destroys_unnamed([s.sql.as_str()], dialect).is_some()
                }
            });
            if let Some(statement) = at.and_then(|i| planned.get_mut(i)) {
                statement.data_loss.push(format!(
                    "{} {unnamed}: how much cannot be counted beforehand",
                    migration.id()
                ));
                statement.risk = Risk::High;
            }
        }
        // A rebuilt table holds the old rows: a later migration that drops it loses them.
        for r in rebuilds.iter().filter(|r| !new_before.contains(&r.name)) {
            tables.created.remove(&r.survivor);
            tables.created.remove(&r.name);
        }
        // lint's GW001 on a DROP TABLE IF EXISTS that finds nothing to drop.
        let drops_nothing = |f: &Finding| {
            f.code == "GW001"
                && f.source == "godwit"
                && f.location
                    .statement
                    .and_then(|n| planned.get(n.checked_sub(1)?))
                    .is_some_and(|s| s.drops_nothing)
        };
        let before = mine.len();
        mine.retain(|f| !drops_nothing(f));
        findings_on_absent_tables += before - mine.len();
        findings.retain(|f| {
            f.location.migration.as_deref() != Some(&migration.id()) || !drops_nothing(f)
        });
        let finding_risk = mine.iter().map(|f| match f.severity {
            Severity::Error => Risk::High,
            Severity::Warning => Risk::Medium,
            Severity::Info => Risk::Low,
        });
        let risk = planned
            .iter()
            .map(|s| s.risk)
            .chain(finding_risk)
            .max()
            .unwrap_or(Risk::Low);
        migrations.push(PlannedMigration {
            id: migration.id(),
            risk,
            transactional: mode.is_transaction(),
            mode,
            foreign_keys_off,
            has_down: migration.down.is_some(),
            step: migration.step.as_ref().map(|s| s.plugin.clone()),
            statements: planned,
            findings: mine,
            up_path: migration.up.path.clone(),
        });
    }
    let enforcement = enforcement(migrator, &config, &pending, validators).await;
    let data_loss = migrations
        .iter()
        .flat_map(|m| m.statements.iter().flat_map(|s| s.data_loss.clone()))
        .collect();
    Ok(Plan {
        database: config.target.display.clone(),
        risk: migrations.iter().map(|m| m.risk).max().unwrap_or(Risk::Low),
        findings: findings.len() + database_findings.len(),
        errors: findings
            .iter()
            .chain(&database_findings)
            .filter(|f| f.severity == Severity::Error)
            .count(),
        findings_on_new_tables,
        findings_on_absent_tables,
        database_findings,
        data_loss,
        migrations,
        enforcement,
        refused,
    })
}

/// [`Plan::enforcement`]: checked without changing anything (a role is not created here).
async fn enforcement(
    migrator: &mut Migrator,
    config: &Config,
    pending: &[godwit_core::source::Migration],
    validators: Option<&Validators>,
) -> Vec<PlannedEnforcement> {
    use crate::plugin::registry::CheckerOnlyBecause;
    use godwit_db::{Confined, Enforcement, Scope};
    let steps: Vec<&str> = pending
        .iter()
        .filter_map(|m| m.step.as_ref().map(|s| s.plugin.as_str()))
        .collect();
    let mut out = Vec::new();
    let registry = match crate::plugin::registry::Registry::load(config, &steps) {
        Ok(registry) => Some(registry),
        Err(e) => {
            let mut names = steps.clone();
            names.sort_unstable();
            names.dedup();
            for name in names {
                out.push(PlannedEnforcement {
                    plugin: name.to_owned(),
                    by: "unknown",
                    role: None,
                    because: None,
                    problem: Some(format!("the plugin cannot be loaded: {e}")),
                });
            }
            None
        }
    };
    let entries = registry
        .iter()
        .flat_map(|r| r.entries())
        .chain(validators.into_iter().flat_map(|v| v.entries()));
    for entry in entries {
        let scope: &dyn Scope = entry.capabilities.as_ref();
        let mut planned = PlannedEnforcement {
            plugin: entry.name.clone(),
            by: "checker-only",
            role: None,
            because: None,
            problem: None,
        };
        // On MySQL/MariaDB the checker alone confines plugins whatever godwit.toml says.
        match migrator.driver().confined() {
            Confined::CheckerOnly => planned.because = Some(CheckerOnlyBecause::Mysql),
            _ if scope.enforcement() == Enforcement::CheckerOnly => {
                planned.because = Some(CheckerOnlyBecause::OperatorChoice);
            }
            Confined::Authorizer => planned.by = "authorizer",
            Confined::Role => {
                planned.by = "role";
                match migrator.driver().check_scope(scope).await {
                    Ok(role) => planned.role = role,
                    Err(e) => planned.problem = Some(e.to_string()),
                }
            }
        }
        out.push(planned);
    }
    out
}

/// The [`Plan::enforcement`] lines, for people.
fn enforcement_lines(plan: &Plan) -> String {
    use crate::plugin::registry::CheckerOnlyBecause;
    let mut out = String::new();
    for e in &plan.enforcement {
        let by = match (e.by, e.because, &e.role) {
            (_, Some(CheckerOnlyBecause::OperatorChoice), _) => {
                "checker-only: godwit's SQL checker alone (enforcement = \"checker-only\" in godwit.toml)"
                    .to_owned()
            }
            (_, Some(CheckerOnlyBecause::Mysql), _) => {
                "checker-only on MySQL/MariaDB, by necessity: godwit's SQL checker alone (docs/security.md)"
                    .to_owned()
            }
            ("authorizer", _, _) => "the checker and SQLite's authorizer".to_owned(),
            (_, _, Some(role)) => format!(
                "the checker and the PostgreSQL role {}{}",
                role.role,
                match (role.prepared, role.to_create) {
                    (true, _) => " (prepared by an administrator; godwit keeps its privileges)",
                    (false, true) => " (deploy creates it)",
                    (false, false) => "",
                }
            ),
            // The role could not be looked up or used: the problem below says which.
            _ => "the checker and a PostgreSQL role".to_owned(),
        };
        out.push_str(&format!("  {}: {by}\n", e.plugin));
        if let Some(problem) = &e.problem {
            out.push_str(&format!(
                "    deploy stops before applying anything: {}\n",
                problem.replace('\n', "\n    ")
            ));
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\nPlugin statements are confined by:\n{out}")
    }
}

/// Best effort: the counts below only read, but a session that cannot write is proof;
/// and each count is bounded on the server too, so a cancelled count frees its backend.
async fn read_only(migrator: &mut Migrator, dialect: Dialect) {
    let limit = godwit_db::Timeouts {
        lock_timeout: Some(COUNT_TIMEOUT),
        statement_timeout: Some(COUNT_TIMEOUT),
    };
    let _ = migrator.driver().set_timeouts(&limit, false).await;
    let sql = match dialect {
        Dialect::Postgres => "SET default_transaction_read_only = on",
        Dialect::MySql => "SET SESSION TRANSACTION READ ONLY",
        Dialect::Sqlite => "PRAGMA query_only = ON",
    };
    let _ = migrator.driver().execute(sql).await;
}

/// One count, bounded in time; `None` when it failed or took too long. `godwit diff`
/// counts the data its destructive changes lose with it.
pub(crate) async fn count(migrator: &mut Migrator, sql: &str) -> Option<i64> {
    // The server's own statement timeout normally ends a slow count first.
    match tokio::time::timeout(
        COUNT_TIMEOUT + Duration::from_secs(2),
        migrator.driver().query_i64(sql),
    )
    .await
    {
        Ok(Ok(n)) => n,
        _ => None,
    }
}

/// `1 row`, `3 rows`, `an unknown number of rows`: a count and its noun, agreed.
pub(crate) fn counted(value: Option<i64>, one: &str, many: &str) -> String {
    match value {
        Some(1) => format!("1 {one}"),
        other => format!("{} {many}", n(other)),
    }
}

pub(crate) fn n(value: Option<i64>) -> String {
    value
        .map(thousands)
        .unwrap_or_else(|| "an unknown number of".into())
}

/// The columns of `table` in the live database, in order; `None` when it is not there
/// (or could not be read in time).
async fn live_columns(
    migrator: &mut Migrator,
    dialect: Dialect,
    table: &str,
) -> Option<Vec<String>> {
    let name = literal(dialect, table);
    let sql = match dialect {
        // Looked up through search_path, as the counts find it.
        Dialect::Postgres => format!(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            literal(dialect, &quote(dialect, table))
        ),
        Dialect::MySql => format!(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = {name} ORDER BY ordinal_position"
        ),
        Dialect::Sqlite => format!("SELECT name FROM pragma_table_info({name})"),
    };
    let rows = tokio::time::timeout(
        COUNT_TIMEOUT + Duration::from_secs(2),
        migrator.driver().query_text(&sql),
    )
    .await
    .ok()?
    .ok()?;
    let columns: Vec<String> = rows
        .into_iter()
        .filter_map(|row| row.into_iter().next().flatten())
        .collect();
    (!columns.is_empty()).then_some(columns)
}

/// What a `DROP TABLE table` at statement `drop` loses when an earlier statement copied
/// some of its `rows` elsewhere (stash's SQLite rebuilds copy `… WHERE a IS NOT NULL`):
/// the rows the copy's `WHERE` leaves out, counted, or "up to" all of them where the copy
/// leaves rows out otherwise (a `LIMIT`, a join). `None` when no such copy was made.
async fn partly_copied(
    migrator: &mut Migrator,
    infos: &[StatementInfo],
    drop: usize,
    table: &str,
    tables: &Tables,
    rows: Option<i64>,
) -> Option<String> {
    let (copy, into) = rebuild::rows_partly_copied_before(infos, table, drop)?;
    let filter = infos.get(copy)?.effects.iter().find_map(|e| match e {
        Effect::CopyRows {
            from,
            into: to,
            filter,
            ..
        } if from == table && to == into => Some(filter.as_ref()),
        _ => None,
    })?;
    // The copy's SQL names the table as it was then: not if the run renamed it before.
    let lost = match filter {
        Some(filter) if tables.live(table) == table => {
            let sql = format!(
                "SELECT count(*) - count(CASE WHEN {} THEN 1 END) FROM {}",
                filter.condition, filter.source
            );
            count(migrator, &sql).await
        }
        _ => None,
    };
    Some(match lost {
        Some(lost) => format!(
            "drops table {table}: {} that statement {} did not copy into {into} (of {})",
            counted(Some(lost), "row", "rows"),
            copy + 1,
            counted(rows, "row", "rows")
        ),
        None => format!(
            "drops table {table}: up to {} (statement {} copied into {into} only the rows its WHERE, LIMIT or join takes)",
            counted(rows, "row", "rows"),
            copy + 1
        ),
    })
}

/// What a rebuild's `DROP TABLE` loses: the values of the live table's columns that the
/// copy does not read.
async fn plan_rebuild(
    migrator: &mut Migrator,
    dialect: Dialect,
    rebuild: &Rebuild,
    facts: &mut Vec<String>,
    data_loss: &mut Vec<String>,
) -> Risk {
    let name = &rebuild.name;
    let Some(columns) = live_columns(migrator, dialect, name).await else {
        facts.push(format!(
            "rebuilds {name}: its columns could not be read from the database, so what the copy leaves out is unknown"
        ));
        return Risk::Medium;
    };
    let left_out: Vec<String> = columns
        .into_iter()
        .filter(|c| !rebuild.carries(&column_key(dialect, c, true)))
        .collect();
    if left_out.is_empty() {
        facts.push(format!(
            "rebuilds {name}: the copy (statement {}) carries every row and every column",
            rebuild.copy + 1
        ));
        return Risk::Medium;
    }
    let mut risk = Risk::Medium;
    for column in left_out {
        let sql = format!(
            "SELECT count({}) FROM {}",
            quote(dialect, &column),
            quote(dialect, name)
        );
        let values = count(migrator, &sql).await;
        if values != Some(0) {
            risk = Risk::High;
        }
        data_loss.push(format!(
            "rebuilds {name} without column {column}: {}",
            counted(values, "non-null value", "non-null values")
        ));
    }
    risk
}

/// The rows of `table` (written `quoted` in SQL): as already counted for this statement,
/// else counted now.
async fn rows_of(
    migrator: &mut Migrator,
    known: &BTreeMap<&str, Option<i64>>,
    table: &str,
    quoted: String,
) -> Option<i64> {
    match known.get(table) {
        Some(rows) => *rows,
        None => count(migrator, &format!("SELECT count(*) FROM {quoted}")).await,
    }
}

/// Whether `table` (spelled as the database stores it) exists now; `true` when that
/// cannot be read, so that nothing is taken for absent on a guess.
async fn live_table_exists(migrator: &mut Migrator, table: &str) -> bool {
    let name = crate::backup::Name {
        schema: None,
        table: crate::backup::Ident {
            text: table.to_owned(),
            quoted: true,
        },
    };
    crate::backup::copy::table_exists(migrator.driver(), &name)
        .await
        .unwrap_or(true)
}

/// What the plan knows about tables while it walks the pending migrations: which ones
/// they create (nothing to count there yet), and which live tables they rename (counted
/// under the name the database has now).
#[derive(Clone, Default)]
struct Tables {
    created: BTreeSet<String>,
    /// Name in the migrations → name in the live database.
    renamed: BTreeMap<String, String>,
    /// Live tables and columns an earlier statement of the run dropped (and none since
    /// re-created): a second drop loses nothing more.
    dropped: BTreeSet<String>,
    dropped_columns: BTreeSet<(String, String)>,
    /// Columns the run added to live tables: not in the live database yet, so none of
    /// their values can be lost or counted.
    added_columns: BTreeSet<(String, String)>,
    /// (table, name in the migrations) → the column's name in the live database, for the
    /// columns the run renamed.
    renamed_columns: BTreeMap<(String, String), String>,
}

impl Tables {
    fn is_new(&self, table: &str) -> bool {
        self.created.contains(table)
    }

    /// The name `table` has in the live database.
    fn live<'a>(&'a self, table: &'a str) -> &'a str {
        self.renamed.get(table).map_or(table, String::as_str)
    }

    /// The name `table.column` has in the live database.
    fn live_column<'a>(&'a self, table: &str, column: &'a str) -> &'a str {
        self.renamed_columns
            .get(&(table.to_owned(), column.to_owned()))
            .map_or(column, String::as_str)
    }
}

/// What dropping `table` does on SQLite with foreign keys on: its implicit `DELETE`
/// deletes the rows that reference it `ON DELETE CASCADE` and nulls those `SET NULL`.
async fn sqlite_cascades(migrator: &mut Migrator, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT m.name, f.\"from\", upper(f.on_delete) FROM sqlite_master m \
         JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND lower(f.\"table\") = lower({}) AND lower(m.name) <> lower({})",
        literal(Dialect::Sqlite, table),
        literal(Dialect::Sqlite, table)
    );
    let Ok(rows) = migrator.driver().query_text(&sql).await else {
        return vec![format!(
            "the rows that reference {table} could not be looked up"
        )];
    };
    let mut out = Vec::new();
    for row in rows {
        let [Some(child), Some(column), Some(action)] = [&row[0], &row[1], &row[2]] else {
            continue;
        };
        let what = match action.as_str() {
            "CASCADE" => "deletes",
            "SET NULL" => "sets to NULL the reference in",
            "SET DEFAULT" => "sets to its default the reference in",
            _ => continue,
        };
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} IS NOT NULL",
            quote(Dialect::Sqlite, child),
            quote(Dialect::Sqlite, column)
        );
        let n_rows = count(migrator, &sql).await;
        out.push(format!(
            "{what} {} of {child} (ON DELETE {action} from {table}; foreign keys are on, nothing in the migration turns them off)",
            counted(n_rows, "row", "rows")
        ));
    }
    out
}

/// One statement, `info`, of a migration whose statements are `infos`.
async fn plan_statement(
    migrator: &mut Migrator,
    dialect: Dialect,
    infos: &[StatementInfo],
    info: &StatementInfo,
    rebuilds: &[Rebuild],
    foreign_keys_off: bool,
    tables: &mut Tables,
) -> PlannedStatement {
    let mut facts = Vec::new();
    let mut data_loss = Vec::new();
    let mut absent_drops = 0;
    let mut risk = match info.lock {
        Lock::None | Lock::AccessShare | Lock::RowExclusive | Lock::ShareUpdateExclusive => {
            Risk::Low
        }
        _ => Risk::Medium,
    };
    if !info.parsed {
        facts.push(
            "godwit's parser could not read this statement: its lock and effects are unknown"
                .into(),
        );
        risk = risk.max(Risk::Medium);
    }
    // A table this very statement creates has nothing to count; what an earlier
    // statement dropped is gone already.
    let mut dropped_before: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    for effect in &info.effects {
        match effect {
            Effect::CreateTable { table } => {
                tables.created.insert(table.clone());
                tables.dropped.remove(table);
            }
            Effect::AddColumn { table, column, .. } => {
                tables
                    .dropped_columns
                    .remove(&(table.clone(), column.clone()));
                if !tables.is_new(table) {
                    tables.added_columns.insert((table.clone(), column.clone()));
                }
            }
            Effect::DropTable { table, .. } if !tables.is_new(table) => {
                let first = tables.dropped.insert(table.clone());
                if !first {
                    dropped_before.insert((table.clone(), None));
                }
            }
            Effect::DropColumn { table, column } if !tables.is_new(table) => {
                let first = !tables.dropped.contains(table)
                    && tables
                        .dropped_columns
                        .insert((table.clone(), column.clone()));
                if !first {
                    dropped_before.insert((table.clone(), Some(column.clone())));
                }
            }
            Effect::RenameColumn { table, from, to } if !tables.is_new(table) => {
                let key = (table.clone(), from.clone());
                if tables.added_columns.remove(&key) {
                    tables.added_columns.insert((table.clone(), to.clone()));
                } else {
                    let live = tables.live_column(table, from).to_owned();
                    tables.renamed_columns.remove(&key);
                    tables
                        .renamed_columns
                        .insert((table.clone(), to.clone()), live);
                }
            }
            Effect::RenameTable { from, to } => {
                // The name holds a table again (a rebuild's new one, typically).
                tables.dropped.remove(to);
                tables.dropped_columns.retain(|(t, _)| t != to);
                if !tables.is_new(from) {
                    let live = tables.live(from).to_owned();
                    tables.renamed.insert(to.clone(), live);
                } else if rebuild::renaming(rebuilds, info.index).is_none() {
                    // A new table is still new under another name, unless it holds a
                    // rebuilt table's rows (and is then counted as the table it replaces).
                    tables.created.insert(to.clone());
                }
            }
            _ => {}
        }
    }
    let tables = &*tables;
    let q = |table: &str| quote(dialect, tables.live(table));
    // Each table is counted once per statement; the effects below reuse the counts.
    let mut known: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    for table in &info.tables {
        if tables.is_new(table) {
            continue;
        }
        let rows = rows_of(migrator, &known, table, q(table)).await;
        // A DROP TABLE IF EXISTS of a table that is not there is said once, below.
        let dropped_if_there = info
            .effects
            .iter()
            .any(|e| matches!(e, Effect::DropTable { table: t, if_exists: true } if t == table));
        if rows.is_none() && dropped_if_there {
            known.insert(table, rows);
            continue;
        }
        known.insert(table, rows);
        match rows {
            Some(rows) => {
                facts.push(format!("{table}: {}", counted(Some(rows), "row", "rows")));
                // A lock that blocks writes on a big table is an outage, not a detail.
                if info.lock.blocks_writes() && rows > 100_000 {
                    risk = Risk::High;
                }
            }
            // Not there at all (made by something the plan cannot follow: a DO block, a
            // function, a step) is no failure to count.
            None if !live_table_exists(migrator, tables.live(table)).await => {
                facts.push(match crate::adopt::history_table_owners(table, dialect) {
                    // harbor's golang-migrate files change golang-migrate's own table.
                    Some(owners) => format!(
                        "{table} is the history table of {owners}, which that tool creates and godwit does not; \
                         it is not in the database, so this statement fails unless something creates it first"
                    ),
                    None => {
                        format!("{table}: not in the database now, so there are no rows to count")
                    }
                })
            }
            None => facts.push(format!(
                "{table}: row count unavailable (the count failed or timed out)"
            )),
        }
    }
    for effect in &info.effects {
        match effect {
            Effect::DropTable { table, .. } if dropped_before.contains(&(table.clone(), None)) => {
                facts.push(format!(
                    "{table} was dropped by an earlier statement of this run: nothing more to lose"
                ));
            }
            Effect::DropColumn { table, column }
                if dropped_before.contains(&(table.clone(), Some(column.clone()))) =>
            {
                facts.push(format!(
                    "{table}.{column} was dropped by an earlier statement of this run: nothing more to lose"
                ));
            }
            Effect::DropTable { table, if_exists } if !tables.is_new(table) => {
                if dialect == Dialect::Sqlite && !foreign_keys_off {
                    let live = tables.live(table).to_owned();
                    let cascades = sqlite_cascades(migrator, &live).await;
                    if !cascades.is_empty() {
                        risk = Risk::High;
                    }
                    data_loss.extend(cascades);
                }
                if let Some(rebuild) = rebuild::dropping(rebuilds, table, info.index) {
                    let lost =
                        plan_rebuild(migrator, dialect, rebuild, &mut facts, &mut data_loss).await;
                    risk = risk.max(lost);
                    continue;
                }
                let rows = rows_of(migrator, &known, table, q(table)).await;
                if rows.is_none() && !live_table_exists(migrator, tables.live(table)).await {
                    // Not there: nothing is lost; without IF EXISTS the drop fails.
                    if *if_exists {
                        absent_drops += 1;
                        facts.push(format!("{table} does not exist: nothing to drop"));
                    } else {
                        facts.push(format!("{table} does not exist: this statement will fail"));
                        risk = Risk::High;
                    }
                    continue;
                }
                let partly = partly_copied(migrator, infos, info.index, table, tables, rows).await;
                data_loss.push(partly.unwrap_or_else(|| {
                    format!("drops table {table}: {}", counted(rows, "row", "rows"))
                }));
                risk = Risk::High;
            }
            Effect::TruncateTable { table } => {
                let rows = rows_of(migrator, &known, table, q(table)).await;
                data_loss.push(format!(
                    "truncates {table}: {}",
                    counted(rows, "row", "rows")
                ));
                risk = Risk::High;
            }
            Effect::DropColumn { table, column }
                if tables
                    .added_columns
                    .contains(&(table.clone(), column.clone())) =>
            {
                facts.push(format!(
                    "{table}.{column} is added earlier in this run: none of its values exist yet to lose"
                ));
            }
            Effect::DropColumn { table, column } if !tables.is_new(table) => {
                let sql = format!(
                    "SELECT count({}) FROM {}",
                    quote(dialect, tables.live_column(table, column)),
                    q(table)
                );
                let values = count(migrator, &sql).await;
                data_loss.push(format!(
                    "drops {table}.{column}: {}",
                    counted(values, "non-null value", "non-null values")
                ));
                risk = Risk::High;
            }
            Effect::DeleteRows { table, filtered } if !tables.is_new(table) => {
                let rows = rows_of(migrator, &known, table, q(table)).await;
                let what = if *filtered {
                    format!("deletes up to {}", counted(rows, "row", "rows"))
                } else {
                    format!("deletes all {}", counted(rows, "row", "rows"))
                };
                data_loss.push(format!("{what} of {table}"));
                risk = risk.max(if *filtered { Risk::Medium } else { Risk::High });
            }
            Effect::AddUnique { table, columns }
            | Effect::CreateIndex {
                table,
                unique: true,
                columns,
                ..
            } if !tables.is_new(table) && !columns.is_empty() => {
                // An index groups by its keys as written (expressions too) and counts
                // only the rows its WHERE takes in; a constraint's keys are columns.
                let (keys, predicate) = match effect {
                    Effect::CreateIndex {
                        keys, predicate, ..
                    } if !keys.is_empty() => (keys.clone(), predicate.as_deref()),
                    _ => (columns.iter().map(|c| quote(dialect, c)).collect(), None),
                };
                let mut filter: Vec<String> =
                    keys.iter().map(|k| format!("({k}) IS NOT NULL")).collect();
                filter.extend(predicate.map(|p| format!("({p})")));
                let sql = format!(
                    "SELECT count(*) FROM (SELECT {} FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1) d",
                    keys.join(", "),
                    q(table),
                    filter.join(" AND "),
                    keys.join(", ")
                );
                match count(migrator, &sql).await {
                    Some(0) => facts.push(format!(
                        "no duplicate ({}) in {table}: the unique constraint will hold",
                        columns.join(", ")
                    )),
                    Some(d) => {
                        facts.push(format!(
                            "{} duplicated value{} of ({}) in {table} would make this fail",
                            thousands(d),
                            if d == 1 { "" } else { "s" },
                            columns.join(", ")
                        ));
                        risk = Risk::High;
                    }
                    None => facts.push(format!(
                        "duplicates in {table} ({}) could not be counted",
                        columns.join(", ")
                    )),
                }
            }
            Effect::SetNotNull { table, column } if !tables.is_new(table) => {
                let sql = format!(
                    "SELECT count(*) FROM {} WHERE {} IS NULL",
                    q(table),
                    quote(dialect, tables.live_column(table, column))
                );
                match count(migrator, &sql).await {
                    Some(0) => facts.push(format!(
                        "no NULL in {table}.{column}: SET NOT NULL will hold"
                    )),
                    Some(nulls) => {
                        facts.push(format!(
                            "{} NULL value{} in {table}.{column} would make this fail",
                            thousands(nulls),
                            if nulls == 1 { "" } else { "s" }
                        ));
                        risk = Risk::High;
                    }
                    None => facts.push(format!("NULLs in {table}.{column} could not be counted")),
                }
            }
            Effect::AddColumn {
                table,
                column,
                not_null: true,
                has_default: false,
                ..
            } if !tables.is_new(table) => {
                let rows = rows_of(migrator, &known, table, q(table)).await;
                if rows.unwrap_or(1) > 0 {
                    facts.push(format!(
                        "{table} has {}: NOT NULL column {column} without a default will fail",
                        counted(rows, "row", "rows")
                    ));
                    risk = Risk::High;
                }
            }
            _ => {}
        }
    }
    PlannedStatement {
        number: info.index + 1,
        line: info.line,
        sql: one_line(&info.sql, 120),
        lock: described_locks(info),
        tables: info.tables.clone(),
        locks: info.locks.clone(),
        changes_data: info
            .effects
            .iter()
            .any(|e| matches!(e, Effect::UpdateRows { .. } | Effect::DeleteRows { .. }))
            || info
                .sql
                .trim_start()
                .get(..6)
                .is_some_and(|w| w.eq_ignore_ascii_case("insert")),
        drops_nothing: absent_drops > 0
            && absent_drops
                == info
                    .effects
                    .iter()
                    .filter(|e| matches!(e, Effect::DropTable { .. }))
                    .count(),
        facts,
        data_loss,
        risk,
    }
}

/// The locks a statement takes, strongest first, each with the tables it is taken on;
/// SQLite's one lock is on the whole file.
pub(crate) fn described_locks(info: &godwit_core::analyze::StatementInfo) -> String {
    if info.lock == Lock::DatabaseWrite {
        return "database write (the whole file)".into();
    }
    let mut held: Vec<Lock> = info.locks.iter().map(|l| l.lock).collect();
    held.retain(|l| *l != Lock::None);
    held.sort_by(|a, b| b.cmp(a));
    held.dedup();
    if held.is_empty() {
        return match info.lock {
            Lock::None => "none".into(),
            lock => lock.name().to_string(),
        };
    }
    held.iter()
        .map(|lock| {
            let tables: Vec<&str> = info
                .locks
                .iter()
                .filter(|l| l.lock == *lock)
                .map(|l| l.table.as_str())
                .collect();
            format!("{} on {}", lock.name(), tables.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The terminal version.
pub fn human(plan: &Plan) -> String {
    let mut out = format!("{}\n", plan.database);
    if !plan.database_findings.is_empty() {
        out.push_str("\nThe database as it is now (validator plugins):\n");
        for f in &plan.database_findings {
            out.push_str(&format!("  {}\n", finding_line(f)));
        }
    }
    out.push_str(&enforcement_lines(plan));
    if let Some(refused) = &plan.refused {
        out.push_str(&format!(
            "\n`godwit deploy` would apply nothing now: {}\n\n",
            refused.replace('\n', "\n  ")
        ));
    }
    if plan.migrations.is_empty() {
        out.push_str("Nothing to plan: no pending migrations.\n");
        return out;
    }
    for m in &plan.migrations {
        let step_mode;
        let mode = if let Some(plugin) = &m.step {
            step_mode =
                format!("plugin step run by {plugin}: a transaction and a checkpoint per batch");
            step_mode.as_str()
        } else if m.foreign_keys_off {
            step_mode = format!("{}, with SQLite's foreign keys off", m.mode.describe());
            step_mode.as_str()
        } else {
            step_mode = m.mode.describe();
            step_mode.as_str()
        };
        out.push_str(&format!(
            "\n{}  risk {}  ({mode})\n",
            m.id,
            m.risk.label().to_uppercase()
        ));
        for s in &m.statements {
            out.push_str(&format!(
                "  {:>2}. {}\n      lock: {}\n",
                s.number, s.sql, s.lock
            ));
            for fact in s.facts.iter().chain(&s.data_loss) {
                out.push_str(&format!("      {fact}\n"));
            }
            for f in m
                .findings
                .iter()
                .filter(|f| f.location.statement == Some(s.number) && on_up(f, &m.up_path))
            {
                out.push_str(&format!(
                    "      {} {} {}: {}\n",
                    f.severity.as_str(),
                    f.code,
                    f.rule,
                    f.message
                ));
            }
        }
        for f in m.findings.iter().filter(|f| f.location.statement.is_none()) {
            out.push_str(&format!("  {}\n", finding_line(f)));
        }
        // crates.io's GW015 on a down.sql: counted in the totals, so shown too.
        for f in m
            .findings
            .iter()
            .filter(|f| f.location.statement.is_some() && !on_up(f, &m.up_path))
        {
            let file = f
                .location
                .file
                .as_deref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let line = f.location.line.map(|l| format!(":{l}")).unwrap_or_default();
            out.push_str(&format!("  {file}{line}: {}\n", finding_line(f)));
        }
        if !m.has_down {
            out.push_str("  no down.sql: `godwit down` cannot revert this one\n");
        }
    }
    out.push_str(&format!(
        "\nOverall risk: {}. {} finding{} ({} error{}).",
        plan.risk.label(),
        plan.findings,
        if plan.findings == 1 { "" } else { "s" },
        plan.errors,
        if plan.errors == 1 { "" } else { "s" }
    ));
    if plan.findings_on_new_tables > 0 {
        out.push_str(&format!(
            " {} more that `godwit lint` reports {} left out: {} about tables an earlier migration of this run creates, which nothing uses yet when {} run{}.",
            plan.findings_on_new_tables,
            if plan.findings_on_new_tables == 1 { "is" } else { "are" },
            if plan.findings_on_new_tables == 1 { "it is" } else { "they are" },
            if plan.findings_on_new_tables == 1 { "it" } else { "they" },
            if plan.findings_on_new_tables == 1 { "s" } else { "" },
        ));
    }
    if plan.findings_on_absent_tables > 0 {
        out.push_str(&format!(
            " {} that `godwit lint` reports about dropping a table {} left out: the table is not in the database, so the DROP … IF EXISTS drops nothing.",
            plan.findings_on_absent_tables,
            if plan.findings_on_absent_tables == 1 { "is" } else { "are" },
        ));
    }
    if !plan.data_loss.is_empty() {
        out.push_str(&format!("\nData loss: {}.", plan.data_loss.join("; ")));
    }
    out
}

/// One finding on one line; a validator plugin's is marked with the plugin's name.
/// Whether `f` is about the up script (a finding without a file is).
fn on_up(f: &Finding, up: &std::path::Path) -> bool {
    f.location.file.as_deref().is_none_or(|file| file == up)
}

fn finding_line(f: &Finding) -> String {
    let code = if f.code == f.rule {
        f.rule.clone()
    } else {
        format!("{} {}", f.code, f.rule)
    };
    let from = if f.source == "godwit" {
        String::new()
    } else {
        format!(" (from {})", f.source)
    };
    format!("{} {code}: {}{from}", f.severity.as_str(), f.message)
}

/// A pull-request comment: summary, tables at risk, data, rollback.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::from("## godwit plan\n\n");
    if let Some(refused) = &plan.refused {
        out.push_str(&format!(
            "**`godwit deploy` would apply nothing now:**\n\n```\n{refused}\n```\n\n"
        ));
    }
    if plan.migrations.is_empty() {
        out.push_str("No pending migrations.\n");
        return out;
    }
    out.push_str(&format!(
        "**{} pending migration{}**, overall risk **{}**, {} finding{} ({} error{}).\n\n",
        plan.migrations.len(),
        if plan.migrations.len() == 1 { "" } else { "s" },
        plan.risk.label(),
        plan.findings,
        if plan.findings == 1 { "" } else { "s" },
        plan.errors,
        if plan.errors == 1 { "" } else { "s" }
    ));
    out.push_str(
        "### Tables modified\n\n| migration | statement | locks | risk |\n|---|---|---|---|\n",
    );
    for m in &plan.migrations {
        for s in &m.statements {
            out.push_str(&format!(
                "| `{}` | {}. `{}` | {} | {} |\n",
                m.id,
                s.number,
                s.sql.replace('|', "\\|"),
                s.lock,
                s.risk.label()
            ));
        }
    }
    let enforcement = enforcement_lines(plan);
    if !enforcement.is_empty() {
        out.push_str(&format!(
            "\n### Plugin enforcement\n\n```\n{}```\n",
            enforcement.trim_start_matches('\n')
        ));
    }
    out.push_str("\n### Data migration\n\n");
    let rewrites: Vec<String> = plan
        .migrations
        .iter()
        .flat_map(|m| {
            m.statements
                .iter()
                .filter(|s| s.changes_data)
                .map(move |s| format!("- `{}` {}. `{}`\n", m.id, s.number, s.sql))
        })
        .collect();
    if rewrites.is_empty() {
        out.push_str("- No statement rewrites rows.\n");
    }
    out.extend(rewrites);
    out.push_str("\n### Data at stake\n\n");
    let mut facts: Vec<String> = plan
        .migrations
        .iter()
        .flat_map(|m| m.statements.iter().flat_map(|s| s.facts.clone()))
        .collect();
    let mut seen = BTreeSet::new();
    facts.retain(|f| seen.insert(f.clone()));
    if plan.data_loss.is_empty() {
        out.push_str("- No data is destroyed.\n");
    }
    for loss in &plan.data_loss {
        out.push_str(&format!("- :warning: {loss}\n"));
    }
    for fact in facts {
        out.push_str(&format!("- {fact}\n"));
    }
    let findings: Vec<&Finding> = plan
        .migrations
        .iter()
        .flat_map(|m| &m.findings)
        .chain(&plan.database_findings)
        .collect();
    if !findings.is_empty() {
        out.push_str("\n### Findings\n\n");
        for f in findings {
            out.push_str(&format!(
                "- **{}** `{}` {} — {}{}\n",
                f.severity.as_str(),
                f.code,
                f.location.migration.as_deref().unwrap_or(""),
                f.message,
                f.help
                    .as_ref()
                    .map(|h| format!(" _({h})_"))
                    .unwrap_or_default()
            ));
        }
    }
    out.push_str("\n### Rollback plan\n\n");
    for m in plan.migrations.iter().rev() {
        let how = if m.has_down {
            "`godwit down` runs its down.sql"
        } else {
            "no down.sql: restore from a backup or revert by hand"
        };
        out.push_str(&format!("- `{}`: {how}\n", m.id));
    }
    out
}
