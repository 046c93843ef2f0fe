//! Backfilling 1,000,000 rows on PostgreSQL through a Wasm `transform`, against the ways
//! people write the same change today (issue 3); plus the plugin runtime's own costs.
//!
//! Run with `cargo bench --bench backfill`. Needs a PostgreSQL server where the URL in
//! `GODWIT_BENCH_SERVER` (default `postgres://postgres@127.0.0.1:5432`) may create and
//! drop databases. `GODWIT_BENCH_ROWS` changes the table size (default 1,000,000) and
//! `GODWIT_BENCH_LOOP_ROWS` how many rows the row-by-row loop does (default 20,000: at a
//! commit per row it would take many minutes over the whole table; its rate is what is
//! compared).
//!
//! The change: `email_norm := lower(email)` on every row of `items(id bigint primary key,
//! email text, email_norm text)`. Each contender gets its own freshly filled and
//! vacuumed copy of the table, in one database, run one after the other in one process:
//! - single UPDATE (the floor): `UPDATE items SET email_norm = lower(email)`, one statement.
//! - godwit: `godwit deploy` of a project whose one migration is a step running the
//!   built-in `column-copy` plugin (transform = lower), the whole process; with 1 worker
//!   (the single-connection loop), 2 and 4 workers (`--workers N`), and two processes (a
//!   deploy and a `godwit work`, 2 workers each). Peak RSS is each run's largest process.
//! - id-batched UPDATE: `UPDATE … SET email_norm = lower(email) WHERE id IN (…1000 ids…)`,
//!   a transaction per batch, walking the ids in order.
//! - row-by-row loop (the ORM pattern): read the rows, then one `UPDATE … WHERE id = $1`
//!   per row, each committed on its own.
//!
//! Then the runtime: instantiation from `InstancePre` (cached component), the cost of a
//! `transform` call by batch size, and loading the plugin cold (compiling) against
//! loading it from the compile cache.

use std::path::Path;
use std::time::{Duration, Instant};

use godwit::plugin::{Context, Limits, Runtime, RuntimeConfig, builtin, types};
use sqlx::{Connection, Executor, PgConnection, Row};

const GODWIT: &str = env!("CARGO_BIN_EXE_godwit");

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(message) = rt.block_on(run()) {
        eprintln!("benchmark failed: {message}");
        std::process::exit(1);
    }
    if let Err(message) = runtime_costs() {
        eprintln!("benchmark failed: {message}");
        std::process::exit(1);
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

async fn run() -> Result<(), String> {
    let server = std::env::var("GODWIT_BENCH_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let server = server.trim_end_matches('/').to_string();
    let rows = env_usize("GODWIT_BENCH_ROWS", 1_000_000);
    let loop_rows = env_usize("GODWIT_BENCH_LOOP_ROWS", 20_000).min(rows);
    let db = format!("godwit_bench_backfill_{}", std::process::id());
    let e = |what: &'static str| move |err: sqlx::Error| format!("{what}: {err}");
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .map_err(e("connect"))?;
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .map_err(e("create database"))?;
    let url = format!("{server}/{db}");
    let result = contenders(&url, rows, loop_rows).await;
    drop(admin);
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .map_err(e("connect"))?;
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
        .await;
    result
}

async fn fill(conn: &mut PgConnection, table: &str, rows: usize) -> Result<(), String> {
    let sql = format!(
        "DROP TABLE IF EXISTS {table};
         CREATE TABLE {table} (id BIGINT PRIMARY KEY, email TEXT NOT NULL, email_norm TEXT);
         INSERT INTO {table} (id, email)
             SELECT n, 'User.' || n || '@Example.COM' FROM generate_series(1, {rows}) AS n;"
    );
    sqlx::raw_sql(&sql)
        .execute(&mut *conn)
        .await
        .map_err(|e| format!("fill {table}: {e}"))?;
    // On its own: VACUUM cannot run in the implicit transaction of a multi-statement string.
    conn.execute(format!("VACUUM ANALYZE {table}").as_str())
        .await
        .map_err(|e| format!("vacuum {table}: {e}"))?;
    Ok(())
}

async fn check(conn: &mut PgConnection, table: &str, upto: usize) -> Result<(), String> {
    let wrong: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE id <= $1 AND email_norm IS DISTINCT FROM lower(email)"
    ))
    .bind(upto as i64)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| format!("check {table}: {e}"))?;
    if wrong != 0 {
        return Err(format!(
            "{table}: {wrong} rows were not backfilled correctly"
        ));
    }
    Ok(())
}

struct Measured {
    name: &'static str,
    rows: usize,
    took: Duration,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.took.as_secs_f64()
    }
}

