//! Copies of exactly the data a destructive statement destroys, kept where the
//! application never sees them.
//!
//! Before a deploy runs `DROP TABLE t` it copies `t`; before `ALTER TABLE t DROP COLUMN
//! c` it copies `t`'s primary key and `c`. Only data that existed before the run is
//! copied: a table or column the run itself created is not (see `created.rs`), nor is an
//! empty table. Copies live in a namespace of godwit's own (see `store.rs`): the schema
//! `godwit_copies` on PostgreSQL, the database `<database>_godwit_copies` on MySQL, an
//! attached file on SQLite. Each copy is recorded there, in `godwit_data_copies`.
//!
//! What each database does its own way (where the store is, what its catalog says of a
//! table, how rows go back) is its `<database>/copy.rs`, a `CopyDialect` that `of`
//! returns; this module and its children do the rest for every database.
//!
//! A copy must never stand in the way of a later, valid migration. So it is a plain
//! table made by `CREATE TABLE … AS SELECT`: no defaults, constraints, indexes,
//! sequences, triggers or foreign keys, nothing that refers to the application's
//! objects. On PostgreSQL, where columns depend on their types, a column of the
//! application's type (enum, composite, range, an extension's type, arrays of them) is
//! kept as text and a domain as its built-in base type, with the original type recorded;
//! putting the data back casts each value to the type the column has then. Privileges
//! that default privileges hand to other roles are revoked, so that no `DROP ROLE` finds
//! a copy in its way.
//!
//! On PostgreSQL and SQLite the copy is made in the migration's own transaction, so it
//! exists exactly when the drop happened. When `godwit down` reverts that migration and
//! its down.sql has re-created the table or column, the data is put back (rows
//! inserted, or the column updated by primary key) and the copy dropped; otherwise the
//! copy stays, and the run says so. `godwit backups` lists the copies that remain and
//! `godwit backups prune --copies` drops them.
//!
//! A dropped column of a table without a primary key is not copied: its values could
//! not be matched back to their rows, and a restore that may give rows each other's
//! values is worse than none. The run says so, and the whole-database backup has them.

mod catalog;
pub(crate) mod created;
mod store;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use self::catalog::{Column, Stored, Table};
use self::store::{MAX_NAME, Store};
use crate::error::{SqlError, SqlErrorKind};
use crate::history::now_rfc3339;
use crate::relation::CopyDialect;
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::analyze::creates::effects;
use godwit_core::analyze::destroys::{Destroys, Name};
use godwit_core::split::Statement;
use godwit_core::sql::{literal, quote};

pub use self::store::SCHEMA;

/// What happened to one piece of data a statement destroys or a revert restores.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CopyOutcome {
    /// Copied before the statement ran.
    Copied {
        source: String,
        copy_table: String,
        rows: i64,
    },
    /// Not copied; the reason says why and what protects the data instead.
    NotCopied { source: String, reason: String },
    /// No copy can be kept in this database at all (told once per run).
    Unavailable { reason: String },
    /// Put back after down.sql re-created it; the copy is dropped.
    Restored {
        source: String,
        copy_table: String,
        rows: i64,
    },
    /// Not put back, so the copy stays.
    Kept {
        source: String,
        copy_table: String,
        reason: String,
    },
}

/// The statements' drops whose data is copied (truncates and deletes are left to the
/// whole-database backup: copying every deleted row would double a purge's work).
pub fn copied(sql: &str, dialect: Dialect) -> Vec<Destroys> {
    godwit_core::analyze::destroys::destroys(sql, dialect)
        .into_iter()
        .filter(is_copied)
        .collect()
}

/// Drops of a table or a column, whose data is copied.
fn is_copied(what: &Destroys) -> bool {
    matches!(what, Destroys::Table(_) | Destroys::Column(..))
}

/// Whether the table a statement names exists now.
pub async fn table_exists(driver: &mut dyn Session, name: &Name) -> Result<bool, SqlError> {
    let table = Table::from_name(driver.dialect(), name);
    Ok(!catalog::columns(driver, &table).await?.is_empty())
}

