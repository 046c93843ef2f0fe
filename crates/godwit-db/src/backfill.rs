//! A backfill's SQL on every database: reading a batch of keys and columns, writing it
//! back compare-and-set, counting what is left, and the tables a step keeps its
//! checkpoint ([`PROGRESS_TABLE`]) and its leased batches ([`BATCHES_TABLE`]) in. The
//! engine's step runner decides when each runs; what each database is sent is here.
//!
//! What one database spells its own way is that database's [`BackfillDialect`], in its
//! `<database>/backfill.rs`; this file asks [`of`] for it and writes the rest.

use std::collections::BTreeMap;

use godwit_core::Dialect;
use godwit_core::history::HistoryRow;
use godwit_core::sql::{quote, quote_table};
use godwit_core::value::Value;

use crate::error::SqlError;
use crate::history::now_rfc3339;
pub use crate::postgres::backfill::{column_types, pg_text};
use crate::traits::Session;
pub use crate::traits::{BackfillDialect, BatchWrite};

/// How `dialect` spells what differs in a backfill's SQL.
pub fn of(dialect: Dialect) -> &'static dyn BackfillDialect {
    match dialect {
        Dialect::Postgres => &crate::postgres::backfill::Backfill,
        Dialect::MySql => &crate::mysql::backfill::Backfill,
        Dialect::Sqlite => &crate::sqlite::backfill::Backfill,
    }
}

/// The table that holds each running step's checkpoint.
pub const PROGRESS_TABLE: &str = "godwit_step_progress";

/// The table of a split step's batches.
pub const BATCHES_TABLE: &str = "godwit_batches";

/// SQL for the checkpoint table, for `dialect`.
pub fn progress_ddl(dialect: Dialect) -> String {
    let text = of(dialect).long_text();
    format!(
        "CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
            history_id BIGINT PRIMARY KEY,
            version VARCHAR(255) NOT NULL,
            position {text},
            rows_done BIGINT NOT NULL,
            batches BIGINT NOT NULL,
            batch_size BIGINT NOT NULL,
            updated_at VARCHAR(40) NOT NULL
        )"
    )
}

/// SQL for the batches table and its index, for `dialect`.
pub fn batches_ddl(dialect: Dialect) -> Vec<String> {
    let text = of(dialect).long_text();
    let index = "godwit_batches_pending";
    let inside = of(dialect).index_inside_table();
    let inline_index = if inside {
        format!(",\n            INDEX {index} (history_id, state, batch_no)")
    } else {
        String::new()
    };
    let mut ddl = vec![format!(
        "CREATE TABLE IF NOT EXISTS {BATCHES_TABLE} (
            history_id BIGINT NOT NULL,
            version VARCHAR(255) NOT NULL,
            batch_no BIGINT NOT NULL,
            lower_key {text},
            upper_key {text},
            state VARCHAR(16) NOT NULL,
            rows_done BIGINT NOT NULL,
            retried BIGINT NOT NULL,
            created_at VARCHAR(40) NOT NULL,
            finished_at VARCHAR(40),
            taken_by VARCHAR(255),
            PRIMARY KEY (history_id, batch_no){inline_index}
        )"
    )];
    if !inside {
        ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {index} ON {BATCHES_TABLE} (history_id, state, batch_no)"
        ));
    }
    ddl
}

/// The key columns of a backfill: `id`, or `tenant_id, id`.
pub fn key_columns(key: &str) -> Vec<String> {
    key.split(',')
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect()
}

/// What the host does for each batch of a backfill, as SQL with `$n` placeholders.
#[derive(Clone, Debug)]
pub struct BackfillSql {
    pub dialect: Dialect,
    pub table: String,
    pub keys: Vec<String>,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    pub filter: Option<String>,
    /// PostgreSQL column types by column name, for the casts in the `UPDATE`.
    pub types: BTreeMap<String, String>,
}

impl BackfillSql {
    fn q(&self, ident: &str) -> String {
        quote(self.dialect, ident)
    }

