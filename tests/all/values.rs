//! Typed queries for plugin sessions on the three real databases: `$N` parameters,
//! binding every `Value` kind, decoding by column type, read-only transactions.

use godwit::config::{Config, Overrides};
use godwit::driver::{self, Session};
use godwit::value::{Rows, Value};

use crate::each_dialect;
use crate::support::*;

fn with_driver<T>(db: &TestDb, body: impl AsyncFnOnce(&mut dyn Session) -> T) -> T {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        database_url: Some(db.url.clone()),
        ..Default::default()
    };
    let config = Config::load(dir.path(), &overrides).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut driver = driver::connect(&config.connect_settings()).await.unwrap();
        body(driver.as_mut()).await
    })
}

fn table_ddl(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => {
            "CREATE TABLE t (id BIGINT PRIMARY KEY, flag BOOLEAN, small SMALLINT, n INTEGER, f DOUBLE PRECISION, \
             amount NUMERIC(10,2), s TEXT, v VARCHAR(20), data BYTEA, doc JSONB, j JSON, at TIMESTAMPTZ, \
             naive TIMESTAMP, d DATE, tm TIME, u UUID)"
        }
        Dialect::MySql => {
            "CREATE TABLE t (id BIGINT PRIMARY KEY, flag BOOLEAN, small SMALLINT, n INT, f DOUBLE, \
             amount DECIMAL(10,2), s TEXT, v VARCHAR(20), data BLOB, doc JSON, j JSON, at DATETIME(6), \
             naive DATETIME(6), d DATE, tm TIME, u CHAR(36))"
        }
        Dialect::Sqlite => {
            "CREATE TABLE t (id INTEGER PRIMARY KEY, flag BOOLEAN, small INTEGER, n INTEGER, f REAL, \
             amount TEXT, s TEXT, v VARCHAR(20), data BLOB, doc TEXT, j TEXT, at DATETIME, \
             naive DATETIME, d TEXT, tm TEXT, u TEXT)"
        }
    }
}

const COLUMNS: &str = "id, flag, small, n, f, amount, s, v, data, doc, j, at, naive, d, tm, u";

fn insert_sql() -> String {
    let params: Vec<String> = (1..=16).map(|n| format!("${n}")).collect();
    // Text reaches numeric, date, time and uuid columns without a cast on every dialect.
    format!("INSERT INTO t ({COLUMNS}) VALUES ({})", params.join(", "))
}

fn full_row() -> Vec<Value> {
    vec![
        Value::Int(1),
        Value::Bool(true),
        Value::Int(-3),
        Value::Int(2_000_000_000),
        Value::Float(1.25),
        Value::Text("12.34".into()),
        Value::Text("it's $1 -- not a parameter".into()),
        Value::Text("héllo".into()),
        Value::Bytes(vec![0, 1, 255]),
        Value::Json(r#"{"a": 1}"#.into()),
        Value::Json(r#"[1, 2]"#.into()),
        Value::Timestamp("2026-11-21T08:00:00.5Z".into()),
        Value::Timestamp("2026-11-21T10:00:00+02:00".into()),
        Value::Text("2026-11-21".into()),
        Value::Text("08:30:00".into()),
        Value::Text("6f1c7a2e-8d5b-4c3a-9e2f-0a1b2c3d4e5f".into()),
    ]
}

fn typed_values_round_trip(d: Dialect) {
    let db = TestDb::new(d);
    db.exec(table_ddl(d));
    let rows = with_driver(&db, async |driver| {
        let sql = insert_sql();
        assert_eq!(driver.execute_values(&sql, &full_row()).await.unwrap(), 1);
        let mut nulls = vec![Value::Null; 16];
        nulls[0] = Value::Int(2);
        assert_eq!(driver.execute_values(&sql, &nulls).await.unwrap(), 1);
        driver
            .query_values(&format!("SELECT {COLUMNS} FROM t ORDER BY id"), &[])
            .await
            .unwrap()
    });
    assert_eq!(rows.columns.join(", "), COLUMNS);
    let got = &rows.rows[0];
    let want = full_row();
    for (i, name) in COLUMNS.split(", ").enumerate() {
        let (g, w) = (&got[i], &want[i]);
        let ok = match (name, d) {
            // JSON comes back in the server's own spelling; MariaDB's JSON is LONGTEXT.
            ("doc" | "j", Dialect::Postgres) => {
                matches!(g, Value::Json(t) if t.replace(' ', "") == w.to_string().replace(' ', ""))
            }
            ("doc" | "j", _) => matches!(g, Value::Json(t) | Value::Text(t) if t == &w.to_string()),
            ("at", _) => *g == Value::Timestamp("2026-11-21T08:00:00.500Z".into()),
            ("naive", _) => *g == Value::Timestamp("2026-11-21T08:00:00Z".into()),
            ("f", _) => *g == Value::Float(1.25),
            ("amount", Dialect::Sqlite) => *g == Value::Text("12.34".into()),
            _ => g == w,
        };
        assert!(ok, "{d} column {name}: got {g:?}, sent {w:?}");
    }
    assert!(
        rows.rows[1][1..].iter().all(Value::is_null),
        "{d}: {:?}",
        rows.rows[1]
    );
}

fn null_binds_into_any_column_type(d: Dialect) {
    let db = TestDb::new(d);
    db.exec(table_ddl(d));
    with_driver(&db, async |driver| {
        driver
            .execute_values(
                "INSERT INTO t (id, n) VALUES ($1, $2)",
                &[Value::Int(1), Value::Int(5)],
            )
            .await
            .unwrap();
        // Every column type takes a NULL parameter without a cast.
        for column in COLUMNS.split(", ").skip(1) {
            let sql = format!("UPDATE t SET {column} = $1 WHERE id = $2");
            driver
                .execute_values(&sql, &[Value::Null, Value::Int(1)])
                .await
                .unwrap_or_else(|e| panic!("{d} {sql}: {e}"));
        }
        let rows = driver
            .query_values(
                "SELECT n FROM t WHERE $1 IS NULL OR id = $2",
                &[Value::Int(0), Value::Int(1)],
            )
            .await
            .unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Null]]);
    });
}