/// Whether the table a statement names exists now and holds at least one row.
pub async fn table_has_rows(driver: &mut dyn Session, name: &Name) -> Result<bool, SqlError> {
    let table = Table::from_name(driver.dialect(), name);
    if catalog::columns(driver, &table).await?.is_empty() {
        return Ok(false);
    }
    catalog::has_rows(driver, &table).await
}

/// Whether the database holds any table besides godwit's own (its history, lock and
/// copies): in any schema on PostgreSQL, in the connected database on MySQL, in the file
/// on SQLite.
pub async fn has_tables(driver: &mut dyn Session) -> Result<bool, SqlError> {
    let sql = of(driver.dialect()).has_tables_sql();
    Ok(driver.query_i64(sql).await?.unwrap_or(0) > 0)
}

/// How `dialect` keeps, reads and puts back copies.
pub(crate) fn of(dialect: Dialect) -> &'static dyn CopyDialect {
    match dialect {
        Dialect::Postgres => &crate::postgres::copy::Copies,
        Dialect::MySql => &crate::mysql::copy::Copies,
        Dialect::Sqlite => &crate::sqlite::copy::Copies,
    }
}

/// States a record goes through. Live copies are `copied`, `kept` and `superseded`.
mod state {
    /// Made by a deploy; the next `down` of its migration puts it back.
    pub const COPIED: &str = "copied";
    /// `down` could not put it back; it stays until pruned.
    pub const KEPT: &str = "kept";
    /// The same statement was run again (a retried deploy) and copied anew.
    pub const SUPERSEDED: &str = "superseded";
    /// Put back; the copy table is gone.
    pub const RESTORED: &str = "restored";
    /// Dropped by `godwit backups prune --copies`, or after a restore put the data back.
    pub const PRUNED: &str = "pruned";
    pub const LIVE: &str = "('copied', 'kept', 'superseded')";
}

/// A deploy or down's handle on the copies: where they go, and what the run created.
pub struct Copier {
    store: Store,
    dialect: Dialect,
    /// `(version, statement, ordinal)` of the drops of tables or columns the run created.
    skip: HashSet<(String, usize, usize)>,
    /// Copies this run made, so that a restore of the whole database can drop them.
    made: Vec<String>,
    told_unavailable: bool,
}

impl Copier {
    /// Before a deploy: `None` when nothing in the plan drops a table or column, so a run
    /// without drops does no extra work. `plan` is each migration's version, the
    /// statement it starts at (after a resume) and its statements.
    pub async fn for_deploy(
        driver: &mut dyn Session,
        plan: &[(String, usize, &[Statement])],
    ) -> Result<Option<Copier>, SqlError> {
        let drops = plan.iter().any(|(_, from, statements)| {
            statements
                .iter()
                .skip(*from)
                .any(|s| !copied(&s.sql, driver.dialect()).is_empty())
        });
        if !drops {
            return Ok(None);
        }
        let store = Store::locate(driver).await?;
        let names = created::Names {
            dialect: driver.dialect(),
            current: store.namespace.clone(),
        };
        let (tables, columns) = created::wanted_for_snapshot(
            plan.iter()
                .flat_map(|(_, from, s)| s.iter().skip(*from).map(|s| s.sql.as_str())),
            names.dialect,
        );
        let existing = if tables {
            catalog::snapshot(driver, &names, &columns).await?
        } else {
            created::Existing::default()
        };
        let dialect = names.dialect;
        let mut run = created::Run::new(names, existing);
        let mut skip = HashSet::new();
        for (version, from, statements) in plan {
            for (index, statement) in statements.iter().enumerate().skip(*from) {
                let drops = godwit_core::analyze::destroys::destroys(&statement.sql, dialect);
                for (k, what) in drops.iter().filter(|d| is_copied(d)).enumerate() {
                    if !run.destroys_old_data(what) {
                        skip.insert((version.clone(), index + 1, k + 1));
                    }
                }
                run.apply(&drops, &effects(&statement.sql, dialect));
            }
        }
        Ok(Some(Copier {
            store,
            dialect,
            skip,
            made: Vec::new(),
            told_unavailable: false,
        }))
    }