    fn key_list(&self, prefix: &str) -> String {
        self.keys
            .iter()
            .map(|k| format!("{prefix}{}", self.q(k)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Rows still to do, for the progress bar's total.
    pub fn count(&self, after: bool) -> String {
        format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            quote_table(self.dialect, &self.table),
            self.condition(after)
        )
    }

    fn condition(&self, after: bool) -> String {
        let mut parts = Vec::new();
        if after {
            parts.push(format!(
                "({}) > ({})",
                self.key_list(""),
                placeholders(0, self.keys.len())
            ));
        }
        if let Some(filter) = &self.filter {
            parts.push(format!("({filter})"));
        }
        if parts.is_empty() {
            "1 = 1".into()
        } else {
            parts.join(" AND ")
        }
    }

    /// The key `size` rows after the cursor (`$1..$k`), which ends a batch of a split
    /// step (see `workers::split`).
    pub fn boundary(&self, after: bool, size: u32) -> String {
        format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT 1 OFFSET {}",
            self.key_list(""),
            quote_table(self.dialect, &self.table),
            self.condition(after),
            self.key_list(""),
            size.max(1) - 1
        )
    }

    /// The rows of a split step's batch: keys after `$1..$k` when `lower`, up to and
    /// including the next `k` parameters when `upper`.
    pub fn select_range(&self, lower: bool, upper: bool) -> String {
        let k = self.keys.len();
        let params = |from: usize| placeholders(from, k);
        let mut parts = Vec::new();
        if lower {
            parts.push(format!("({}) > ({})", self.key_list(""), params(0)));
        }
        if upper {
            let from = if lower { k } else { 0 };
            parts.push(format!("({}) <= ({})", self.key_list(""), params(from)));
        }
        if let Some(filter) = &self.filter {
            parts.push(format!("({filter})"));
        }
        let condition = if parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            parts.join(" AND ")
        };
        format!(
            "SELECT {} FROM {} WHERE {condition} ORDER BY {}",
            self.read_list(),
            quote_table(self.dialect, &self.table),
            self.key_list("")
        )
    }

    /// The columns a batch reads: the key, then the other columns the plugin reads.
    fn read_list(&self) -> String {
        let mut columns: Vec<String> = self.keys.iter().map(|k| self.q(k)).collect();
        for column in &self.reads {
            if !self.keys.contains(column) {
                columns.push(self.q(column));
            }
        }
        columns.join(", ")
    }

