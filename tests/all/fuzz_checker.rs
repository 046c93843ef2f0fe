//! Differential fuzzing of the capability checker against the real servers (issue 11).
//!
//! proptest generates queries mixing comments (plain, executable, nested, `--` with odd
//! whitespace, `#`), quoting, case, Unicode whitespace, escapes and CTEs over a small
//! schema: `items` is granted, `secrets` and (on PostgreSQL and MySQL) `Secrets` are not
//! and hold a sentinel. For every statement the checker ACCEPTS, the server says what it
//! touches:
//! - SQLite: an authorizer (`sqlite3_set_authorizer`) on an in-memory database, called by
//!   SQLite's own parser while the statement is prepared: every table read, written or
//!   deleted from must be `items`;
//! - PostgreSQL: `EXPLAIN (VERBOSE, FORMAT JSON)`: every relation scanned must be
//!   `public.items`;
//! - MariaDB: the statement is run, in the plugin session's `sql_mode`, inside a
//!   transaction that is rolled back: no row may carry the sentinel.
//!
//! Any disagreement fails the test with the statement; each one found is kept as a named
//! regression in `capability.rs`. The seed is fixed and the case count bounded, so CI
//! runs the same cases every time (about a minute on the three databases together).
//!
//! The second half does the same for INSERT, UPDATE and DELETE under write grants, with
//! the server's privileges as the oracle (see "Writes" below).

use std::ffi::{CStr, CString, c_char, c_int, c_void};

use godwit::Dialect as GDialect;
use godwit::plugin::capability::{Capabilities, Grants};
use godwit::plugin::manifest::Requests;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use sqlx::{Connection, Row};

use crate::support::{Dialect, TestDb, admin, admin_url};

const SENTINEL: &str = "fuzz-sentinel-91c2";
const CASES: u32 = 100_000;

/// The capabilities of a plugin that asks for and is granted `read` and `write`.
fn caps(read: &[&str], write: &[&str]) -> Capabilities {
    let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let grants = Grants {
        read: list(read),
        write: list(write),
        ..Default::default()
    };
    let requests = Requests {
        read: grants.read.clone(),
        write: grants.write.clone(),
        ..Default::default()
    };
    Capabilities::effective(&requests, &grants, "fuzz")
}

/// Table names as a statement may spell them: granted and not, every case and quoting.
fn names(d: GDialect) -> Vec<&'static str> {
    let mut v = vec![
        "items",
        "ITEMS",
        "Items",
        "\"items\"",
        "\"Items\"",
        "secrets",
        "SECRETS",
        "Secrets",
        "\"secrets\"",
        "\"Secrets\"",
        "\"SECRETS\"",
        "\"secret\u{17F}\"",
        "\"item\u{17F}\"",
    ];
    if d != GDialect::Postgres {
        v.extend(["`items`", "`Secrets`", "`secrets`", "`ITEMS`"]);
    }
    v
}

/// Text that hides or reveals a read, depending on who reads it.
const PAYLOADS: &[&str] = &[
    "UNION ALL SELECT secret FROM secrets",
    "UNION ALL SELECT secret FROM Secrets",
    "UNION ALL SELECT label FROM items",
    ", (SELECT secret FROM secrets LIMIT 1)",
    "WHERE 1 = 1",
    "OR 1 = 1",
    "",
    "x",
];

/// Ways to wrap a payload: comments of every kind, strings with escapes.
fn wrappers(d: GDialect) -> Vec<&'static str> {
    let mut v = vec![
        "{}",
        "/* {} */",
        "/*{}*/",
        "/*!{} */",
        "/*!50000 {} */",
        "/*M!{} */",
        "/*M!100100 {} */",
        "/*+ {} */",
        "/* /* */ {} */",
        "/* /* */ */ {}",
        "-- {}\n",
        "--{}\n",
        "--\u{a0}{}\n",
        "--\u{2003}{}\n",
        "--\x0b{}\n",
        "-- x\r{}\n",
        "#{}\n",
        "'{}'",
        "'\\' {} -- '",
        "\"\\\" {} -- \"",
        "E'\\' {} -- '",
        "U&'\\' {} -- '",
        "$$ {} $$",
        "$a$ {} $a$",
        "N'x' {}",
        "_utf8mb4'\\' {} -- '",
        "'it''s' {}",
    ];
    if d == GDialect::MySql {
        v.extend(["/*!{}*/", "/*M!{}*/", "# x\n{}"]);
    }
    v
}

const SEPARATORS: &[&str] = &[
    " ", "  ", "\n", "\t", "\r\n", "\u{a0}", "\u{2003}", "\u{feff}", "\r", "\x0c", "/**/",
    "/* c */",
];

const COLUMNS: &[&str] = &[
    "label",
    "*",
    "1",
    "'x'",
    "count(*)",
    "secret",
    "lower(label)",
];