    /// Before a down: copies are put back from wherever they are.
    pub async fn for_down(driver: &mut dyn Session) -> Result<Copier, SqlError> {
        Ok(Copier {
            store: Store::locate(driver).await?,
            dialect: driver.dialect(),
            skip: HashSet::new(),
            made: Vec::new(),
            told_unavailable: false,
        })
    }

    /// Whether these statements of `version` may copy something.
    pub fn may_copy(&self, version: &str, statements: &[Statement]) -> bool {
        statements.iter().enumerate().any(|(i, s)| {
            (1..=copied(&s.sql, self.dialect).len())
                .any(|k| !self.skip.contains(&(version.to_string(), i + 1, k)))
        })
    }

    /// Before a migration's transaction begins: SQLite attaches the copies file (ATTACH
    /// is refused inside a transaction). `create` for a deploy that may copy; a down only
    /// opens a file that exists.
    pub async fn enter(&mut self, driver: &mut dyn Session, create: bool) -> Result<(), SqlError> {
        self.store.attach(driver, create).await.map(drop)
    }

    /// After the migration's transaction ended: SQLite detaches the copies file, so that
    /// nothing else the run does (plugin steps above all) can reach it.
    pub async fn leave(&mut self, driver: &mut dyn Session) -> Result<(), SqlError> {
        self.store.detach(driver).await
    }