fn placeholders_reorder_and_repeat(d: Dialect) {
    let db = TestDb::new(d);
    let rows = with_driver(&db, async |driver| {
        driver
            .query_values(
                "SELECT $2 AS a, '$1' AS b, $1 AS c, $2 AS d",
                &[Value::Int(7), Value::Text("x".into())],
            )
            .await
            .unwrap()
    });
    assert_eq!(
        rows,
        Rows {
            columns: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            rows: vec![vec![
                Value::Text("x".into()),
                Value::Text("$1".into()),
                Value::Int(7),
                Value::Text("x".into())
            ]],
        },
        "{d}"
    );
    let err = with_driver(&db, async |driver| {
        driver
            .query_values("SELECT $2", &[Value::Int(1)])
            .await
            .unwrap_err()
    });
    assert!(err.to_string().contains("uses $2 but 1 parameter"), "{err}");
}

fn read_only_transaction_refuses_writes(d: Dialect) {
    let db = TestDb::new(d);
    db.exec("CREATE TABLE t (id INT)");
    with_driver(&db, async |driver| {
        driver.begin_read_only().await.unwrap();
        let read = driver
            .query_values("SELECT count(*) AS n FROM t", &[])
            .await
            .unwrap();
        assert_eq!(read.rows, vec![vec![Value::Int(0)]]);
        let err = driver
            .execute_values("INSERT INTO t (id) VALUES ($1)", &[Value::Int(1)])
            .await
            .unwrap_err();
        let text = err.to_string().to_lowercase();
        assert!(
            text.contains("read") && text.contains("only"),
            "{d}: {text}"
        );
        driver.rollback().await.unwrap();
        // The next transaction may write again: query_only (SQLite) was turned off.
        driver.begin().await.unwrap();
        driver
            .execute_values("INSERT INTO t (id) VALUES ($1)", &[Value::Int(1)])
            .await
            .unwrap();
        driver.commit().await.unwrap();
        driver.begin_read_only().await.unwrap();
        driver.commit().await.unwrap();
        assert_eq!(
            driver
                .execute_values("INSERT INTO t (id) VALUES ($1)", &[Value::Int(2)])
                .await
                .unwrap(),
            1
        );
    });
    assert_eq!(db.int("SELECT count(*) FROM t"), 2);
}

fn undecodable_type_names_column_and_cast(d: Dialect) {
    let db = TestDb::new(d);
    let sql = match d {
        Dialect::Postgres => "SELECT interval '1 day' AS span",
        Dialect::MySql => "SELECT ST_GeomFromText('POINT(1 1)') AS span",
        Dialect::Sqlite => return,
    };
    let err = with_driver(&db, async |driver| {
        driver.query_values(sql, &[]).await.unwrap_err()
    });
    let text = err.to_string();
    assert!(
        text.contains("`span`") && text.contains("cast it"),
        "{d}: {text}"
    );
}

/// sqlx caches PostgreSQL statements by text with the parameter types of the first call;
/// the same SQL with a different kind of value must still work.
fn same_sql_with_other_kinds_of_values(d: Dialect) {
    let db = TestDb::new(d);
    db.exec("CREATE TABLE t (id INT, n INT, d DATE)");
    with_driver(&db, async |driver| {
        let sql = "INSERT INTO t (id, n, d) VALUES ($1, $2, $3)";
        for (i, (n, date)) in [
            (Value::Int(5), Value::Text("2026-01-02".into())),
            (Value::Null, Value::Null),
            (Value::Int(6), Value::Null),
            (Value::Null, Value::Text("2026-03-04".into())),
        ]
        .into_iter()
        .enumerate()
        {
            driver
                .execute_values(sql, &[Value::Int(i as i64), n, date])
                .await
                .unwrap_or_else(|e| panic!("{d} call {i}: {e}"));
        }
        let rows = driver
            .query_values("SELECT n, d FROM t ORDER BY id", &[])
            .await
            .unwrap();
        assert_eq!(
            rows.rows,
            vec![
                vec![Value::Int(5), Value::Text("2026-01-02".into())],
                vec![Value::Null, Value::Null],
                vec![Value::Int(6), Value::Null],
                vec![Value::Null, Value::Text("2026-03-04".into())],
            ],
            "{d}"
        );
    });
}

each_dialect!(
    same_sql_with_other_kinds_of_values,
    typed_values_round_trip,
    null_binds_into_any_column_type,
    placeholders_reorder_and_repeat,
    read_only_transaction_refuses_writes,
    undecodable_type_names_column_and_cast,
);
