//! `godwit adopt`: take over a database another tool migrated. The other tool's history
//! table says what it applied; godwit records the same migrations as applied in its own
//! history (never running them), reports what that tool marked failed or what differs
//! from the files, and leaves the other tool's table exactly as it was.

use serde::Serialize;
use sha2::{Digest, Sha256, Sha384};

use crate::error::Error;
use godwit_core::Dialect;
pub use godwit_core::foreign::{OtherHistory, Tool, history_table_owners};
use godwit_core::history::{self, Operation, RowState, Status};
use godwit_core::source::{Migration, Version};
use godwit_db::{Driver, new_row};

/// How the other tool names a migration in its table.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    /// Prisma's directory name.
    Name(String),
    Version(Version),
    /// This version and no other, whatever the tool's `Version` means (golang-migrate's
    /// means every version up to it).
    Only(Version),
    /// Drizzle's journal timestamp.
    CreatedAt(i64),
    /// Flyway's repeatable script, by description.
    Repeatable(String),
    /// Flyway's `baseline` marker (`<< Flyway Baseline >>`, type BASELINE): every
    /// versioned migration up to this one was in the database before Flyway took over,
    /// and Flyway never runs them; the marker is no migration of its own.
    BaselineMarker(Version),
}

#[derive(Clone, Debug)]
struct ForeignRow {
    key: Key,
    applied: bool,
    /// The tool's checksum, as the matching [`tool_checksum`] computes it.
    checksum: Option<String>,
}

impl AdoptReport {
    /// The other tool's table has rows, and none of them names a migration in the folder:
    /// nothing was recorded, so deploy still refuses (a wrong folder, most likely).
    pub fn matched_nothing(&self) -> bool {
        self.adopted.is_empty()
            && self.already_recorded.is_empty()
            && self.failed.is_empty()
            && !self.unknown.is_empty()
    }

    /// Something was recorded that `godwit deploy` stops on: a migration the tool marked
    /// failed, or one changed since a tool that refuses changed files applied it.
    pub fn needs_attention(&self) -> bool {
        !self.failed.is_empty() || (self.refuses_changed && !self.differs.is_empty())
    }
}

/// What adopt did, migration by migration.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AdoptReport {
    pub tool: String,
    pub table: String,
    /// Recorded as applied in godwit's history.
    pub adopted: Vec<String>,
    /// godwit's history already had them.
    pub already_recorded: Vec<String>,
    /// The other tool marked them failed: recorded as failed, so deploy waits for `resolve`.
    pub failed: Vec<String>,
    /// Applied, but the file changed since (the tool's checksum differs).
    pub differs: Vec<String>,
    /// The tool refuses changed files, so those in `differs` were recorded modified.
    pub refuses_changed: bool,
    /// In the other tool's table, with no file in the folder.
    pub unknown: Vec<String>,
    /// Not applied by the other tool: the next `godwit deploy` applies them.
    pub pending: Vec<String>,
}

/// The tools whose history table exists in this database, with their row counts.
async fn present(driver: &mut dyn Driver, dialect: Dialect) -> Result<Vec<Tool>, Error> {
    Ok(histories(driver, dialect)
        .await?
        .into_iter()
        .map(|h| h.tool)
        .collect())
}

/// Other tools' history tables in this database, and how many rows each holds.
pub(crate) async fn histories(
    driver: &mut dyn Driver,
    dialect: Dialect,
) -> Result<Vec<OtherHistory>, Error> {
    let mut found = Vec::new();
    for tool in Tool::ALL {
        if tool == Tool::GolangMigrate {
            continue; // the same table as dbmate's, told apart below
        }
        let sql = godwit_db::foreign::count_sql(tool, dialect);
        let found_tool = match driver.query_i64(&sql).await {
            Ok(rows) if tool == Tool::Dbmate => {
                // dbmate and golang-migrate share the table name; golang-migrate's has `dirty`.
                let dirty = godwit_db::foreign::golang_migrate_probe_sql(dialect);
                let tool = if driver.query_i64(&dirty).await.is_ok() {
                    Tool::GolangMigrate
                } else {
                    Tool::Dbmate
                };
                (tool, rows)
            }
            Ok(rows) => (tool, rows),
            Err(e) if e.is_undefined_table() || e.is_undefined_schema() => continue,
            Err(e) => {
                return Err(Error::db(
                    format!("cannot look for {}", tool.table(dialect)),
                    &e,
                ));
            }
        };
        found.push(OtherHistory {
            tool: found_tool.0,
            table: found_tool.0.table(dialect).to_string(),
            rows: found_tool.1.unwrap_or(0),
        });
    }
    Ok(found)
}