    /// Copies what `what` (statement `statement` of migration `version`, its `ordinal`-th
    /// drop) is about to destroy. `None` when there is nothing to keep: the table does
    /// not exist (`IF EXISTS`), is empty, was created by this run, or is `rebuilt` by
    /// the migration with every row and column.
    pub async fn take(
        &mut self,
        driver: &mut dyn Session,
        version: &str,
        statement: usize,
        ordinal: usize,
        what: &Destroys,
        rebuilt: Option<&godwit_core::rebuild::Rebuild>,
    ) -> Result<Option<CopyOutcome>, SqlError> {
        if self
            .skip
            .contains(&(version.to_string(), statement, ordinal))
        {
            return Ok(None);
        }
        let d = driver.dialect();
        let (table, column) = match what {
            Destroys::Table(n) => (Table::from_name(d, n), None),
            Destroys::Column(n, c) => (Table::from_name(d, n), Some(c.catalog(d))),
            _ => return Ok(None),
        };
        let cols = catalog::columns(driver, &table).await?;
        if cols.is_empty() {
            return Ok(None);
        }
        let source = match &column {
            Some(c) => format!("{}.{c}", table.display()),
            None => table.display(),
        };
        // The migration rebuilds the table: its rows live on under the same name (plan
        // says so), and only a column the rebuild leaves out would need a copy.
        if let Some(r) = rebuilt
            && cols
                .iter()
                .all(|c| r.carries(&godwit_core::sql::column_key(d, &c.name, true)))
        {
            return Ok(None);
        }
        let (kind, chosen, keys): (&str, Vec<&Column>, Vec<String>) = match &column {
            None => ("table", cols.iter().collect(), Vec::new()),
            Some(c) => {
                let Some(dropped) = cols.iter().find(|col| &col.name == c) else {
                    return Ok(None);
                };
                // An empty table has nothing to copy, nor to warn about.
                if !catalog::has_rows(driver, &table).await? {
                    return Ok(None);
                }
                let keys = catalog::primary_key(driver, &table).await?;
                let refuse = |reason: &str| {
                    Ok(Some(CopyOutcome::NotCopied {
                        source: source.clone(),
                        reason: reason.to_string(),
                    }))
                };
                if keys.is_empty() {
                    return refuse(
                        "the table has no primary key, so the values could not be matched back to their rows; only the whole-database backup has them",
                    );
                }
                if keys.contains(c) {
                    return refuse(
                        "the column is part of the primary key; only the whole-database backup has its values",
                    );
                }
                let mut chosen: Vec<&Column> = keys
                    .iter()
                    .filter_map(|k| cols.iter().find(|col| &col.name == k))
                    .collect();
                chosen.push(dropped);
                ("column", chosen, keys)
            }
        };
        if column.is_none() && !catalog::has_rows(driver, &table).await? {
            return Ok(None);
        }
        if let Err(reason) = self.store.ensure(driver).await? {
            if std::mem::replace(&mut self.told_unavailable, true) {
                return Ok(None);
            }
            return Ok(Some(CopyOutcome::Unavailable { reason }));
        }
        let label = match &column {
            Some(c) => format!("{}_{c}", table.name),
            None => table.name.clone(),
        };
        let name = self
            .free_name(driver, &label, version, statement, ordinal)
            .await?;
        let records = self.store.records();
        let ns = literal(d, &self.store.namespace);
        let now = literal(d, &now_rfc3339());
        // An earlier attempt at this same statement (a retried deploy) left a copy that
        // the next `down` must not put back as well; it stays, listed, until pruned.
        driver
            .execute(&format!(
                "UPDATE {records} SET state = '{}', state_at = {now}, note = {} \
                 WHERE namespace = {ns} AND version = {} AND statement_index = {statement} AND ordinal = {ordinal} AND state = '{}'",
                state::SUPERSEDED,
                literal(d, &format!("copied again into {}", self.store.display(&name))),
                literal(d, version),
                state::COPIED
            ))
            .await?;
        let select: Vec<String> = chosen.iter().map(|c| c.copied(d)).collect();
        let copy = self.store.qualified(&name);
        driver
            .execute(&format!(
                "CREATE TABLE {copy} AS SELECT {} FROM {}",
                select.join(", "),
                table.sql(d)
            ))
            .await?;
        of(d).keep_private(driver, "TABLE", &copy).await?;
        let rows = driver
            .query_i64(&format!("SELECT count(*) FROM {copy}"))
            .await?
            .unwrap_or(0);
        let converted: BTreeMap<&str, &str> = chosen
            .iter()
            .filter(|c| c.stored != Stored::AsIs)
            .map(|c| (c.name.as_str(), c.type_name.as_str()))
            .collect();
        let json = |v: String| literal(d, &v);
        let opt = |v: Option<&String>| v.map(|s| literal(d, s)).unwrap_or_else(|| "NULL".into());
        driver
            .execute(&format!(
                "INSERT INTO {records} (copy_table, namespace, version, statement_index, ordinal, kind, source_schema, \
                 source_table, source_column, key_columns, converted, rows_copied, created_at, state) \
                 VALUES ({}, {ns}, {}, {statement}, {ordinal}, '{kind}', {}, {}, {}, {}, {}, {rows}, {now}, '{}')",
                literal(d, &name),
                literal(d, version),
                opt(table.schema.as_ref()),
                literal(d, &table.name),
                opt(column.as_ref()),
                if keys.is_empty() {
                    "NULL".into()
                } else {
                    json(serde_json::to_string(&keys).expect("serializable"))
                },
                if converted.is_empty() {
                    "NULL".into()
                } else {
                    json(serde_json::to_string(&converted).expect("serializable"))
                },
                state::COPIED
            ))
            .await?;
        self.made.push(name.clone());
        Ok(Some(CopyOutcome::Copied {
            source,
            copy_table: self.store.display(&name),
            rows,
        }))
    }

