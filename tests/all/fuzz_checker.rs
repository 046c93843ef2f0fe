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

use std::ffi::{CStr, CString, c_char, c_int, c_void};

use godwit::Dialect as GDialect;
use godwit::plugin::capability::{Capabilities, Grants};
use godwit::plugin::manifest::Requests;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use sqlx::{Connection, Row};

use crate::support::{Dialect, TestDb};

const SENTINEL: &str = "fuzz-sentinel-91c2";
const CASES: u32 = 100_000;

fn caps() -> Capabilities {
    let grants = Grants {
        read: vec!["items".into()],
        ..Default::default()
    };
    let requests = Requests {
        read: grants.read.clone(),
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

/// Runs the generator for `d`; `oracle` says what the server touched for an accepted
/// statement, as an error naming the violation. Returns (cases, accepted).
fn fuzz(d: GDialect, seed: u8, oracle: impl FnMut(&str) -> Result<(), String>) -> (u32, u32) {
    let oracle = std::cell::RefCell::new(oracle);
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let c = caps();
    let accepted = std::cell::Cell::new(0);
    let cases = std::cell::Cell::new(0);
    let result = runner.run(&query(d), |sql| {
        cases.set(cases.get() + 1);
        if c.check_query(d, &sql).is_err() {
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
        "{d}: {} cases, {} accepted by the checker, no disagreement",
        cases.get(),
        accepted.get()
    );
    (cases.get(), accepted.get())
}

// --- SQLite: the authorizer ------------------------------------------------------------

use libsqlite3_sys as ffi;

struct Touched(Vec<String>);

unsafe extern "C" fn authorize(
    data: *mut c_void,
    action: c_int,
    a: *const c_char,
    _b: *const c_char,
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
        // for the whole prepare; `a` is a NUL-terminated string from SQLite.
        let touched = unsafe { &mut *(data as *mut Touched) };
        let table = unsafe { CStr::from_ptr(a) }.to_string_lossy().into_owned();
        touched.0.push(table);
    }
    ffi::SQLITE_OK
}

struct Sqlite(*mut ffi::sqlite3);

impl Sqlite {
    fn open() -> Sqlite {
        let mut db = std::ptr::null_mut();
        let name = CString::new(":memory:").unwrap();
        // SAFETY: plain FFI calls on a database this struct owns.
        unsafe {
            assert_eq!(ffi::sqlite3_open(name.as_ptr(), &mut db), ffi::SQLITE_OK);
            let schema = CString::new(format!(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\
                 INSERT INTO items VALUES (1, 'item-1');\
                 CREATE TABLE secrets (id INTEGER PRIMARY KEY, secret TEXT);\
                 INSERT INTO secrets VALUES (1, '{SENTINEL}');"
            ))
            .unwrap();
            let rc = ffi::sqlite3_exec(
                db,
                schema.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            assert_eq!(rc, ffi::SQLITE_OK);
        }
        Sqlite(db)
    }

    /// The tables SQLite's parser says the statement reads or writes, and every value of
    /// every row it returns; None if SQLite refuses the statement itself.
    fn touched(&self, sql: &str) -> Option<(Vec<String>, String)> {
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
        Some((tables, _)) => match tables.iter().find(|t| !t.eq_ignore_ascii_case("items")) {
            Some(t) => Err(format!("SQLite's authorizer saw it touch `{t}`")),
            None => Ok(()),
        },
    }
}

#[test]
fn checker_agrees_with_sqlite_authorizer() {
    let db = Sqlite::open();
    // The oracle itself sees an ungranted read.
    let (tables, values) = db.touched("SELECT secret FROM secrets").unwrap();
    assert_eq!(tables, ["secrets"]);
    assert!(values.contains(SENTINEL));
    // A CTE named like a table is not the table.
    let (tables, _) = db
        .touched("WITH secrets AS (SELECT 1 AS x) SELECT x FROM secrets")
        .unwrap();
    assert!(tables.is_empty(), "{tables:?}");
    let (cases, accepted) = fuzz(GDialect::Sqlite, 11, |sql| sqlite_oracle(&db, sql));
    assert!(
        accepted > 0 && cases == CASES,
        "{cases} cases, {accepted} accepted"
    );
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
    let (cases, accepted) = fuzz(GDialect::Postgres, 22, |sql| match explain(sql) {
        None => Ok(()),
        Some(rels) => match rels.iter().find(|r| r.as_str() != "public.items") {
            Some(r) => Err(format!("EXPLAIN shows it reads `{r}`")),
            None => Ok(()),
        },
    });
    assert!(
        accepted > 0 && cases == CASES,
        "{cases} cases, {accepted} accepted"
    );
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
            let rows = rows.ok()?;
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
            Some(text)
        })
    };
    assert!(
        read("SELECT secret FROM `Secrets`")
            .unwrap()
            .contains(SENTINEL)
    );
    let (cases, accepted) = fuzz(GDialect::MySql, 33, |sql| match read(sql) {
        Some(text) if text.contains(SENTINEL) => {
            Err(format!("MariaDB returned the sentinel: {text}"))
        }
        _ => Ok(()),
    });
    assert!(
        accepted > 0 && cases == CASES,
        "{cases} cases, {accepted} accepted"
    );
}