async fn read_foreign(
    driver: &mut dyn Driver,
    tool: Tool,
    dialect: Dialect,
) -> Result<Vec<ForeignRow>, Error> {
    let table = tool.table(dialect);
    let sql = godwit_db::foreign::rows_sql(tool, dialect);
    let rows = driver
        .query_text(&sql)
        .await
        .map_err(|e| Error::db(format!("cannot read {table}"), &e))?;
    let truthy = |v: &Option<String>| matches!(v.as_deref(), Some("true" | "t" | "1"));
    let version = |v: &Option<String>| v.as_deref().and_then(Version::parse);
    let mut out = Vec::new();
    for r in rows {
        let row = match tool {
            Tool::Prisma => {
                if r[3].is_some() {
                    continue; // rolled back: it does not count either way
                }
                ForeignRow {
                    key: Key::Name(r[0].clone().unwrap_or_default()),
                    applied: r[2].is_some(),
                    checksum: r[1].clone(),
                }
            }
            Tool::Drizzle => {
                let Some(when) = r[0].as_deref().and_then(|w| w.parse().ok()) else {
                    continue;
                };
                ForeignRow {
                    key: Key::CreatedAt(when),
                    applied: true,
                    checksum: r[1].clone(),
                }
            }
            Tool::Sqlx => {
                let Some(v) = version(&r[0]) else { continue };
                ForeignRow {
                    key: Key::Version(v),
                    applied: truthy(&r[1]),
                    checksum: r[2].clone(),
                }
            }
            Tool::Flyway => {
                let kind = r[4].clone().unwrap_or_default();
                if kind == "SCHEMA" || kind == "DELETE" {
                    continue;
                }
                let key = match version(&r[0]) {
                    // A baseline migration (`B1.2__x.sql`) Flyway applied to an empty
                    // database, recorded under its number.
                    Some(v) if kind == "SQL_BASELINE" => Key::Version(Version::baseline(&v)),
                    Some(v) if kind == "BASELINE" => Key::BaselineMarker(v),
                    Some(v) => Key::Version(v),
                    None => Key::Repeatable(r[1].clone().unwrap_or_default().replace(' ', "_")),
                };
                let checksum = if kind == "BASELINE" {
                    None
                } else {
                    r[2].clone()
                };
                ForeignRow {
                    key,
                    applied: truthy(&r[3]),
                    checksum,
                }
            }
            Tool::Goose => {
                let Some(v) = version(&r[0]).filter(|v| v.as_str() != "0") else {
                    continue;
                };
                // Older goose versions record a down as a row with is_applied = false.
                out.retain(|f: &ForeignRow| f.key != Key::Version(v.clone()));
                if !truthy(&r[1]) {
                    continue;
                }
                ForeignRow {
                    key: Key::Version(v),
                    applied: true,
                    checksum: None,
                }
            }
            Tool::Dbmate => {
                let Some(v) = version(&r[0]) else { continue };
                ForeignRow {
                    key: Key::Version(v),
                    applied: true,
                    checksum: None,
                }
            }
            Tool::GolangMigrate => {
                // One row: everything up to `version` is applied, except that `dirty` means
                // that one failed (the later row, about it alone, decides for it).
                let Some(v) = version(&r[0]) else { continue };
                if truthy(&r[1]) {
                    out.push(ForeignRow {
                        key: Key::Version(v.clone()),
                        applied: true,
                        checksum: None,
                    });
                    ForeignRow {
                        key: Key::Only(v),
                        applied: false,
                        checksum: None,
                    }
                } else {
                    ForeignRow {
                        key: Key::Version(v),
                        applied: true,
                        checksum: None,
                    }
                }
            }
            // A row per applied migration, deleted again by a down; nothing records a
            // failure (a failed migration is rolled back, or left to a person).
            Tool::Diesel | Tool::Popx => {
                let Some(v) = version(&r[0]) else { continue };
                ForeignRow {
                    key: Key::Version(v),
                    applied: true,
                    checksum: None,
                }
            }
        };
        out.push(row);
    }
    Ok(out)
}