    /// `<table>_<version>_<statement>[_<ordinal>]`, within the identifier limit, and never
    /// the name of a copy that exists or existed (records outlive their tables).
    async fn free_name(
        &self,
        driver: &mut dyn Session,
        label: &str,
        version: &str,
        statement: usize,
        ordinal: usize,
    ) -> Result<String, SqlError> {
        let d = driver.dialect();
        let mut suffix = if ordinal <= 1 {
            format!("_{version}_{statement}")
        } else {
            format!("_{version}_{statement}_{ordinal}")
        };
        if suffix.len() > MAX_NAME / 2 {
            suffix = format!("_{}", crate::own::short_digest(&suffix));
        }
        for attempt in 1.. {
            let suffix = if attempt == 1 {
                suffix.clone()
            } else {
                format!("{suffix}_copy{attempt}")
            };
            let mut prefix = String::new();
            for c in label.chars() {
                if prefix.len() + c.len_utf8() + suffix.len() > MAX_NAME {
                    break;
                }
                prefix.push(c);
            }
            let name = format!("{prefix}{suffix}");
            let recorded = driver
                .query_i64(&format!(
                    "SELECT count(*) FROM {} WHERE copy_table = {}",
                    self.store.records(),
                    literal(d, &name)
                ))
                .await?
                .unwrap_or(0);
            let exists = !catalog::columns(driver, &self.copy_ref(&name))
                .await?
                .is_empty();
            if recorded == 0 && !exists {
                return Ok(name);
            }
        }
        unreachable!("the loop returns a name")
    }

    fn copy_ref(&self, name: &str) -> Table {
        Table {
            schema: Some(self.store.schema.clone()),
            name: name.to_string(),
        }
    }