    /// The next `limit` rows after the cursor (`$1..$k` are the cursor's key values).
    pub fn select(&self, after: bool, limit: u32) -> String {
        let mut columns: Vec<String> = self.keys.iter().map(|k| self.q(k)).collect();
        for column in &self.reads {
            if !self.keys.contains(column) {
                columns.push(self.q(column));
            }
        }
        format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {limit}",
            columns.join(", "),
            quote_table(self.dialect, &self.table),
            self.condition(after),
            self.key_list("")
        )
    }

    /// The columns the plugin read besides the key, in the order a batch reads them: a
    /// row is written only if each still holds the value read (compare-and-set).
    pub fn compared(&self) -> Vec<String> {
        self.reads
            .iter()
            .filter(|c| !self.keys.contains(c))
            .cloned()
            .collect()
    }

    /// Parameters one row takes in [`BackfillSql::update`]: its key, its written values,
    /// and the values it was read with, of [`BackfillSql::compared`].
    pub fn width(&self) -> usize {
        self.keys.len() + self.writes.len() + self.compared().len()
    }

    /// The compare-and-set condition of an update: each compared column of `target` not
    /// distinct from `source(i)` ([`BackfillDialect::not_distinct`]), `i` counting as the parameters are laid out; `None` when the
    /// plugin read nothing but the key.
    fn unchanged(&self, target: &str, source: impl Fn(usize) -> String) -> Option<String> {
        let from = self.keys.len() + self.writes.len();
        let parts: Vec<String> = self
            .compared()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let column = format!("{target}{}", self.q(c));
                let json = self.types.get(c).map(String::as_str) == Some("json");
                of(self.dialect).not_distinct(&column, &source(from + i), json)
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" AND "))
    }

    /// The rows of a batch again, locked, for a write that found some of them changed:
    /// keys from `$1..$k` to `$k+1..$2k` inclusive, with the filter, and the database's
    /// [`BackfillDialect::lock_rows`].
    pub fn select_locked(&self) -> String {
        let k = self.keys.len();
        let params = |from: usize| placeholders(from, k);
        let mut condition = format!(
            "({keys}) >= ({}) AND ({keys}) <= ({})",
            params(0),
            params(k),
            keys = self.key_list("")
        );
        if let Some(filter) = &self.filter {
            condition.push_str(&format!(" AND ({filter})"));
        }
        let lock = of(self.dialect).lock_rows();
        format!(
            "SELECT {} FROM {} WHERE {condition} ORDER BY {}{lock}",
            self.read_list(),
            quote_table(self.dialect, &self.table),
            self.key_list("")
        )
    }

    /// The largest batch one `UPDATE` can carry on this database.
    pub fn ceiling(&self) -> u32 {
        let params = match of(self.dialect).batch_write() {
            // One parameter per column, whatever the batch size.
            BatchWrite::Arrays => return u32::MAX,
            BatchWrite::Values { max_parameters } | BatchWrite::UnionJoin { max_parameters } => {
                max_parameters as usize
            }
        };
        ((params - 2) / self.width().max(1)) as u32
    }

    /// Whether [`BackfillSql::update`] also bounds the key by the batch's first and last
    /// key (two more parameters): with one key column it does, so that the database
    /// reaches the batch through the key's index instead of joining the whole table.
    pub fn ranged(&self) -> bool {
        self.keys.len() == 1 && of(self.dialect).batch_write() != BatchWrite::Arrays
    }

    /// `SET` of an update: each written column from `source(i)`, `i` counting the key
    /// columns first, as the parameters are laid out.
    fn set_list(&self, target: &str, source: impl Fn(usize) -> String) -> String {
        let keys = self.keys.len();
        self.writes
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{target}{} = {}", self.q(w), source(keys + i)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The join of an update: each key column equal to `source(i)`.
    fn key_match(&self, target: &str, source: impl Fn(usize) -> String) -> String {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{target}{} = {}", self.q(k), source(i)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The column's PostgreSQL type as a cast, e.g. `::bigint`.
    fn cast(&self, column: &str) -> String {
        self.types
            .get(column)
            .map(|t| format!("::{t}"))
            .unwrap_or_default()
    }

    /// The batch write of [`BatchWrite::Arrays`]: one `text[]` parameter per column, unnested and cast to
    /// each column's type, so a batch of any size is one short statement that is parsed
    /// and planned once (a `VALUES` list of 30,000 rows spent most of its time there).
    pub fn update_arrays(&self) -> String {
        let table = quote_table(self.dialect, &self.table);
        let compared = self.compared();
        let names: Vec<&String> = self
            .keys
            .iter()
            .chain(self.writes.iter())
            .chain(compared.iter())
            .collect();
        let arrays = (1..=names.len())
            .map(|i| format!("${i}::text[]"))
            .collect::<Vec<_>>()
            .join(", ");
        let aliases = (0..names.len())
            .map(|c| format!("c{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let column = |c: usize| format!("v.c{c}{}", self.cast(names[c]));
        let unchanged = self
            .unchanged("t.", |c| {
                if self.types.get(names[c]).map(String::as_str) == Some("json") {
                    format!("v.c{c}")
                } else {
                    column(c)
                }
            })
            .map(|u| format!(" AND {u}"))
            .unwrap_or_default();
        format!(
            "UPDATE {table} AS t SET {} FROM unnest({arrays}) AS v({aliases}) WHERE {}{unchanged}",
            self.set_list("", column),
            self.key_match("t.", column)
        )
    }

    /// The batch write of [`BatchWrite::Values`] and [`BatchWrite::UnionJoin`]: one
    /// set-based `UPDATE` for `rows` rows, each bound as its key values then its written
    /// values, in the order of `keys` then `writes`; when [`BackfillSql::ranged`],
    /// followed by the batch's lowest and highest key. ([`BatchWrite::Arrays`] uses
    /// [`BackfillSql::update_arrays`].)
    pub fn update(&self, rows: usize) -> String {
        let table = quote_table(self.dialect, &self.table);
        let width = self.width();
        let param = |row: usize, col: usize| format!("${}", row * width + col + 1);
        let range = |target: &str| {
            if self.ranged() {
                let key = format!("{target}{}", self.q(&self.keys[0]));
                format!(
                    " AND {key} >= ${} AND {key} <= ${}",
                    rows * width + 1,
                    rows * width + 2
                )
            } else {
                String::new()
            }
        };
        match of(self.dialect).batch_write() {
            BatchWrite::UnionJoin { .. } => {
                let rows_sql = (0..rows)
                    .map(|r| {
                        let cells = (0..width)
                            .map(|c| {
                                if r == 0 {
                                    format!("{} AS c{c}", param(r, c))
                                } else {
                                    param(r, c)
                                }
                            })
                            .collect::<Vec<_>>();
                        format!("SELECT {}", cells.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                let column = |c: usize| format!("v.c{c}");
                let unchanged = self
                    .unchanged("t.", column)
                    .map(|u| format!(" WHERE {u}"))
                    .unwrap_or_default();
                format!(
                    "UPDATE {table} AS t JOIN ({rows_sql}) AS v ON {}{} SET {}{unchanged}",
                    self.key_match("t.", column),
                    range("t."),
                    self.set_list("t.", column)
                )
            }
            BatchWrite::Values { .. } | BatchWrite::Arrays => {
                let values = (0..rows)
                    .map(|r| {
                        let cells = (0..width).map(|c| param(r, c)).collect::<Vec<_>>();
                        format!("({})", cells.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let column = |c: usize| format!("v.column{}", c + 1);
                let unchanged = self
                    .unchanged(&format!("{table}."), column)
                    .map(|u| format!(" AND {u}"))
                    .unwrap_or_default();
                format!(
                    "UPDATE {table} SET {} FROM (VALUES {values}) AS v WHERE {}{}{unchanged}",
                    self.set_list("", column),
                    self.key_match(&format!("{table}."), column),
                    range(&format!("{table}."))
                )
            }
        }
    }
}

/// The checkpoint of one step attempt.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// The key of the last row done, as a JSON array of values; `None` before the first
    /// batch. For a data step, the plugin's own cursor.
    pub position: Option<String>,
    pub rows: u64,
    pub batches: u64,
    pub batch_size: u32,
    /// Rows written again in this run because they changed after being read (not
    /// checkpointed: a count for the report).
    pub retried: u64,
}

/// The checkpoint a step attempt (its history row `history_id`) left, if any.
pub async fn load_progress(
    driver: &mut dyn Session,
    history_id: i64,
) -> Result<Option<Checkpoint>, SqlError> {
    let rows = driver
        .query_values(
            &format!("SELECT position, rows_done, batches, batch_size FROM {PROGRESS_TABLE} WHERE history_id = $1"),
            &[Value::Int(history_id)],
        )
        .await?;
    Ok(rows.rows.into_iter().next().map(|r| {
        let int = |v: &Value| match v {
            Value::Int(n) => *n,
            Value::Text(t) => t.parse().unwrap_or(0),
            _ => 0,
        };
        Checkpoint {
            position: match &r[0] {
                Value::Text(t) => Some(t.clone()),
                _ => None,
            },
            rows: int(&r[1]) as u64,
            batches: int(&r[2]) as u64,
            batch_size: int(&r[3]) as u32,
            retried: 0,
        }
    }))
}

/// Records `progress` as the checkpoint of the step attempt `row` (of `version`); run in
/// the transaction of the batch it follows.
pub async fn save_progress(
    driver: &mut dyn Session,
    row: &HistoryRow,
    version: &str,
    progress: &Checkpoint,
) -> Result<(), SqlError> {
    let position = progress
        .position
        .clone()
        .map(Value::Text)
        .unwrap_or(Value::Null);
    let params = [
        position,
        Value::Int(progress.rows as i64),
        Value::Int(progress.batches as i64),
        Value::Int(progress.batch_size as i64),
        Value::Text(now_rfc3339()),
        Value::Int(row.id),
    ];
    let updated = driver
        .execute_values(
            &format!(
                "UPDATE {PROGRESS_TABLE} SET position = $1, rows_done = $2, batches = $3, batch_size = $4, updated_at = $5 WHERE history_id = $6"
            ),
            &params,
        )
        .await?;
    if updated == 0 {
        let mut params = params.to_vec();
        params.push(Value::Text(version.to_owned()));
        driver
            .execute_values(
                &format!(
                    "INSERT INTO {PROGRESS_TABLE} (position, rows_done, batches, batch_size, updated_at, history_id, version) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ),
                &params,
            )
            .await?;
    }
    Ok(())
}

/// One batch of a split step: rows with keys after `lower` (from the start when `None`)
/// up to and including `upper` (to the end when `None`), as the engine's
/// checkpoint encodes keys (a JSON array of values).
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    pub lower: Option<String>,
    pub upper: Option<String>,
}

/// Records a step's batches, all in one transaction: a split is stored whole or not at all.
pub async fn store_batches(
    driver: &mut dyn Session,
    history_id: i64,
    version: &str,
    ranges: &[Range],
) -> Result<(), SqlError> {
    const PER_INSERT: usize = 500;
    let now = now_rfc3339();
    driver.begin().await?;
    let stored = async {
        for (chunk_no, chunk) in ranges.chunks(PER_INSERT).enumerate() {
            let mut values = Vec::new();
            let mut params = Vec::new();
            for (i, range) in chunk.iter().enumerate() {
                let n = params.len();
                values.push(format!(
                    "(${}, ${}, ${}, ${}, ${}, 'pending', 0, 0, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6
                ));
                let text = |t: &Option<String>| t.clone().map(Value::Text).unwrap_or(Value::Null);
                params.extend([
                    Value::Int(history_id),
                    Value::Text(version.to_owned()),
                    Value::Int((chunk_no * PER_INSERT + i + 1) as i64),
                    text(&range.lower),
                    text(&range.upper),
                    Value::Text(now.clone()),
                ]);
            }
            driver
                .execute_values(
                    &format!(
                        "INSERT INTO {BATCHES_TABLE} (history_id, version, batch_no, lower_key, upper_key, state, rows_done, retried, created_at) VALUES {}",
                        values.join(", ")
                    ),
                    &params,
                )
                .await?;
        }
        // No lock check before this COMMIT: a deployer that took the lock over meanwhile
        // finds this split stored, or stores its own first and this one then fails on
        // the primary key (history_id, batch_no); either way one split stands.
        driver.commit().await
    }
    .await;
    if stored.is_err() {
        let _ = driver.rollback().await;
    }
    stored
}

/// Batches done and pending of a split step, with the rows done and retried.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub done: u64,
    pub pending: u64,
    pub rows: u64,
    pub retried: u64,
}

/// Reads the totals of `history_id`'s batches; `None` when the step was never split
/// (also when the table does not exist yet).
pub async fn totals(driver: &mut dyn Session, history_id: i64) -> Result<Option<Totals>, SqlError> {
    let rows = match driver
        .query_values(
            &format!(
                "SELECT state, COUNT(*), COALESCE(SUM(rows_done), 0), COALESCE(SUM(retried), 0) FROM {BATCHES_TABLE} WHERE history_id = $1 GROUP BY state"
            ),
            &[Value::Int(history_id)],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) if e.is_undefined_table() => return Ok(None),
        Err(e) => return Err(e),
    };
    if rows.rows.is_empty() {
        return Ok(None);
    }
    let mut totals = Totals::default();
    for row in rows.rows {
        let state = match &row[0] {
            Value::Text(t) => t.clone(),
            _ => String::new(),
        };
        let (batches, rows_done, retried) = (count(&row[1]), count(&row[2]), count(&row[3]));
        if state == "done" {
            totals.done += batches;
            totals.rows += rows_done;
            totals.retried += retried;
        } else {
            totals.pending += batches;
        }
    }
    Ok(Some(totals))
}

/// A count as the databases return it: an integer, or a decimal's text (MySQL's `SUM`).
pub fn count(value: &Value) -> u64 {
    match value {
        Value::Int(n) => (*n).max(0) as u64,
        Value::Text(t) => t
            .split('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        Value::Float(f) => f.max(0.0) as u64,
        _ => 0,
    }
}

/// Leases the first pending batch of the step attempt `$1`, skipping those other workers
/// hold: in the worker's transaction, which holds it until it commits the batch done.
pub fn lease_batch_sql() -> String {
    format!(
        "SELECT batch_no, lower_key, upper_key FROM {BATCHES_TABLE} WHERE history_id = $1 AND state = 'pending' ORDER BY batch_no LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
}

/// Marks batch `$5` of the step attempt `$4` done, by worker `$6`, with its rows done
/// (`$1`), retried (`$2`) and when (`$3`).
pub fn finish_batch_sql() -> String {
    format!(
        "UPDATE {BATCHES_TABLE} SET state = 'done', rows_done = $1, retried = $2, finished_at = $3, taken_by = $6 WHERE history_id = $4 AND batch_no = $5"
    )
}

/// `count` placeholders after the first `from`: `$3, $4` for `(2, 2)`.
fn placeholders(from: usize, count: usize) -> String {
    (from + 1..=from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steps_tables_are_godwits_own() {
        // verify, diff and pull leave these out; a step's down.sql never drops them.
        for table in [PROGRESS_TABLE, BATCHES_TABLE, crate::own::LOCK_TABLE] {
            assert!(godwit_core::schema::is_bookkeeping_table(table), "{table}");
        }
    }

    #[test]
    fn the_batches_table_is_indexed_for_the_lease() {
        let pg = batches_ddl(Dialect::Postgres);
        assert_eq!(pg.len(), 2);
        assert!(pg[1].contains("(history_id, state, batch_no)"));
        let my = batches_ddl(Dialect::MySql);
        assert_eq!(my.len(), 1);
        assert!(my[0].contains("INDEX godwit_batches_pending (history_id, state, batch_no)"));
    }

    fn sql(dialect: Dialect) -> BackfillSql {
        BackfillSql {
            dialect,
            table: "public.users".into(),
            keys: vec!["id".into()],
            reads: vec!["email".into()],
            writes: vec!["email_norm".into()],
            filter: Some("email_norm IS NULL".into()),
            types: [
                ("id".to_owned(), "bigint".to_owned()),
                ("email_norm".to_owned(), "text".to_owned()),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn backfill_sql_pages_by_key_and_updates_set_based() {
        let pg = sql(Dialect::Postgres);
        assert_eq!(
            pg.select(true, 10),
            r#"SELECT "id", "email" FROM "public"."users" WHERE ("id") > ($1) AND (email_norm IS NULL) ORDER BY "id" LIMIT 10"#
        );
        assert_eq!(
            pg.update_arrays(),
            r#"UPDATE "public"."users" AS t SET "email_norm" = v.c1::text FROM unnest($1::text[], $2::text[], $3::text[]) AS v(c0, c1, c2) WHERE t."id" = v.c0::bigint AND t."email" IS NOT DISTINCT FROM v.c2"#
        );
        assert_eq!(
            pg_text(Value::Bytes(vec![0xde, 0xad])).as_deref(),
            Some("\\xdead")
        );
        assert_eq!(pg_text(Value::Float(0.1)).as_deref(), Some("0.1"));
        assert_eq!(pg_text(Value::Null), None);
        let my = sql(Dialect::MySql);
        assert_eq!(
            my.update(2),
            "UPDATE `public`.`users` AS t JOIN (SELECT $1 AS c0, $2 AS c1, $3 AS c2 UNION ALL SELECT $4, $5, $6) AS v ON t.`id` = v.c0 AND t.`id` >= $7 AND t.`id` <= $8 SET t.`email_norm` = v.c1 WHERE t.`email` <=> v.c2"
        );
        let lite = sql(Dialect::Sqlite);
        assert_eq!(
            lite.update(1),
            r#"UPDATE "public"."users" SET "email_norm" = v.column2 FROM (VALUES ($1, $2, $3)) AS v WHERE "public"."users"."id" = v.column1 AND "public"."users"."id" >= $4 AND "public"."users"."id" <= $5 AND "public"."users"."email" IS v.column3"#
        );
        assert_eq!(lite.ceiling(), 10_921);
        assert_eq!(
            pg.select_locked(),
            r#"SELECT "id", "email" FROM "public"."users" WHERE ("id") >= ($1) AND ("id") <= ($2) AND (email_norm IS NULL) ORDER BY "id" FOR UPDATE"#
        );
    }

    #[test]
    fn split_steps_read_by_key_range() {
        let pg = sql(Dialect::Postgres);
        assert_eq!(
            pg.boundary(true, 100),
            r#"SELECT "id" FROM "public"."users" WHERE ("id") > ($1) AND (email_norm IS NULL) ORDER BY "id" LIMIT 1 OFFSET 99"#
        );
        assert_eq!(
            pg.select_range(true, true),
            r#"SELECT "id", "email" FROM "public"."users" WHERE ("id") > ($1) AND ("id") <= ($2) AND (email_norm IS NULL) ORDER BY "id""#
        );
        assert_eq!(
            pg.select_range(false, true),
            r#"SELECT "id", "email" FROM "public"."users" WHERE ("id") <= ($1) AND (email_norm IS NULL) ORDER BY "id""#
        );
        let mut two = sql(Dialect::MySql);
        two.keys = vec!["tenant".into(), "id".into()];
        two.filter = None;
        assert_eq!(
            two.select_range(true, false),
            "SELECT `tenant`, `id`, `email` FROM `public`.`users` WHERE (`tenant`, `id`) > ($1, $2) ORDER BY `tenant`, `id`"
        );
    }
}