async fn contenders(url: &str, rows: usize, loop_rows: usize) -> Result<(), String> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    println!("godwit backfill benchmark (issue 3)");
    println!("machine: {} cores, {}", nproc(), cpu_model());
    println!("server:  {version}");
    println!("rows:    {rows} (row-by-row loop: first {loop_rows})");
    let mut results = Vec::new();

    // The floor: one statement.
    fill(&mut conn, "items_single", rows).await?;
    let started = Instant::now();
    conn.execute("UPDATE items_single SET email_norm = lower(email)")
        .await
        .map_err(|e| format!("single UPDATE: {e}"))?;
    results.push(Measured {
        name: "single UPDATE statement",
        rows,
        took: started.elapsed(),
    });
    check(&mut conn, "items_single", rows).await?;

    // godwit, the whole `deploy` process: one worker (the single-connection loop), then
    // 2 and 4 workers, then two processes (a deploy and a `godwit work`, 2 workers each).
    let project = tempfile::tempdir().map_err(|e| e.to_string())?;
    write_project(project.path())?;
    // Compile the plugin into the cache first: a deploy's steady state.
    let warm = std::process::Command::new(GODWIT)
        .arg("-C")
        .arg(project.path())
        .args(["plugin", "check", "builtin:column-copy"])
        .output();
    drop(warm);
    let mut batches = 0;
    let mut last_size = 0;
    let mut peaks = Vec::new();
    for (name, runs) in [
        (
            "godwit backfill, 1 worker (Wasm transform)",
            vec![vec!["deploy"]],
        ),
        (
            "godwit backfill, 2 workers",
            vec![vec!["deploy", "--workers", "2"]],
        ),
        (
            "godwit backfill, 4 workers",
            vec![vec!["deploy", "--workers", "4"]],
        ),
        (
            "godwit backfill, 2 processes x 2 workers",
            vec![
                vec!["deploy", "--workers", "2"],
                vec!["--wait", "60", "work", "--workers", "2"],
            ],
        ),
    ] {
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS godwit_migrations, godwit_step_progress, godwit_batches",
        )
        .execute(&mut conn)
        .await
        .map_err(|e| format!("reset godwit's tables: {e}"))?;
        fill(&mut conn, "items", rows).await?;
        let started = Instant::now();
        let children = runs
            .iter()
            .map(|args| spawn_godwit(project.path(), url, args))
            .collect::<Result<Vec<_>, _>>()?;
        let mut peak = 0;
        for child in children {
            peak = peak.max(finish_godwit(child)?);
        }
        let took = started.elapsed();
        results.push(Measured { name, rows, took });
        peaks.push((name, peak));
        check(&mut conn, "items", rows).await?;
        if runs.len() == 1 && runs[0].len() == 1 {
            batches = sqlx::query_scalar("SELECT batches FROM godwit_step_progress")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            last_size = sqlx::query_scalar("SELECT batch_size FROM godwit_step_progress")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let batches: i64 = batches;
    let last_size: i64 = last_size;

    // id-batched UPDATE … WHERE id IN (…), a transaction per 1,000 ids.
    fill(&mut conn, "items_batched", rows).await?;
    let started = Instant::now();
    let mut from = 0i64;
    loop {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM items_batched WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind(from)
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        let Some(&last) = ids.last() else { break };
        let list = ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
        tx.execute(
            format!("UPDATE items_batched SET email_norm = lower(email) WHERE id IN ({list})")
                .as_str(),
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        from = last;
    }
    results.push(Measured {
        name: "id-batched UPDATE (1,000 ids per transaction)",
        rows,
        took: started.elapsed(),
    });
    check(&mut conn, "items_batched", rows).await?;

    // The ORM loop: load, then update each row in its own transaction.
    fill(&mut conn, "items_loop", loop_rows).await?;
    let started = Instant::now();
    let loaded = sqlx::query("SELECT id, email FROM items_loop ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    for row in loaded {
        let id: i64 = row.get(0);
        let email: String = row.get(1);
        sqlx::query("UPDATE items_loop SET email_norm = $1 WHERE id = $2")
            .bind(email.to_lowercase())
            .bind(id)
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
    }
    results.push(Measured {
        name: "row-by-row UPDATE loop (ORM pattern)",
        rows: loop_rows,
        took: started.elapsed(),
    });
    check(&mut conn, "items_loop", loop_rows).await?;

    let floor = results[0].rate();
    let godwit = results[1..5].iter().map(Measured::rate).fold(0.0, f64::max);
    println!();
    println!("| contender | rows | time | rows/s | vs single UPDATE | best godwit vs it |");
    println!("|---|---:|---:|---:|---:|---:|");
    for m in &results {
        println!(
            "| {} | {} | {:.2} s | {:.0} | {:.2}x | {:.2}x |",
            m.name,
            m.rows,
            m.took.as_secs_f64(),
            m.rate(),
            m.rate() / floor,
            godwit / m.rate()
        );
    }
    println!();
    println!("godwit (1 worker) ran {batches} batches; the batch size settled at {last_size} rows");
    for (name, peak) in peaks {
        println!(
            "peak RSS, {name}: {:.1} MiB (largest process)",
            peak as f64 / 1024.0
        );
    }
    Ok(())
}

/// Starts godwit in `dir` against `url`, its output to a temporary file.
fn spawn_godwit(
    dir: &Path,
    url: &str,
    args: &[&str],
) -> Result<(std::process::Child, tempfile::NamedTempFile), String> {
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let out = log.reopen().map_err(|e| e.to_string())?;
    let err = log.reopen().map_err(|e| e.to_string())?;
    let child = std::process::Command::new(GODWIT)
        .arg("-C")
        .arg(dir)
        .args(["--database-url", url])
        .args(args)
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("run godwit: {e}"))?;
    Ok((child, log))
}