    /// After down.sql of `version` ran: puts back every copy its deploy made whose table
    /// or column exists again, newest first, and drops those copies. A copy that cannot
    /// go back (down.sql did not re-create its table, a value no longer fits) stays.
    /// `in_transaction`: the down runs in one transaction, so a put-back that fails is
    /// undone to a savepoint instead of aborting the revert.
    pub async fn put_back(
        &mut self,
        driver: &mut dyn Session,
        version: &str,
        in_transaction: bool,
    ) -> Result<Vec<CopyOutcome>, SqlError> {
        let d = driver.dialect();
        if !self.store.exists(driver).await? {
            return Ok(Vec::new());
        }
        let records = self.store.records();
        let rows = driver
            .query_text(&format!(
                "SELECT copy_table, kind, source_schema, source_table, source_column, key_columns, converted, {} \
                 FROM {records} WHERE namespace = {} AND version = {} AND state = '{}' \
                 ORDER BY statement_index DESC, ordinal DESC",
                of(d).as_text("rows_copied"),
                literal(d, &self.store.namespace),
                literal(d, version),
                state::COPIED
            ))
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let [
                Some(name),
                Some(kind),
                schema,
                Some(table_name),
                column,
                keys,
                converted,
                rows,
            ] = <[Option<String>; 8]>::try_from(row).unwrap_or_default()
            else {
                continue;
            };
            let record = Record {
                table: Table {
                    schema,
                    name: table_name,
                },
                kind,
                column,
                keys: keys
                    .and_then(|k| serde_json::from_str(&k).ok())
                    .unwrap_or_default(),
                converted: converted
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_default(),
                rows: rows.and_then(|r| r.parse().ok()).unwrap_or(0),
            };
            let outcome = self
                .put_back_one(driver, &name, &record, in_transaction)
                .await?;
            let (new_state, note) = match &outcome {
                CopyOutcome::Restored { .. } => (state::RESTORED, None),
                CopyOutcome::Kept { reason, .. } => (state::KEPT, Some(reason.clone())),
                _ => continue,
            };
            driver
                .execute(&format!(
                    "UPDATE {records} SET state = '{new_state}', state_at = {}, note = {} WHERE copy_table = {}",
                    literal(d, &now_rfc3339()),
                    note.map(|n| literal(d, &n)).unwrap_or_else(|| "NULL".into()),
                    literal(d, &name)
                ))
                .await?;
            out.push(outcome);
        }
        Ok(out)
    }

    async fn put_back_one(
        &mut self,
        driver: &mut dyn Session,
        name: &str,
        record: &Record,
        in_transaction: bool,
    ) -> Result<CopyOutcome, SqlError> {
        let d = driver.dialect();
        let table = &record.table;
        let source = match &record.column {
            Some(c) => format!("{}.{c}", table.display()),
            None => table.display(),
        };
        let copy_table = self.store.display(name);
        let keep = |reason: String| CopyOutcome::Kept {
            source: source.clone(),
            copy_table: copy_table.clone(),
            reason,
        };
        let copy_columns = catalog::columns(driver, &self.copy_ref(name)).await?;
        let copy_cols: Vec<String> = copy_columns.iter().map(|c| c.name.clone()).collect();
        if copy_cols.is_empty() {
            return Ok(keep(format!("the copy {copy_table} is gone")));
        }
        let target = catalog::columns(driver, table).await?;
        if target.is_empty() {
            return Ok(keep(format!(
                "down.sql did not re-create {}",
                table.display()
            )));
        }
        let missing: Vec<&str> = copy_cols
            .iter()
            .filter(|c| !target.iter().any(|t| &t.name == *c))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Ok(keep(format!(
                "down.sql re-created {} without {}",
                table.display(),
                missing.join(", ")
            )));
        }
        // Generated columns compute their values again; everything else goes back, cast
        // to the type the column has now when the copy kept it as text, or (PostgreSQL,
        // which assigns no text to an integer) when down.sql re-created the column with
        // another type than the copy's: `age text` dropped, `age integer` re-added.
        let value = |column: &str, alias: &str| {
            let q = format!("{alias}{}", quote(d, column));
            let retyped = |t: &Column| {
                of(d).casts_retyped_columns()
                    && copy_columns
                        .iter()
                        .find(|c| c.name == column)
                        .is_some_and(|c| !c.type_name.eq_ignore_ascii_case(&t.type_name))
            };
            match target.iter().find(|t| t.name == column) {
                Some(t) if record.converted.contains_key(column) || retyped(t) => {
                    format!("CAST({q} AS {})", t.type_name)
                }
                _ => q,
            }
        };
        let writable: Vec<&String> = copy_cols
            .iter()
            .filter(|c| target.iter().any(|t| &t.name == *c && !t.generated))
            .collect();
        let target_sql = table.sql(d);
        let copy_sql = self.store.qualified(name);
        // down.sql may have filled the table itself (a rebuild copying the rows back):
        // the copy's rows on top would be duplicates.
        if record.kind == "table" && catalog::has_rows(driver, table).await? {
            return Ok(keep(format!(
                "down.sql re-created {} with rows in it already; putting the copy back would add them again",
                table.display()
            )));
        }
        let statement = if record.kind == "table" {
            let list: Vec<String> = writable.iter().map(|c| quote(d, c)).collect();
            let values: Vec<String> = writable.iter().map(|c| value(c, "")).collect();
            let overriding = of(d).insert_overriding();
            format!(
                "INSERT INTO {target_sql} ({}){overriding} SELECT {} FROM {copy_sql}",
                list.join(", "),
                values.join(", ")
            )
        } else {
            let Some(column) = &record.column else {
                return Ok(keep("the record names no column".into()));
            };
            if !writable.contains(&column) {
                return Ok(keep(format!(
                    "down.sql re-created {} as a generated column",
                    source
                )));
            }
            let on: Vec<String> = record
                .keys
                .iter()
                .map(|k| format!("t.{} = {}", quote(d, k), value(k, "c.")))
                .collect();
            let on = on.join(" AND ");
            let col = quote(d, column);
            let set = value(column, "c.");
            of(d).update_from_copy(&target_sql, &copy_sql, &col, &set, &on)
        };
        // A value that no longer fits (an enum label down.sql did not re-create, a
        // tighter constraint) leaves the copy where it is rather than failing the revert.
        let savepoint = in_transaction && of(d).savepoints();
        if savepoint {
            driver.execute("SAVEPOINT godwit_put_back").await?;
        }
        let written = match driver.execute(&statement).await {
            Ok(n) => n,
            Err(err) if matches!(err.kind(), SqlErrorKind::Server { .. }) => {
                if savepoint {
                    driver
                        .execute("ROLLBACK TO SAVEPOINT godwit_put_back")
                        .await?;
                    driver.execute("RELEASE SAVEPOINT godwit_put_back").await?;
                }
                return Ok(keep(format!(
                    "putting it back failed: {}",
                    crate::error::describe_db_error(&err)
                        .replace("\n  ", "; ")
                        .replace('\n', " ")
                )));
            }
            Err(e) => return Err(e),
        };
        if savepoint {
            driver.execute("RELEASE SAVEPOINT godwit_put_back").await?;
        }
        // Rows deleted since the drop have nowhere to take their values back to; what
        // did not go back stays in the copy.
        if record.kind == "column" && (written as i64) < record.rows {
            return Ok(keep(format!(
                "put back {written} of {} rows; the others are no longer in {}",
                record.rows,
                table.display()
            )));
        }
        if record.kind == "table" {
            of(d).after_put_back(driver, table, &copy_cols).await?;
        }
        driver.execute(&format!("DROP TABLE {copy_sql}")).await?;
        Ok(CopyOutcome::Restored {
            source,
            copy_table,
            rows: written as i64,
        })
    }

    /// After a whole-database restore put back everything this run changed, the copies
    /// it made hold nothing the database lacks: drop them.
    pub async fn forget_run(
        &mut self,
        driver: &mut dyn Session,
        why: &str,
    ) -> Result<usize, SqlError> {
        let made = std::mem::take(&mut self.made);
        if made.is_empty() {
            return Ok(0);
        }
        self.store.attach(driver, false).await?;
        let mut dropped = 0;
        for name in &made {
            if drop_copy(driver, &self.store, name, why).await? {
                dropped += 1;
            }
        }
        self.store.detach(driver).await?;
        Ok(dropped)
    }
}