/// The checksum each tool stores, computed from the file as it is now.
fn tool_checksum(tool: Tool, migration: &Migration) -> Option<Vec<String>> {
    let raw = std::fs::read(&migration.up.path).ok()?;
    match tool {
        // Prisma and Drizzle hash the file's text; accept it with and without CRLF.
        Tool::Prisma | Tool::Drizzle => {
            let normal = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
            Some(vec![
                hex_digest(Sha256::digest(&raw).as_slice()),
                hex_digest(Sha256::digest(normal.as_bytes()).as_slice()),
            ])
        }
        Tool::Sqlx => Some(vec![hex_digest(Sha384::digest(&raw).as_slice())]),
        Tool::Flyway => Some(vec![flyway_checksum(&raw).to_string()]),
        _ => None,
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Flyway's CRC32: each line without its line ending (and the BOM), as a signed int.
fn flyway_checksum(raw: &[u8]) -> i32 {
    let text =
        String::from_utf8_lossy(raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)).into_owned();
    let mut crc = crc32fast::Hasher::new();
    for line in text.split('\n') {
        crc.update(line.trim_end_matches('\r').as_bytes());
    }
    crc.finalize() as i32
}

fn matches(tool: Tool, key: &Key, m: &Migration) -> bool {
    match key {
        Key::Name(name) => m.origin == *name,
        Key::CreatedAt(when) => m.created_at == Some(*when),
        Key::Version(v) if tool == Tool::GolangMigrate => {
            !m.version.is_repeatable() && m.version <= *v
        }
        // popx still honours rows its older versions wrote: the first 14 digits of a
        // longer version (`20191100000001` for `20191100000001000003`).
        Key::Version(v) if tool == Tool::Popx => {
            let mine = m.version.as_str();
            mine == v.as_str() || (mine.len() > 14 && &mine[..14] == v.as_str())
        }
        // diesel compares the text it recorded, which is not always the directory's
        // version (`2024-03-13_170000_x` is recorded as `20240313`).
        Key::Version(v) if tool == Tool::Diesel => {
            godwit_core::source::diesel_recorded_version(&m.origin) == v.as_str()
        }
        Key::Version(v) | Key::Only(v) => m.version.same_number(v),
        Key::BaselineMarker(v) => {
            !m.version.is_repeatable() && !m.version.is_baseline() && m.version <= *v
        }
        Key::Repeatable(name) => m.version.is_repeatable() && m.name == *name,
    }
}

/// Other tools' history tables holding rows, when godwit's own history is empty: the
/// database was migrated by another tool and not adopted yet. Reads only.
pub async fn unadopted_histories(
    driver: &mut dyn Driver,
    dialect: Dialect,
) -> Result<Vec<OtherHistory>, Error> {
    if !driver.history().await?.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = histories(driver, dialect).await?;
    found.retain(|h| h.rows > 0);
    Ok(found)
}

/// What another tool recorded, read before the lock is taken: the first half of
/// `godwit adopt` ([`crate::migrator::Migrator::adopt`]); [`Adoption::record`] is the rest.
pub struct Adoption {
    tool: Tool,
    dialect: Dialect,
    foreign: Vec<ForeignRow>,
}

impl Adoption {
    /// Finds `tool`'s history table (the only one there, when `None`) and reads its rows.
    pub async fn read(
        driver: &mut dyn Driver,
        dialect: Dialect,
        tool: Option<Tool>,
    ) -> Result<Adoption, Error> {
        let found = present(driver, dialect).await?;
        let tool = match (tool, found.as_slice()) {
            (Some(tool), _)
                if found.contains(&tool)
                    || (tool == Tool::Dbmate && found.contains(&Tool::GolangMigrate)) =>
            {
                tool
            }
            (Some(tool), _) => {
                return Err(Error::Config(format!(
                    "there is no {} table ({}) in this database",
                    tool.name(),
                    tool.table(dialect)
                )));
            }
            (None, [one]) => *one,
            (None, []) => {
                return Err(Error::Config(
                    "found no history table of Prisma, Drizzle, sqlx, Flyway, goose, dbmate, golang-migrate, diesel or popx in this database; \
                     for a database no tool tracked, use `godwit baseline VERSION`"
                        .into(),
                ));
            }
            (None, many) => {
                let names: Vec<&str> = many.iter().map(|t| t.name()).collect();
                return Err(Error::Config(format!(
                    "found history tables of {}; say which one to adopt with `--from`",
                    names.join(" and ")
                )));
            }
        };
        let foreign = read_foreign(driver, tool, dialect).await?;
        Ok(Adoption {
            tool,
            dialect,
            foreign,
        })
    }

    /// Records what the tool applied of `migrations` as applied in godwit's history; run
    /// under the migration lock.
    pub async fn record(
        &self,
        driver: &mut dyn Driver,
        migrations: &[Migration],
    ) -> Result<AdoptReport, Error> {
        record_adoption(driver, self.tool, self.dialect, &self.foreign, migrations).await
    }
}

async fn record_adoption(
    driver: &mut dyn Driver,
    tool: Tool,
    dialect: Dialect,
    foreign: &[ForeignRow],
    migrations: &[Migration],
) -> Result<AdoptReport, Error> {
    driver.ensure_history_table().await?;
    let rows = driver.history().await?;
    // The Flyway baseline the other tool took, if any, decides which files are this
    // database's path, as godwit's own history would once the rows are recorded.
    let recorded: Vec<Version> = foreign
        .iter()
        .filter_map(|f| match &f.key {
            Key::Version(v) | Key::Only(v) | Key::BaselineMarker(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let migrations = if rows.is_empty() && !foreign.is_empty() {
        history::Baseline::from_recorded(migrations, &recorded).path(migrations)
    } else {
        migrations.to_vec()
    };
    let migrations = &migrations[..];
    let entries = history::entries(migrations, &rows);
    let mut report = AdoptReport {
        tool: tool.name().into(),
        table: tool.table(dialect).into(),
        refuses_changed: tool.refuses_changed_files(),
        ..Default::default()
    };
    for f in foreign {
        if !migrations.iter().any(|m| matches(tool, &f.key, m)) {
            report.unknown.push(match &f.key {
                Key::Name(n) => n.clone(),
                Key::Version(v) | Key::Only(v) => v.to_string(),
                Key::CreatedAt(w) => format!("journal entry {w}"),
                Key::Repeatable(r) => format!("R__{r}"),
                // A marker below every file names no migration that could be missing.
                Key::BaselineMarker(_) => continue,
            });
        }
    }
    for entry in &entries {
        let Some(migration) = entry.migration else {
            continue;
        };
        let id = migration.id();
        // The newest row about this migration decides (Prisma may retry one).
        let Some(row) = foreign
            .iter()
            .rev()
            .find(|f| matches(tool, &f.key, migration))
        else {
            report.pending.push(id);
            continue;
        };
        // Rolled back in godwit's history means nothing of godwit's attempt is in
        // effect (a deploy that met this tool's objects, then `resolve --rolled-back`):
        // what the other tool applied is what counts.
        if !matches!(
            entry.status,
            Status::Pending | Status::OutOfOrder | Status::RolledBack
        ) {
            report.already_recorded.push(id);
            continue;
        }
        let state = if row.applied {
            RowState::Applied
        } else {
            RowState::Failed
        };
        let differs = match (&row.checksum, tool_checksum(tool, migration)) {
            (Some(theirs), Some(ours)) => !ours.iter().any(|o| o.eq_ignore_ascii_case(theirs)),
            _ => false,
        };
        let mut history = new_row(migration, Operation::Adopt, state, 0);
        if differs && tool.refuses_changed_files() {
            // What the tool applied is not the file godwit would checksum now; the tool's
            // own checksum stands for it, so status shows the migration modified and
            // deploy refuses, as the tool did, until the file is restored or
            // `resolve --applied` records it.
            if let Some(theirs) = &row.checksum {
                history.checksum = format!("{}:{theirs}", tool.name());
            }
        }
        history.finished_at = Some(history.started_at.clone());
        history.duration_ms = Some(0);
        if state == RowState::Failed {
            history.error = Some(format!(
                "{} recorded this migration as failed; inspect the schema, then `godwit resolve --applied {v}` or `godwit resolve --rolled-back {v}`",
                tool.name(),
                v = migration.version
            ));
            report.failed.push(id.clone());
        } else {
            report.adopted.push(id.clone());
        }
        if differs {
            report.differs.push(id);
        }
        driver
            .insert_history(&history)
            .await
            .map_err(|e| Error::db("cannot record the adoption", &e))?;
    }
    Ok(report)
}

/// What `status` says about a database another tool migrated and godwit has not adopted.
pub fn unadopted_note(found: &[OtherHistory]) -> String {
    let mut out = String::new();
    for h in found {
        out.push_str(&format!(
            "{} migrated this database: {} has {} row{}, and godwit's history is empty.\n",
            h.tool.name(),
            h.table,
            h.rows,
            if h.rows == 1 { "" } else { "s" }
        ));
    }
    let from = match found {
        [one] => format!(
            "`godwit adopt` (or `godwit adopt --from {}`)",
            one.tool.name()
        ),
        _ => "`godwit adopt --from TOOL`".to_string(),
    };
    out.push_str(&format!(
        "  `godwit deploy` refuses to run the migrations again over what it applied: run {from} to record them as applied, running nothing."
    ));
    out
}

/// What a person reads after `godwit adopt`.
pub fn human(report: &AdoptReport) -> String {
    let mut out = format!("Read {} ({}).\n", report.table, report.tool);
    let list = |out: &mut String, title: &str, items: &[String]| {
        if !items.is_empty() {
            out.push_str(&format!(
                "{title} ({}):\n  {}\n",
                items.len(),
                items.join("\n  ")
            ));
        }
    };
    list(&mut out, "Recorded as applied", &report.adopted);
    list(
        &mut out,
        "Already in godwit's history",
        &report.already_recorded,
    );
    list(
        &mut out,
        &format!(
            "Marked failed by {} — recorded as failed; `godwit resolve` each",
            report.tool
        ),
        &report.failed,
    );
    let changed = if report.refuses_changed {
        format!(
            "Changed since they were applied (the tool's checksum differs from the file): recorded with {}'s checksum, so \
             `godwit status` shows them modified and `godwit deploy` refuses, as {} did, until each file is restored or \
             `godwit resolve --applied V` records it as it is now",
            report.tool, report.tool
        )
    } else {
        format!(
            "Changed since they were applied (the tool's checksum differs from the file; {} runs them anyway): recorded as \
             applied, as they are now",
            report.tool
        )
    };
    list(&mut out, &changed, &report.differs);
    list(
        &mut out,
        &format!("In {} but not in the folder", report.table),
        &report.unknown,
    );
    list(
        &mut out,
        "Not applied yet: `godwit deploy` will apply",
        &report.pending,
    );
    out.push_str(&format!("{} was not modified.", report.table));
    if report.matched_nothing() {
        out.push_str(&format!(
            "\nNothing was recorded: no row of {table} names a migration in this folder, so godwit's history is still empty and \
             `godwit deploy` still refuses. Check that `migrations` in godwit.toml names the folder {tool} ran; if these migrations \
             have nothing to do with {table}, `godwit deploy --ignore-other-history` applies them all.",
            table = report.table,
            tool = report.tool
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every history table adopt reads is bookkeeping to verify and diff, not drift.
    #[test]
    fn every_tools_history_table_is_bookkeeping() {
        for tool in Tool::ALL {
            for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
                let table = tool.table(dialect);
                let bare = table.rsplit('.').next().unwrap_or(table);
                assert!(
                    godwit_core::schema::is_bookkeeping_table(bare),
                    "{}: {table}",
                    tool.name()
                );
            }
        }
    }

    #[test]
    fn flyway_checksum_ignores_line_endings_and_bom() {
        let lf = flyway_checksum(b"CREATE TABLE a (id int);\nSELECT 1;\n");
        let crlf = flyway_checksum(b"\xEF\xBB\xBFCREATE TABLE a (id int);\r\nSELECT 1;\r\n");
        assert_eq!(lf, crlf);
        assert_ne!(
            lf,
            flyway_checksum(b"CREATE TABLE b (id int);\nSELECT 1;\n")
        );
    }
}