/// One generated query.
fn query(d: GDialect) -> impl Strategy<Value = String> {
    let n = names(d);
    let w = wrappers(d);
    let name = move || prop::sample::select(n.clone());
    (
        prop::option::of(name()),
        prop::sample::select(COLUMNS),
        name(),
        prop::collection::vec(
            (
                prop::sample::select(w),
                prop::sample::select(PAYLOADS),
                prop::sample::select(SEPARATORS),
            ),
            0..3,
        ),
        prop::sample::select(SEPARATORS),
    )
        .prop_map(|(cte, column, table, tail, sep)| {
            let mut sql = String::new();
            if let Some(cte) = cte {
                sql.push_str(&format!("WITH {cte} AS (SELECT 1 AS label){sep}"));
            }
            sql.push_str(&format!("SELECT{sep}{column} FROM {table}"));
            for (wrapper, payload, sep) in tail {
                sql.push_str(sep);
                sql.push_str(&wrapper.replace("{}", payload));
            }
            sql
        })
}

/// Runs `strategy` for `d` with a fixed seed; `accept` is the checker, `oracle` says what
/// the server touched for an accepted statement, as an error naming the violation.
/// Returns (cases, accepted).
fn fuzz(
    d: GDialect,
    seed: u8,
    cases_wanted: u32,
    strategy: impl Strategy<Value = String>,
    accept: impl Fn(&str) -> bool,
    oracle: impl FnMut(&str) -> Result<(), String>,
) {
    let started = std::time::Instant::now();
    let oracle = std::cell::RefCell::new(oracle);
    let config = Config {
        cases: cases_wanted,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let accepted = std::cell::Cell::new(0);
    let cases = std::cell::Cell::new(0);
    let result = runner.run(&strategy, |sql| {
        cases.set(cases.get() + 1);
        if !accept(&sql) {
            return Ok(());
        }
        accepted.set(accepted.get() + 1);
        (oracle.borrow_mut())(&sql)
            .map_err(|e| TestCaseError::fail(format!("{d}: the checker accepted {sql:?} but {e}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{d}: {} cases, {} accepted by the checker, no disagreement, {:.1?}",
        cases.get(),
        accepted.get(),
        started.elapsed()
    );
    assert!(
        accepted.get() > 0 && cases.get() == cases_wanted,
        "{} cases, {} accepted",
        cases.get(),
        accepted.get()
    );
}

/// The SELECT fuzz: `query` statements under `caps`.
fn fuzz_reads(d: GDialect, seed: u8, oracle: impl FnMut(&str) -> Result<(), String>) {
    let c = caps(&["items"], &[]);
    fuzz(
        d,
        seed,
        CASES,
        query(d),
        |sql| c.check_query(d, sql).is_ok(),
        oracle,
    );
}

// --- SQLite: the authorizer ------------------------------------------------------------

use libsqlite3_sys as ffi;

/// One action SQLite's authorizer reported on a real table (not a CTE or subquery):
/// `(action, table, column)`, the column empty for INSERT and DELETE.
type Action = (c_int, String, String);

/// What SQLite's authorizer reported while a statement was prepared.
struct Touched(Vec<Action>);

unsafe extern "C" fn authorize(
    data: *mut c_void,
    action: c_int,
    a: *const c_char,
    b: *const c_char,
    db: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    if matches!(
        action,
        ffi::SQLITE_READ | ffi::SQLITE_UPDATE | ffi::SQLITE_INSERT | ffi::SQLITE_DELETE
    ) && !a.is_null()
        // A CTE's or subquery's columns come without a database name; a real table's
        // with one (`main`).
        && !db.is_null()
    {
        // SAFETY: `data` is the `Touched` passed to sqlite3_set_authorizer below, alive
        // for the whole prepare; `a` and `b` are NUL-terminated strings from SQLite.
        let touched = unsafe { &mut *(data as *mut Touched) };
        let text = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        touched.0.push((action, text(a), text(b)));
    }
    ffi::SQLITE_OK
}

struct Sqlite(*mut ffi::sqlite3);

impl Sqlite {
    /// An in-memory database holding `schema`.
    fn open(schema: &str) -> Sqlite {
        let mut db = std::ptr::null_mut();
        let name = CString::new(":memory:").unwrap();
        // SAFETY: plain FFI call; the handle is owned by the returned struct.
        unsafe {
            assert_eq!(ffi::sqlite3_open(name.as_ptr(), &mut db), ffi::SQLITE_OK);
        }
        let db = Sqlite(db);
        db.exec(schema);
        db
    }

    /// Runs `sql` (statements separated by `;`), which must succeed.
    fn exec(&self, sql: &str) {
        let text = CString::new(sql).unwrap();
        // SAFETY: plain FFI call on a database this struct owns.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.0,
                text.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, ffi::SQLITE_OK, "{sql}");
    }

    /// What SQLite's parser says the statement reads or writes, and every value of every
    /// row it returns (the statement runs); None if SQLite refuses the statement itself.
    fn touched(&self, sql: &str) -> Option<(Vec<Action>, String)> {
        let mut touched = Touched(Vec::new());
        let text = CString::new(sql).ok()?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: the authorizer's data outlives the prepare; it is removed before return.
        unsafe {
            ffi::sqlite3_set_authorizer(
                self.0,
                Some(authorize),
                &mut touched as *mut Touched as *mut c_void,
            );
            let rc =
                ffi::sqlite3_prepare_v2(self.0, text.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            ffi::sqlite3_set_authorizer(self.0, None, std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                ffi::sqlite3_finalize(stmt);
                return None;
            }
            let mut values = String::new();
            while ffi::sqlite3_step(stmt) == ffi::SQLITE_ROW {
                for i in 0..ffi::sqlite3_column_count(stmt) {
                    let v = ffi::sqlite3_column_text(stmt, i);
                    if !v.is_null() {
                        values.push_str(&CStr::from_ptr(v as *const c_char).to_string_lossy());
                    }
                    values.push('|');
                }
            }
            ffi::sqlite3_finalize(stmt);
            Some((touched.0, values))
        }
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        // SAFETY: closes the handle opened in `open`.
        unsafe {
            ffi::sqlite3_close(self.0);
        }
    }
}

fn sqlite_oracle(db: &Sqlite, sql: &str) -> Result<(), String> {
    // The host hands `$1` to SQLite as it is; the generator makes none.
    match db.touched(sql) {
        None => Ok(()),
        Some((_, values)) if values.contains(SENTINEL) => {
            Err(format!("SQLite returned the sentinel: {values}"))
        }
        Some((touched, _)) => match touched
            .iter()
            .find(|(_, t, _)| !t.eq_ignore_ascii_case("items"))
        {
            Some((_, t, _)) => Err(format!("SQLite's authorizer saw it touch `{t}`")),
            None => Ok(()),
        },
    }
}

#[test]
fn checker_agrees_with_sqlite_authorizer() {
    let db = Sqlite::open(&format!(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\
         INSERT INTO items VALUES (1, 'item-1');\
         CREATE TABLE secrets (id INTEGER PRIMARY KEY, secret TEXT);\
         INSERT INTO secrets VALUES (1, '{SENTINEL}');"
    ));
    // The oracle itself sees an ungranted read.
    let (touched, values) = db.touched("SELECT secret FROM secrets").unwrap();
    assert_eq!(
        touched,
        [(ffi::SQLITE_READ, "secrets".into(), "secret".into())]
    );
    assert!(values.contains(SENTINEL));
    // A CTE named like a table is not the table.
    let (touched, _) = db
        .touched("WITH secrets AS (SELECT 1 AS x) SELECT x FROM secrets")
        .unwrap();
    assert!(touched.is_empty(), "{touched:?}");
    fuzz_reads(GDialect::Sqlite, 11, |sql| sqlite_oracle(&db, sql));
}

// --- PostgreSQL: EXPLAIN VERBOSE ---------------------------------------------------------

fn relations(plan: &serde_json::Value, out: &mut Vec<String>) {
    match plan {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(r)) = map.get("Relation Name") {
                let schema = map.get("Schema").and_then(|s| s.as_str()).unwrap_or("?");
                out.push(format!("{schema}.{r}"));
            }
            for v in map.values() {
                relations(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| relations(v, out)),
        _ => {}
    }
}

#[test]
fn checker_agrees_with_postgres_explain() {
    let db = TestDb::new(Dialect::Postgres);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt.block_on(sqlx::PgConnection::connect(&db.url)).unwrap();
    rt.block_on(async {
        for sql in [
            "SET standard_conforming_strings = on".to_string(),
            "CREATE TABLE items (id BIGINT PRIMARY KEY, label TEXT)".into(),
            "CREATE TABLE secrets (id BIGINT PRIMARY KEY, secret TEXT)".into(),
            "CREATE TABLE \"Secrets\" (id BIGINT PRIMARY KEY, secret TEXT)".into(),
            format!("INSERT INTO secrets VALUES (1, '{SENTINEL}')"),
        ] {
            sqlx::query(&sql).execute(&mut conn).await.unwrap();
        }
    });
    let mut explain = |sql: &str| -> Option<Vec<String>> {
        let row = rt
            .block_on(
                sqlx::query(&format!("EXPLAIN (VERBOSE, FORMAT JSON) {sql}")).fetch_one(&mut conn),
            )
            .ok()?;
        let plan: serde_json::Value = row.try_get(0).ok()?;
        let mut out = Vec::new();
        relations(&plan, &mut out);
        Some(out)
    };
    assert_eq!(
        explain("SELECT secret FROM \"Secrets\""),
        Some(vec!["public.Secrets".to_owned()])
    );
    fuzz_reads(GDialect::Postgres, 22, |sql| match explain(sql) {
        None => Ok(()),
        Some(rels) => match rels.iter().find(|r| r.as_str() != "public.items") {
            Some(r) => Err(format!("EXPLAIN shows it reads `{r}`")),
            None => Ok(()),
        },
    });
}

// --- MariaDB: run it, rolled back ---------------------------------------------------------

#[test]
fn checker_agrees_with_mariadb() {
    let db = TestDb::new(Dialect::MySql);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt
        .block_on(sqlx::MySqlConnection::connect(&db.url))
        .unwrap();
    rt.block_on(async {
        for sql in [
            // The plugin session's mode (session.rs pins it).
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'".to_string(),
            "CREATE TABLE items (id BIGINT PRIMARY KEY, label VARCHAR(64))".into(),
            "INSERT INTO items VALUES (1, 'item-1')".into(),
            "CREATE TABLE secrets (id BIGINT PRIMARY KEY, secret VARCHAR(64))".into(),
            "CREATE TABLE `Secrets` (id BIGINT PRIMARY KEY, secret VARCHAR(64))".into(),
            format!("INSERT INTO secrets VALUES (1, '{SENTINEL}')"),
            format!("INSERT INTO `Secrets` VALUES (1, '{SENTINEL}')"),
        ] {
            sqlx::query(&sql).execute(&mut conn).await.unwrap();
        }
    });
    let mut read = |sql: &str| -> Option<String> {
        rt.block_on(async {
            let mut tx = conn.begin().await.ok()?;
            let rows = sqlx::raw_sql(sql).fetch_all(&mut *tx).await;
            tx.rollback().await.ok()?;
            Some(rows_text(&rows.ok()?))
        })
    };
    assert!(
        read("SELECT secret FROM `Secrets`")
            .unwrap()
            .contains(SENTINEL)
    );
    fuzz_reads(GDialect::MySql, 33, |sql| match read(sql) {
        Some(text) if text.contains(SENTINEL) => {
            Err(format!("MariaDB returned the sentinel: {text}"))
        }
        _ => Ok(()),
    });
}

// --- Writes: INSERT, UPDATE and DELETE under write grants ----------------------------------
//
// The grants: read `items` and `trash`; write `items.label` (column-level INSERT and UPDATE,
// no DELETE), `drop_box.note` (write-only: the table is not readable) and `trash.*` (whole
// rows, so DELETE too). `secrets`, `Secrets` and `drop_box.secret` hold the sentinel. Each
// statement `execute` or `query` accepts is checked against the server's own view of what
// it touches:
// - SQLite: the authorizer's actions (reads, updates per column, inserts, deletes), and,
//   since SQLite does not tell the authorizer which columns an INSERT names, the rows the
//   statement inserted (run in a savepoint that is rolled back);
// - PostgreSQL: the statement runs under a role holding exactly the grants (`SET LOCAL
//   ROLE`, in a transaction rolled back): a permission error is a disagreement;
// - MariaDB: the same, as an account holding exactly the grants.
// On all three, no row the statement returns may carry the sentinel.

const WRITE_CASES: u32 = 300_000;

/// The write fuzz's tables, in each server's spelling of an auto-numbered key.
fn write_schema(d: GDialect) -> String {
    let (key, text) = match d {
        GDialect::Postgres => (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY (START WITH 100) PRIMARY KEY",
            "TEXT",
        ),
        GDialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "VARCHAR(64)"),
        GDialect::Sqlite => ("INTEGER PRIMARY KEY", "TEXT"),
    };
    let mut sql = format!(
        "CREATE TABLE items (id {key}, label {text}, hidden {text});\
         INSERT INTO items (id, label, hidden) VALUES (1, 'item-1', 'h-1'), (2, 'item-2', 'h-2');\
         CREATE TABLE trash (id {key}, label {text});\
         INSERT INTO trash (id, label) VALUES (1, 'trash-1'), (2, 'trash-2');\
         CREATE TABLE drop_box (id {key}, note {text}, secret {text});\
         INSERT INTO drop_box (id, note, secret) VALUES (1, 'note-1', '{SENTINEL}'), (2, 'note-2', NULL);\
         CREATE TABLE secrets (id {key}, secret {text});\
         INSERT INTO secrets (id, secret) VALUES (1, '{SENTINEL}'), (2, 'x');"
    );
    let q = match d {
        GDialect::Postgres => '"',
        GDialect::MySql => '`',
        // Table names ignore case on SQLite: `Secrets` is `secrets`.
        GDialect::Sqlite => return sql,
    };
    sql.push_str(&format!(
        "CREATE TABLE {q}Secrets{q} (id {key}, secret {text});\
         INSERT INTO {q}Secrets{q} (id, secret) VALUES (1, '{SENTINEL}');"
    ));
    sql
}

/// Statement shapes; `{T}` is the statement's target table (the same throughout), every
/// other `{X}` is drawn from its pool in [`WritePools`] each time it appears.
fn write_templates(d: GDialect) -> Vec<&'static str> {
    let mut v = vec![
        "INSERT INTO {T} ({C}) VALUES ({E})",
        "INSERT INTO {T} ({C}) VALUES ({E}), ({E})",
        "INSERT INTO {T} ({C}, {C}) VALUES ({E}, {E})",
        "INSERT INTO {T} ({C}) SELECT {E} FROM {R} {W}",
        "INSERT INTO {T} ({C}) SELECT {E} FROM {R} AS {A} {W}",
        "INSERT INTO {T} VALUES (9, {E})",
        "INSERT INTO {T} ({C}) VALUES ({E}) {RET}",
        "INSERT INTO {T} ({C}) WITH {N} AS (SELECT {E} AS label FROM {R}) SELECT label FROM {N}",
        "WITH {N} AS (SELECT {E} AS label FROM {R}) INSERT INTO {T} ({C}) SELECT label FROM {N}",
        "UPDATE {T} SET {C} = {E} {W}",
        "UPDATE {T} SET {C} = {E}, {C} = {E} {W}",
        "UPDATE {T} AS {A} SET {C} = {E} {W}",
        "UPDATE {T} SET {C} = {E} {W} {RET}",
        "UPDATE {T} SET {C} = (WITH {N} AS (SELECT label FROM {R}) SELECT max(label) FROM {N}) {W}",
        "DELETE FROM {T} {W}",
        "DELETE FROM {T} AS {A} {W}",
        "DELETE FROM {T} {W} {RET}",
        "DELETE FROM {T} WHERE id IN (WITH {N} AS (SELECT id FROM {R}) SELECT id FROM {N})",
    ];
    if d != GDialect::MySql {
        v.extend([
            "INSERT INTO {T} ({C}) VALUES ({E}) ON CONFLICT (id) DO UPDATE SET {C} = {E}",
            "INSERT INTO {T} ({C}) VALUES ({E}) ON CONFLICT DO NOTHING",
            "INSERT INTO {T} ({C}) VALUES ({E}) ON CONFLICT (id) DO UPDATE SET {C} = excluded.{C}",
            "UPDATE {T} SET {C} = {E} FROM {R} {W}",
            "UPDATE {T} SET {C} = {E} FROM {R} AS {A} {W}",
            "INSERT INTO {T} DEFAULT VALUES",
        ]);
    }
    match d {
        GDialect::Postgres => v.extend([
            "DELETE FROM {T} USING {R} {W}",
            "DELETE FROM {T} USING {R} AS {A} {W}",
            "UPDATE {T} SET ({C}, {C}) = (SELECT {E}, {E} FROM {R} LIMIT 1) {W}",
            "UPDATE ONLY {T} SET {C} = {E} {W}",
            "WITH {N} AS (DELETE FROM {T} {W} RETURNING *) SELECT * FROM {N}",
            "WITH {N} AS (UPDATE {T} SET {C} = {E} RETURNING *) INSERT INTO {T} ({C}) SELECT label FROM {N}",
            "WITH {N} AS (INSERT INTO {T} ({C}) VALUES ({E}) RETURNING *) SELECT 1",
            "WITH {N} AS (DELETE FROM {R} RETURNING *) INSERT INTO {T} ({C}) SELECT label FROM {N}",
            "INSERT INTO {T} ({C}) OVERRIDING USER VALUE VALUES ({E})",
        ]),
        GDialect::Sqlite => v.extend([
            "INSERT OR REPLACE INTO {T} ({C}) VALUES ({E})",
            "REPLACE INTO {T} ({C}) VALUES ({E})",
            "UPDATE OR REPLACE {T} SET {C} = {E} {W}",
        ]),
        GDialect::MySql => v.extend([
            "INSERT INTO {T} ({C}) VALUES ({E}) ON DUPLICATE KEY UPDATE {C} = {E}",
            "INSERT INTO {T} ({C}) VALUES ({E}) ON DUPLICATE KEY UPDATE {C} = VALUES({C})",
            "INSERT IGNORE INTO {T} ({C}) VALUES ({E})",
            "INSERT INTO {T} SET {C} = {E}",
            "REPLACE INTO {T} ({C}) VALUES ({E})",
            "REPLACE INTO {T} ({C}) SELECT {E} FROM {R}",
            "UPDATE {T}, {R} SET {C} = {E} {W}",
            "UPDATE {T} JOIN {R} ON {R}.id = {T}.id SET {C} = {E}",
            "UPDATE {T} SET {C} = {E} {W} {ORD}",
            "UPDATE {T} AS {A} SET {C} = {E} {ORD}",
            "DELETE FROM {T} {W} {ORD}",
            "DELETE {T} FROM {T} JOIN {R} ON {R}.id = {T}.id",
            "DELETE {A} FROM {R} AS {A} {W}",
            "DELETE FROM {T} USING {R} AS {A} {W}",
            "DELETE FROM {T} USING {R} AS {T} {W}",
            "DELETE FROM {A} USING {T} AS {A} {W}",
            "DELETE FROM {T} USING {T}, {R} {W}",
        ]),
    }
    v
}

/// What fills the placeholders of [`write_templates`].
#[derive(Clone)]
struct WritePools {
    /// `{R}`, `{N}` and the target: tables in every case and quoting.
    names: Vec<&'static str>,
    /// `{A}`: aliases, some named like the tables.
    aliases: Vec<&'static str>,
    /// `{C}`: columns written.
    columns: Vec<&'static str>,
    /// `{E}`: values, some reading columns or tables.
    exprs: Vec<&'static str>,
    /// `{W}`: conditions.
    wheres: Vec<&'static str>,
    /// `{ORD}`: MySQL's ORDER BY … LIMIT on UPDATE and DELETE.
    orders: Vec<&'static str>,
    /// `{RET}`: RETURNING clauses.
    returning: Vec<&'static str>,
}

impl WritePools {
    fn new(d: GDialect) -> WritePools {
        let mut names = vec![
            "items",
            "ITEMS",
            "\"items\"",
            "\"Items\"",
            "trash",
            "Trash",
            "\"trash\"",
            "drop_box",
            "DROP_BOX",
            "\"drop_box\"",
            "secrets",
            "Secrets",
            "\"Secrets\"",
            "\"secrets\"",
        ];
        let mut columns = vec![
            "label",
            "LABEL",
            "\"label\"",
            "\"Label\"",
            "note",
            "NOTE",
            "hidden",
            "secret",
            "id",
            "{T}.label",
            "{T}.note",
            "{T}.hidden",
            "t.label",
            "items.label",
            "trash.label",
            "drop_box.note",
        ];
        if d == GDialect::MySql {
            names.extend(["`items`", "`trash`", "`drop_box`", "`Secrets`"]);
            columns.extend(["`label`", "`note`", "`hidden`", "`LABEL`"]);
        }
        WritePools {
            names,
            aliases: vec![
                "t",
                "trash",
                "items",
                "drop_box",
                "secrets",
                "Trash",
                "\"trash\"",
            ],
            columns,
            exprs: vec![
                "'w'",
                "NULL",
                "DEFAULT",
                "label",
                "note",
                "secret",
                "hidden",
                "id",
                "lower(label)",
                "concat(label, 'w')",
                "{T}.label",
                "{T}.secret",
                "{T}.note",
                "coalesce({T}.*)",
                "concat({T}.*)",
                "row({T}.*)",
                "(SELECT secret FROM {R} LIMIT 1)",
                "(SELECT label FROM {R} LIMIT 1)",
                "(SELECT max(label) FROM {R})",
                "(SELECT count(*) FROM {R})",
                "CASE WHEN secret IS NULL THEN 'a' ELSE 'b' END",
                "CASE WHEN id = 1 THEN 'a' END",
                "{R}.secret",
                "{R}.label",
                "excluded.secret",
                "VALUES(secret)",
            ],
            wheres: vec![
                "",
                "WHERE id = 1",
                "WHERE secret IS NULL",
                "WHERE note IS NULL",
                "WHERE label = 'item-1'",
                "WHERE EXISTS (SELECT 1 FROM {R})",
                "WHERE id IN (SELECT id FROM {R})",
                "WHERE {R}.id = {T}.id",
                "WHERE {T}.id = 1",
                "WHERE t.id = 1",
            ],
            orders: vec![
                "ORDER BY id LIMIT 1",
                "ORDER BY secret LIMIT 1",
                "ORDER BY note DESC LIMIT 1",
                "ORDER BY hidden LIMIT 1",
                "ORDER BY (SELECT count(*) FROM {R}) LIMIT 1",
                "LIMIT 1",
            ],
            returning: vec![
                "RETURNING *",
                "RETURNING id",
                "RETURNING secret",
                "RETURNING note",
                "RETURNING (SELECT secret FROM {R} LIMIT 1)",
                "RETURNING {T}.*",
            ],
        }
    }

    fn pool(&self, key: &str) -> &[&'static str] {
        match key {
            "R" | "N" => &self.names,
            "A" => &self.aliases,
            "C" => &self.columns,
            "E" => &self.exprs,
            "W" => &self.wheres,
            "ORD" => &self.orders,
            "RET" => &self.returning,
            other => panic!("no pool for placeholder {{{other}}}"),
        }
    }

    /// `template` with `{T}` as `target` and each other placeholder drawn by `picks`.
    fn fill(&self, template: &str, target: &str, picks: &[u16]) -> String {
        let mut out = template.to_string();
        let mut next = 0;
        while let Some(start) = out.find('{') {
            let end = start + out[start..].find('}').expect("a closed placeholder");
            let key = out[start + 1..end].to_string();
            let piece = if key == "T" {
                target
            } else {
                let pool = self.pool(&key);
                let pick = picks[next % picks.len()] as usize;
                next += 1;
                pool[pick % pool.len()]
            };
            out.replace_range(start..=end, piece);
        }
        out
    }
}

/// Text that hides or reveals a write, depending on who reads it.
const WRITE_PAYLOADS: &[&str] = &[
    "WHERE id = 1",
    ", hidden = 'w'",
    ", secret = 'w'",
    ", note = 'w'",
    "RETURNING secret",
    "WHERE EXISTS (SELECT 1 FROM secrets)",
    "ORDER BY secret LIMIT 1",
    "; DELETE FROM secrets",
    "",
    "x",
];

/// `text` with its keywords in another case; placeholders (`{C}`) stay as they are.
fn recase(text: &str, how: u8) -> String {
    let mut inside = false;
    text.chars()
        .map(|c| {
            match c {
                '{' => inside = true,
                '}' => inside = false,
                _ => {}
            }
            match how {
                _ if inside => c,
                1 => c.to_ascii_lowercase(),
                2 => c.to_ascii_uppercase(),
                _ => c,
            }
        })
        .collect()
}

/// One generated INSERT, UPDATE or DELETE (or a query holding one).
fn write_statement(d: GDialect) -> impl Strategy<Value = String> {
    let pools = WritePools::new(d);
    // Targets the grants cover, three times in four: a statement on an ungranted target
    // is refused whatever else it holds, and teaches nothing more.
    let writable: Vec<&'static str> = pools
        .names
        .iter()
        .copied()
        .filter(|n| !n.to_ascii_lowercase().contains("secrets"))
        .collect();
    (
        prop::sample::select(write_templates(d)),
        prop_oneof![
            3 => prop::sample::select(writable),
            1 => prop::sample::select(pools.names.clone()),
        ],
        prop::collection::vec(any::<u16>(), 12),
        0u8..3,
        prop::sample::select(SEPARATORS),
        prop::collection::vec(
            (
                prop::sample::select(wrappers(d)),
                prop::sample::select(WRITE_PAYLOADS),
                prop::sample::select(SEPARATORS),
            ),
            0..3,
        ),
    )
        .prop_map(move |(template, target, picks, case, sep, tail)| {
            let shaped = recase(template, case).replace(' ', sep);
            let mut sql = pools.fill(&shaped, target, &picks);
            for (wrapper, payload, sep) in tail {
                sql.push_str(sep);
                sql.push_str(&wrapper.replace("{}", payload));
            }
            sql
        })
}

/// Runs the write fuzz for `d`: statements that `execute` (or `query`) accepts go to
/// `oracle`.
fn fuzz_writes(d: GDialect, seed: u8, oracle: impl FnMut(&str) -> Result<(), String>) {
    let c = caps(
        &["items", "trash"],
        &["items.label", "drop_box.note", "trash.*"],
    );
    fuzz(
        d,
        seed,
        WRITE_CASES,
        write_statement(d),
        |sql| c.check_execute(d, sql, false).is_ok() || c.check_query(d, sql).is_ok(),
        oracle,
    );
}

/// What the SQLite authorizer reports that the write grants do not cover.
fn sqlite_ungranted(touched: &[Action]) -> Option<String> {
    touched.iter().find_map(|(action, table, column)| {
        let (t, c) = (table.to_ascii_lowercase(), column.to_ascii_lowercase());
        let (allowed, what) = match *action {
            ffi::SQLITE_READ => (matches!(t.as_str(), "items" | "trash"), "read"),
            ffi::SQLITE_UPDATE => (
                matches!(
                    (t.as_str(), c.as_str()),
                    ("items", "label") | ("drop_box", "note") | ("trash", _)
                ),
                "update",
            ),
            ffi::SQLITE_INSERT => (
                matches!(t.as_str(), "items" | "drop_box" | "trash"),
                "insert",
            ),
            _ => (t == "trash", "delete"),
        };
        (!allowed).then(|| format!("SQLite's authorizer saw a {what} of `{table}`.`{column}`"))
    })
}

/// The SQLite write oracle: the authorizer's actions, what the statement returns, and the
/// rows it inserted, in a savepoint rolled back afterwards.
fn sqlite_write_oracle(db: &Sqlite, sql: &str) -> Result<(), String> {
    db.exec("SAVEPOINT fuzz");
    let verdict = (|| {
        let Some((touched, values)) = db.touched(sql) else {
            return Ok(());
        };
        if values.contains(SENTINEL) {
            return Err(format!("SQLite returned the sentinel: {values}"));
        }
        if let Some(e) = sqlite_ungranted(&touched) {
            return Err(e);
        }
        // The authorizer names no column of an INSERT: a new row must hold the default
        // (NULL, and the next key) in every column not granted, and the sentinel nowhere.
        let (_, wrote) = db
            .touched(&format!(
                "SELECT 'items.hidden' FROM items WHERE id > 2 AND hidden IS NOT NULL \
                 UNION ALL SELECT 'items.id' WHERE (SELECT max(id) - 2 - count(*) FROM items WHERE id > 2) <> 0 \
                 UNION ALL SELECT 'drop_box.secret' FROM drop_box WHERE id > 2 AND secret IS NOT NULL \
                 UNION ALL SELECT 'drop_box.id' WHERE (SELECT max(id) - 2 - count(*) FROM drop_box WHERE id > 2) <> 0 \
                 UNION ALL SELECT 'items.label' FROM items WHERE label = '{SENTINEL}' \
                 UNION ALL SELECT 'trash.label' FROM trash WHERE label = '{SENTINEL}' \
                 UNION ALL SELECT 'drop_box.note' FROM drop_box WHERE note = '{SENTINEL}'"
            ))
            .expect("the check reads");
        match wrote.is_empty() {
            true => Ok(()),
            false => Err(format!("it wrote ungranted columns: {wrote}")),
        }
    })();
    db.exec("ROLLBACK TO fuzz; RELEASE fuzz");
    verdict
}

/// The oracle itself sees each kind of ungranted write, and passes granted ones.
fn oracle_controls(mut oracle: impl FnMut(&str) -> Result<(), String>) {
    for (sql, ungranted) in [
        ("UPDATE items SET label = 'w'", false),
        ("INSERT INTO items (label) VALUES ('w')", false),
        ("UPDATE drop_box SET note = 'w'", false),
        ("DELETE FROM trash WHERE id = 1", false),
        ("UPDATE items SET hidden = 'w'", true),
        ("INSERT INTO items (label, hidden) VALUES ('w', 'w')", true),
        ("INSERT INTO items (id, label) VALUES (7, 'w')", true),
        ("DELETE FROM items", true),
        ("UPDATE drop_box SET note = 'w' WHERE secret IS NULL", true),
        ("INSERT INTO trash (label) SELECT secret FROM secrets", true),
        (
            "DELETE FROM trash RETURNING (SELECT secret FROM drop_box LIMIT 1)",
            true,
        ),
    ] {
        assert_eq!(oracle(sql).is_err(), ungranted, "{sql}");
    }
}

#[test]
fn checker_agrees_with_sqlite_authorizer_on_writes() {
    let db = Sqlite::open(&write_schema(GDialect::Sqlite));
    oracle_controls(|sql| sqlite_write_oracle(&db, sql));
    fuzz_writes(GDialect::Sqlite, 12, |sql| sqlite_write_oracle(&db, sql));
}

/// Every value of every row as text, `|` after each: enough to spot the sentinel.
fn rows_text<R: Row>(rows: &[R]) -> String
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database>,
{
    let mut text = String::new();
    for row in rows {
        for i in 0..row.len() {
            if let Ok(s) = row.try_get_unchecked::<Option<String>, _>(i) {
                text.push_str(&s.unwrap_or_default());
            } else if let Ok(b) = row.try_get_unchecked::<Option<Vec<u8>>, _>(i) {
                text.push_str(&String::from_utf8_lossy(&b.unwrap_or_default()));
            }
            text.push('|');
        }
    }
    text
}

/// The oracle's verdict on one run: a permission error (by `denied`) or the sentinel in
/// what came back is a disagreement; any other error is the server refusing the statement
/// for its own reasons.
fn run_verdict<R: Row>(
    result: Result<Vec<R>, sqlx::Error>,
    denied: impl Fn(&dyn sqlx::error::DatabaseError) -> bool,
    server: &str,
) -> Result<(), String>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database>,
{
    match result {
        Ok(rows) => {
            let text = rows_text(&rows);
            match text.contains(SENTINEL) {
                true => Err(format!("{server} returned the sentinel: {text}")),
                false => Ok(()),
            }
        }
        Err(sqlx::Error::Database(e)) if denied(e.as_ref()) => Err(format!(
            "{server}, holding exactly the grants, refused it: {e}"
        )),
        Err(_) => Ok(()),
    }
}

#[test]
fn checker_agrees_with_postgres_privileges_on_writes() {
    let db = TestDb::new(Dialect::Postgres);
    let role = format!("{}_fuzz", db.name);
    // Named with godwit's comment for this database, so TestDb drops it with the database.
    let comment = godwit::driver::postgres::plugin_role_comment(&db.name);
    db.exec(&format!(
        "{schema}
         CREATE ROLE {role} NOLOGIN;
         COMMENT ON ROLE {role} IS '{comment}';
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT ON items, trash TO {role};
         GRANT INSERT (label), UPDATE (label) ON items TO {role};
         GRANT INSERT (note), UPDATE (note) ON drop_box TO {role};
         GRANT INSERT, UPDATE, DELETE ON trash TO {role};",
        schema = write_schema(GDialect::Postgres),
        comment = comment.replace('\'', "''"),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt.block_on(sqlx::PgConnection::connect(&db.url)).unwrap();
    let mut run = |sql: &str| -> Result<(), String> {
        rt.block_on(async {
            let mut tx = conn.begin().await.unwrap();
            sqlx::raw_sql(&format!("SET LOCAL ROLE {role}"))
                .execute(&mut *tx)
                .await
                .unwrap();
            let result = sqlx::raw_sql(sql).fetch_all(&mut *tx).await;
            tx.rollback().await.unwrap();
            run_verdict(
                result,
                |e| e.code().as_deref() == Some("42501"),
                "PostgreSQL",
            )
        })
    };
    oracle_controls(&mut run);
    fuzz_writes(GDialect::Postgres, 23, run);
}

/// A MariaDB account that lives as long as the test.
struct Account(String);

impl Drop for Account {
    fn drop(&mut self) {
        admin(
            admin_url(Dialect::MySql),
            &format!("DROP USER IF EXISTS '{}'@'%'", self.0),
        );
    }
}

#[test]
fn checker_agrees_with_mariadb_privileges_on_writes() {
    let db = TestDb::new(Dialect::MySql);
    db.exec(&write_schema(GDialect::MySql));
    let account = Account(format!("{}_f", db.name));
    let (user, name) = (&account.0, &db.name);
    admin(
        admin_url(Dialect::MySql),
        &format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'fuzz';
             GRANT SELECT ON `{name}`.items TO '{user}'@'%';
             GRANT SELECT ON `{name}`.trash TO '{user}'@'%';
             GRANT INSERT (label), UPDATE (label) ON `{name}`.items TO '{user}'@'%';
             GRANT INSERT (note), UPDATE (note) ON `{name}`.drop_box TO '{user}'@'%';
             GRANT INSERT, UPDATE, DELETE ON `{name}`.trash TO '{user}'@'%';"
        ),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("mysql://{user}:fuzz@127.0.0.1:3306/{name}");
    let mut conn = rt.block_on(sqlx::MySqlConnection::connect(&url)).unwrap();
    rt.block_on(
        // The plugin session's mode (session.rs pins it).
        sqlx::raw_sql("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'")
            .execute(&mut conn),
    )
    .unwrap();
    // MariaDB's "access denied" errors: to the database, a table, a column, a privilege,
    // a routine.
    let denied = |e: &dyn sqlx::error::DatabaseError| {
        e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1044 | 1045 | 1142 | 1143 | 1227 | 1370))
    };
    let mut run = |sql: &str| -> Result<(), String> {
        rt.block_on(async {
            let mut tx = conn.begin().await.unwrap();
            let result = sqlx::raw_sql(sql).fetch_all(&mut *tx).await;
            tx.rollback().await.unwrap();
            run_verdict(result, denied, "MariaDB")
        })
    };
    oracle_controls(&mut run);
    fuzz_writes(GDialect::MySql, 34, run);
}