/// Waits for a godwit started by [`spawn_godwit`]; its peak RSS in KiB (wait4's rusage).
fn finish_godwit(
    (child, log): (std::process::Child, tempfile::NamedTempFile),
) -> Result<u64, String> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's, not yet reaped; the pointers are to live locals.
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    if reaped < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "godwit failed (status {status}):\n{}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        ));
    }
    Ok(usage.ru_maxrss as u64)
}

fn write_project(dir: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    std::fs::write(
        dir.join("godwit.toml"),
        "[backup]\npolicy = \"never\"\n\n[plugins.column-copy]\nbuiltin = \"column-copy\"\n\n[plugins.column-copy.grants]\nread = [\"items\"]\nwrite = [\"items.email_norm\"]\n",
    )
    .map_err(io)?;
    let step = dir.join("migrations/20260101000000_backfill_email_norm");
    std::fs::create_dir_all(&step).map_err(io)?;
    std::fs::write(
        step.join("step.toml"),
        "plugin = \"column-copy\"\n\n[config]\ntable = \"items\"\nfrom = \"email\"\nto = \"email_norm\"\ntransform = \"lower\"\n\n[batch]\nsize = 5000\ntarget = \"500ms\"\n",
    )
    .map_err(io)
}

/// Instantiation, per-call overhead and cold/cached loading of the column-copy plugin.
fn runtime_costs() -> Result<(), String> {
    let bytes = builtin::get("column-copy").ok_or("no built-in column-copy")?;
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        pooling: true,
    })
    .map_err(|e| e.to_string())?;
    println!();
    println!(
        "plugin runtime ({:?} allocation), column-copy: {} KiB",
        runtime.allocation(),
        bytes.len() / 1024
    );

    // Cold: compile. Cached: read the compiled code back. Five of each, median.
    let mut cold = Vec::new();
    let mut cached = Vec::new();
    for _ in 0..5 {
        for entry in std::fs::read_dir(cache.path()).map_err(|e| e.to_string())? {
            let _ = std::fs::remove_file(entry.map_err(|e| e.to_string())?.path());
        }
        let t = Instant::now();
        runtime
            .load_bytes("column-copy", bytes, None)
            .map_err(|e| e.to_string())?;
        cold.push(t.elapsed());
        let t = Instant::now();
        runtime
            .load_bytes("column-copy", bytes, None)
            .map_err(|e| e.to_string())?;
        cached.push(t.elapsed());
    }
    let plugin = runtime
        .load_bytes("column-copy", bytes, None)
        .map_err(|e| e.to_string())?;
    println!(
        "load: cold (compile) {:.1} ms, from the compile cache {:.2} ms (median of 5)",
        median(&cold).as_secs_f64() * 1e3,
        median(&cached).as_secs_f64() * 1e3
    );

    // Instantiation alone: a call that does nothing but instantiate.
    let limits = Limits::default();
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        runtime
            .call(&plugin, &limits, |_, _| Ok(()))
            .map_err(|e| e.to_string())?;
    }
    println!(
        "instantiation from InstancePre (fresh store each): {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );

    let settings = |_: ()| Context {
        settings: vec![
            ("table".into(), types::Value::Text("items".into())),
            ("from".into(), types::Value::Text("email".into())),
            ("to".into(), types::Value::Text("email_norm".into())),
            ("transform".into(), types::Value::Text("lower".into())),
        ],
        ..Context::default()
    };
    for size in [1usize, 100, 1000, 10_000] {
        let rows: Vec<types::Row> = (0..size)
            .map(|i| {
                vec![
                    types::Column {
                        name: "id".into(),
                        value: types::Value::Int(i as i64),
                    },
                    types::Column {
                        name: "email".into(),
                        value: types::Value::Text(format!("User.{i}@Example.COM")),
                    },
                ]
            })
            .collect();
        let calls = (20_000 / size).clamp(5, 2000);
        let t = Instant::now();
        for _ in 0..calls {
            runtime
                .transform(&plugin, &limits, settings(()), &rows)
                .map_err(|e| e.to_string())?;
        }
        let per_call = t.elapsed().as_secs_f64() / calls as f64;
        println!(
            "transform of {size:>6} rows: {:>9.1} µs per call ({:.2} µs per row), instantiation included",
            per_call * 1e6,
            per_call * 1e6 / size as f64
        );
    }
    Ok(())
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn nproc() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