struct Record {
    table: Table,
    kind: String,
    column: Option<String>,
    keys: Vec<String>,
    converted: BTreeMap<String, String>,
    rows: i64,
}

/// Drops one copy and records why; false when it was already gone.
async fn drop_copy(
    driver: &mut dyn Session,
    store: &Store,
    name: &str,
    why: &str,
) -> Result<bool, SqlError> {
    let d = driver.dialect();
    let table = Table {
        schema: Some(store.schema.clone()),
        name: name.to_string(),
    };
    let existed = !catalog::columns(driver, &table).await?.is_empty();
    if existed {
        driver
            .execute(&format!("DROP TABLE {}", store.qualified(name)))
            .await?;
    }
    driver
        .execute(&format!(
            "UPDATE {} SET state = '{}', state_at = {}, note = {} WHERE copy_table = {}",
            store.records(),
            state::PRUNED,
            literal(d, &now_rfc3339()),
            literal(d, why),
            literal(d, name)
        ))
        .await?;
    Ok(existed)
}

/// One copy that remains, as `status` and `backups` list it.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    /// Where it is: `godwit_copies.users_20261121090000_3`.
    pub copy_table: String,
    pub version: String,
    pub statement: i64,
    /// `table` or `column`.
    pub kind: String,
    /// What was dropped: `users` or `users.email`.
    pub source: String,
    pub rows: i64,
    /// On disk, as the database reports it (`None` when it cannot tell).
    pub bytes: Option<u64>,
    pub created_at: String,
    /// `copied` (the next `down` puts it back), `kept` or `superseded`.
    pub state: String,
    /// Why it was kept or superseded.
    pub note: Option<String>,
    /// Columns kept as text or as their domain's base type, with the type each had.
    pub converted: BTreeMap<String, String>,
    /// Why `godwit down` cannot put it back: the migration that dropped it has no down
    /// script in its layout (Prisma, Drizzle, ...). Filled in by the caller that knows the
    /// project's migrations; `None` when down can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_down: Option<String>,
}

/// The live copies of the connected namespace, and where they are.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Listing {
    /// `schema godwit_copies`, `database shop_godwit_copies`, or the SQLite file.
    pub store: Option<String>,
    pub copies: Vec<Listed>,
}

impl Listing {
    pub fn rows(&self) -> i64 {
        self.copies.iter().map(|c| c.rows).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.copies.iter().filter_map(|c| c.bytes).sum()
    }
}

/// Lists the copies that remain; creates nothing.
pub async fn list(driver: &mut dyn Session) -> Result<Listing, SqlError> {
    let mut store = Store::locate(driver).await?;
    if !store.exists(driver).await? {
        store.detach(driver).await?;
        return Ok(Listing::default());
    }
    let copies = list_in(driver, &store, None).await?;
    store.detach(driver).await?;
    Ok(Listing {
        store: Some(store.describe()),
        copies,
    })
}

async fn list_in(
    driver: &mut dyn Session,
    store: &Store,
    filter: Option<&str>,
) -> Result<Vec<Listed>, SqlError> {
    let d = driver.dialect();
    let rows = driver
        .query_text(&format!(
            "SELECT copy_table, version, {}, kind, source_schema, source_table, source_column, {}, created_at, state, note, converted \
             FROM {} WHERE namespace = {} AND state IN {}{} ORDER BY created_at, copy_table",
            of(d).as_text("statement_index"),
            of(d).as_text("rows_copied"),
            store.records(),
            literal(d, &store.namespace),
            state::LIVE,
            filter.map(|f| format!(" AND {f}")).unwrap_or_default()
        ))
        .await?;
    let sizes = sizes(driver, store).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let get = |i: usize| r.get(i).cloned().flatten();
            let name = get(0)?;
            let table = match get(4) {
                Some(schema) => format!("{schema}.{}", get(5).unwrap_or_default()),
                None => get(5).unwrap_or_default(),
            };
            Some(Listed {
                copy_table: store.display(&name),
                bytes: sizes.iter().find(|(n, _)| n == &name).map(|(_, b)| *b),
                version: get(1).unwrap_or_default(),
                statement: get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
                kind: get(3).unwrap_or_default(),
                source: match get(6) {
                    Some(c) => format!("{table}.{c}"),
                    None => table,
                },
                rows: get(7).and_then(|s| s.parse().ok()).unwrap_or(0),
                created_at: get(8).unwrap_or_default(),
                state: get(9).unwrap_or_default(),
                note: get(10),
                converted: get(11)
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_default(),
                without_down: None,
            })
        })
        .collect())
}

/// The size on disk of each table in the store.
async fn sizes(driver: &mut dyn Session, store: &Store) -> Result<Vec<(String, u64)>, SqlError> {
    let Some(rows) = of(driver.dialect()).sizes(driver, &store.schema).await? else {
        return Ok(Vec::new());
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name = r.first().cloned().flatten()?;
            let size = r.get(1).cloned().flatten()?.parse().ok()?;
            Some((name, size))
        })
        .collect())
}

/// Which copies `godwit backups prune --copies` drops.
#[derive(Clone, Debug, Default)]
pub struct Prune {
    /// Only copies made longer ago than this.
    pub older_than: Option<Duration>,
    /// Only copies made by this migration.
    pub version: Option<String>,
    /// List them, drop nothing.
    pub dry_run: bool,
}

/// Drops the live copies `which` selects (all of them when it selects nothing) and
/// returns them. The caller holds the migration lock.
pub async fn prune(driver: &mut dyn Session, which: &Prune) -> Result<Vec<Listed>, SqlError> {
    let d = driver.dialect();
    let mut store = Store::locate(driver).await?;
    if !store.exists(driver).await? {
        store.detach(driver).await?;
        return Ok(Vec::new());
    }
    let filter = which
        .version
        .as_ref()
        .map(|v| format!("version = {}", literal(d, v)));
    let mut chosen = list_in(driver, &store, filter.as_deref()).await?;
    if let Some(age) = which.older_than {
        let cutoff =
            chrono::Utc::now() - chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX);
        chosen.retain(|c| {
            chrono::DateTime::parse_from_rfc3339(&c.created_at)
                .is_ok_and(|t| t.with_timezone(&chrono::Utc) < cutoff)
        });
    }
    if !which.dry_run {
        for copy in &chosen {
            let name = copy
                .copy_table
                .strip_prefix(&format!("{}.", store.schema))
                .unwrap_or(&copy.copy_table);
            drop_copy(
                driver,
                &store,
                name,
                "dropped by `godwit backups prune --copies`",
            )
            .await?;
        }
    }
    store.detach(driver).await?;
    Ok(chosen)
}
