//! Deploying 500 migrations to PostgreSQL, and `status` on a 10,000-row history (issue 2).
//!
//! Run with `cargo bench --bench deploy`. Needs a PostgreSQL server where the URL in
//! `GODWIT_BENCH_SERVER` (default `postgres://postgres@127.0.0.1:5432`) may create and
//! drop databases, and `psql` on PATH. sqlx-cli is measured when `sqlx` is on PATH or in
//! /opt/sqlx-cli/bin, and skipped otherwise.
//!
//! Every contender gets a fresh database and applies the same 500 generated migrations,
//! each in its own transaction:
//! - godwit: `godwit deploy`, the whole process.
//! - psql (the floor): one `psql` session running `BEGIN; \i up.sql COMMIT;` per migration,
//!   i.e. the same statements and transactions with no bookkeeping at all.
//! - sqlx-cli: `sqlx migrate run` over the same files in sqlx's layout.
//!
//! Runs are interleaved (A B C A B C A B C) and the median of each is reported.
//! Set `GODWIT_BENCH_KEEP=1` to keep the generated files (the path is printed), and
//! `GODWIT_BENCH_ROUNDS=N` for more rounds on a noisy machine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MIGRATIONS: usize = 500;
/// Rounds of interleaved deploys; `GODWIT_BENCH_ROUNDS` overrides.
const ROUNDS: usize = 3;
const HISTORY_ROWS: i64 = 10_000;
const STATUS_RUNS: usize = 5;
const GODWIT: &str = env!("CARGO_BIN_EXE_godwit");

fn main() {
    let server = std::env::var("GODWIT_BENCH_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let server = server.trim_end_matches('/').to_string();
    let work = std::env::temp_dir().join(format!(
        "godwit-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let result = run(&server, &work);
    if std::env::var_os("GODWIT_BENCH_KEEP").is_some() {
        eprintln!("kept the generated files in {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    if let Err(message) = result {
        eprintln!("benchmark failed: {message}");
        std::process::exit(1);
    }
}

fn run(server: &str, work: &Path) -> Result<(), String> {
    let psql = Psql {
        server: server.to_string(),
    };
    let pg_version = psql.query("postgres", "SELECT version()")?;
    let set = generate(work)?;
    let sqlx = find_sqlx();

    println!("godwit deploy benchmark (issue 2)");
    println!("machine: {} cores (nproc), {}", nproc(), cpu_model());
    println!("server:  {}", pg_version.trim());
    println!("client:  {}", tool_version("psql", &["--version"]));
    match &sqlx {
        Some(path) => println!(
            "sqlx:    {} ({})",
            tool_version(path.to_str().unwrap_or("sqlx"), &["--version"]),
            path.display()
        ),
        None => println!("sqlx:    sqlx-cli not found: skipped"),
    }
    println!("godwit:  {GODWIT}");
    println!(
        "workload: {} migrations, {} statements ({} CREATE TABLE, {} ALTER TABLE, {} CREATE INDEX, {} INSERT, {} CREATE FUNCTION, {} other), {} bytes of SQL",
        set.migrations.len(),
        set.stats.statements,
        set.stats.create_table,
        set.stats.alter_table,
        set.stats.create_index,
        set.stats.insert,
        set.stats.create_function,
        set.stats.other,
        set.stats.bytes
    );
    println!();

    let mut contenders: Vec<Contender> = vec![Contender::Godwit, Contender::Psql];
    if let Some(path) = &sqlx {
        contenders.push(Contender::Sqlx(path.clone()));
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let rounds = std::env::var("GODWIT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(ROUNDS);
    for round in 1..=rounds {
        for (i, contender) in contenders.iter().enumerate() {
            let db = Database::create(
                &psql,
                &format!(
                    "godwit_bench_{}_{}_{round}",
                    std::process::id(),
                    contender.key()
                ),
            )?;
            let elapsed = contender.deploy(&set, &db)?;
            check_schema(&psql, &db, &set, contender)?;
            eprintln!(
                "  round {round}: {:<7} {:.3} s",
                contender.key(),
                elapsed.as_secs_f64()
            );
            times[i].push(elapsed.as_secs_f64());
            db.drop_now()?;
        }
    }

    // status on a long history: deploy once, then pad godwit_migrations to 10,000 rows.
    let db = Database::create(
        &psql,
        &format!("godwit_bench_{}_status", std::process::id()),
    )?;
    Contender::Godwit.deploy(&set, &db)?;
    let rows = pad_history(&psql, &db, HISTORY_ROWS)?;
    let mut status_times = Vec::new();
    for _ in 0..STATUS_RUNS {
        let start = Instant::now();
        let out = Command::new(GODWIT)
            .arg("-C")
            .arg(&set.project)
            .args(["--database-url", &db.url, "status"])
            .output()
            .map_err(|e| format!("cannot run {GODWIT}: {e}"))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "`godwit status` on the {rows}-row history exited {:?} (0 = up to date expected)\n{}",
                out.status.code(),
                tail(&out)
            ));
        }
        status_times.push(elapsed.as_secs_f64());
    }
    db.drop_now()?;

    // The table.
    let godwit = median(&times[0]);
    let godwit_best = best(&times[0]);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| contender | median (s) | best (s) | runs (s) | godwit / this: median (best) |"
    );
    let _ = writeln!(table, "|---|---:|---:|---|---|");
    for (i, contender) in contenders.iter().enumerate() {
        let (m, b) = (median(&times[i]), best(&times[i]));
        let ratio = match contender {
            Contender::Godwit => "1.00".to_string(),
            _ => format!("{:.2} ({:.2})", godwit / m, godwit_best / b),
        };
        let runs: Vec<String> = times[i].iter().map(|t| format!("{t:.3}")).collect();
        let _ = writeln!(
            table,
            "| {} | {m:.3} | {b:.3} | {} | {ratio} |",
            contender.label(),
            runs.join(", ")
        );
    }
    let runs: Vec<String> = status_times.iter().map(|t| format!("{t:.3}")).collect();
    let _ = writeln!(
        table,
        "| godwit status, {rows}-row history | {:.3} | {:.3} | {} | |",
        median(&status_times),
        best(&status_times),
        runs.join(", ")
    );
    println!("{table}");
    if sqlx.is_none() {
        println!("sqlx-cli not found: skipped");
    }
    // Round by round, godwit against the run right after it: less sensitive to load that
    // comes and goes over the whole benchmark.
    for (i, contender) in contenders.iter().enumerate().skip(1) {
        let paired: Vec<f64> = times[0].iter().zip(&times[i]).map(|(g, o)| g / o).collect();
        let shown: Vec<String> = paired.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "godwit/{} round by round: {} (median {:.2})",
            contender.key(),
            shown.join(", "),
            median(&paired)
        );
    }
    let psql_ratio = godwit / median(&times[1]);
    println!(
        "target godwit deploy within 1.5x of psql: {:.2}x, {}",
        psql_ratio,
        if psql_ratio <= 1.5 { "met" } else { "NOT met" }
    );
    let status = median(&status_times);
    println!(
        "target status on {rows} rows well under a second: {:.3} s, {}",
        status,
        if status < 0.5 { "met" } else { "NOT met" }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Contenders

enum Contender {
    Godwit,
    Psql,
    Sqlx(PathBuf),
}

impl Contender {
    fn key(&self) -> &'static str {
        match self {
            Contender::Godwit => "godwit",
            Contender::Psql => "psql",
            Contender::Sqlx(_) => "sqlx",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Contender::Godwit => "godwit deploy",
            Contender::Psql => "psql, one session (floor)",
            Contender::Sqlx(_) => "sqlx-cli migrate run",
        }
    }

    /// Applies all migrations to `db`; returns the wall time of the whole process.
    fn deploy(&self, set: &MigrationSet, db: &Database) -> Result<Duration, String> {
        let mut command = match self {
            Contender::Godwit => {
                let mut c = Command::new(GODWIT);
                c.arg("-C")
                    .arg(&set.project)
                    .args(["--database-url", &db.url, "deploy"]);
                c
            }
            Contender::Psql => {
                let mut c = Command::new("psql");
                c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
                    .arg(&set.driver);
                c
            }
            Contender::Sqlx(path) => {
                let mut c = Command::new(path);
                c.args(["migrate", "run", "--source"])
                    .arg(&set.sqlx_dir)
                    .args(["--database-url", &db.url]);
                c
            }
        };
        command.env_remove("DATABASE_URL").stdin(Stdio::null());
        let start = Instant::now();
        let out = command
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.label()))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} failed ({:?})\n{}",
                self.label(),
                out.status.code(),
                tail(&out)
            ));
        }
        Ok(elapsed)
    }
}

/// Every contender must leave the same tables and rows behind.
fn check_schema(
    psql: &Psql,
    db: &Database,
    set: &MigrationSet,
    contender: &Contender,
) -> Result<(), String> {
    let tables = psql.query(
        &db.name,
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace \
         AND relname NOT IN ('godwit_migrations', '_sqlx_migrations')",
    )?;
    let functions = psql.query(
        &db.name,
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    )?;
    let (tables, functions) = (
        tables.trim().parse::<usize>().unwrap_or(0),
        functions.trim().parse::<usize>().unwrap_or(0),
    );
    if tables != set.stats.create_table || functions != set.stats.create_function {
        return Err(format!(
            "{} left {tables} tables and {functions} functions; expected {} and {}",
            contender.label(),
            set.stats.create_table,
            set.stats.create_function
        ));
    }
    let recorded = match contender {
        Contender::Godwit => Some("SELECT count(*) FROM godwit_migrations WHERE state = 'applied'"),
        Contender::Sqlx(_) => Some("SELECT count(*) FROM _sqlx_migrations WHERE success"),
        Contender::Psql => None,
    };
    if let Some(sql) = recorded {
        let n = psql.query(&db.name, sql)?;
        if n.trim() != set.migrations.len().to_string() {
            return Err(format!(
                "{} recorded {} migrations, expected {}",
                contender.label(),
                n.trim(),
                set.migrations.len()
            ));
        }
    }
    Ok(())
}

/// Appends down/deploy pairs of existing versions until the history has `target` rows;
/// the newest row of every version stays `applied` with the file's checksum, so
/// `status` must still say "up to date".
fn pad_history(psql: &Psql, db: &Database, target: i64) -> Result<i64, String> {
    let have: i64 = psql
        .query(&db.name, "SELECT count(*) FROM godwit_migrations")?
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))?;
    let missing = target - have;
    if missing > 0 {
        let pairs = missing / 2;
        let single = missing % 2;
        let sql = format!(
            "WITH applied AS ( \
                 SELECT row_number() OVER (ORDER BY id) - 1 AS idx, count(*) OVER () AS n, * \
                 FROM godwit_migrations WHERE operation = 'deploy' AND state = 'applied' \
             ), \
             steps AS ( \
                 SELECT g.k, op.ord, op.operation, op.state FROM generate_series(1, {pairs}) AS g(k) \
                 CROSS JOIN (VALUES (1, 'down', 'rolled_back'), (2, 'deploy', 'applied')) AS op(ord, operation, state) \
                 UNION ALL \
                 SELECT {pairs} + 1, 2, 'deploy', 'applied' FROM generate_series(1, {single}) \
             ) \
             INSERT INTO godwit_migrations (version, name, kind, operation, state, checksum, started_at, finished_at, \
                 duration_ms, applied_by, godwit_version, plugin_digest, statements_applied, statements_total, rows_affected, error) \
             SELECT a.version, a.name, a.kind, s.operation, s.state, a.checksum, \
                 now() + s.k * interval '1 second' + s.ord * interval '1 millisecond', \
                 now() + s.k * interval '1 second' + s.ord * interval '1 millisecond' + interval '3 milliseconds', \
                 3, a.applied_by, a.godwit_version, NULL, a.statements_total, a.statements_total, \
                 CASE WHEN s.operation = 'deploy' THEN a.rows_affected ELSE 0 END, NULL \
             FROM steps s JOIN applied a ON a.idx = (s.k - 1) % a.n \
             ORDER BY s.k, s.ord"
        );
        psql.query(&db.name, &sql)?;
    }
    let rows: i64 = psql
        .query(&db.name, "SELECT count(*) FROM godwit_migrations")?
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))?;
    if rows != target.max(have) {
        return Err(format!(
            "the history has {rows} rows after padding, expected {target}"
        ));
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// PostgreSQL through psql

struct Psql {
    server: String,
}

impl Psql {
    fn url(&self, db: &str) -> String {
        format!("{}/{db}", self.server)
    }

    /// Runs one SQL command and returns its unaligned, tuples-only output.
    fn query(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(db),
                "-c",
                sql,
            ])
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql (is it installed?): {e}"))?;
        if !out.status.success() {
            return Err(format!("psql -c {sql:?} failed\n{}", tail(&out)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A scratch database, dropped when done (also on the way out of an error).
struct Database<'a> {
    psql: &'a Psql,
    name: String,
    url: String,
    dropped: bool,
}

impl<'a> Database<'a> {
    fn create(psql: &'a Psql, name: &str) -> Result<Database<'a>, String> {
        psql.query("postgres", &format!("DROP DATABASE IF EXISTS {name}"))?;
        psql.query("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(Database {
            psql,
            name: name.to_string(),
            url: psql.url(name),
            dropped: false,
        })
    }

    fn drop_now(mut self) -> Result<(), String> {
        self.dropped = true;
        self.psql
            .query(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {}", self.name),
            )
            .map(drop)
    }
}

impl Drop for Database<'_> {
    fn drop(&mut self) {
        if !self.dropped {
            let _ = self.psql.query(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {}", self.name),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The workload

struct MigrationSet {
    /// godwit project: `migrations/<version>_<name>/up.sql`.
    project: PathBuf,
    /// The same files as `<version>_<name>.sql`.
    sqlx_dir: PathBuf,
    /// psql driver script.
    driver: PathBuf,
    migrations: Vec<(String, String)>,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    statements: usize,
    create_table: usize,
    alter_table: usize,
    create_index: usize,
    insert: usize,
    create_function: usize,
    other: usize,
    bytes: usize,
}

/// Small deterministic PRNG (xorshift64*), so every run applies the same files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ColType {
    Text,
    Int,
    Bool,
    Numeric,
    Timestamp,
}

struct Table {
    name: String,
    columns: Vec<(String, ColType)>,
    has_amount: bool,
}

const NOUNS: &[&str] = &[
    "customers",
    "orders",
    "products",
    "invoices",
    "payments",
    "shipments",
    "accounts",
    "sessions",
    "events",
    "tags",
    "comments",
    "reviews",
    "suppliers",
    "warehouses",
    "coupons",
    "refunds",
    "addresses",
    "subscriptions",
    "plans",
    "audit_log",
    "teams",
    "projects",
    "tickets",
    "devices",
];

/// Writes the godwit project, the sqlx directory and the psql driver under `work`.
fn generate(work: &Path) -> Result<MigrationSet, String> {
    fn io(what: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
        move |e| format!("cannot write {}: {e}", what.display())
    }
    let project = work.join("project");
    let migrations_dir = project.join("migrations");
    let sqlx_dir = work.join("sqlx");
    std::fs::create_dir_all(&migrations_dir).map_err(io(&migrations_dir))?;
    std::fs::create_dir_all(&sqlx_dir).map_err(io(&sqlx_dir))?;

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tables: Vec<Table> = Vec::new();
    let mut stats = Stats::default();
    let mut migrations = Vec::new();
    let mut driver =
        String::from("-- generated by host/benches/deploy.rs: one transaction per migration\n");
    for i in 1..=MIGRATIONS {
        let version = format!("{i:05}");
        let roll = if tables.len() < 4 { 0 } else { rng.below(100) };
        let (name, sql) = if roll < 25 {
            create_table(&mut rng, &mut tables, i, &mut stats)
        } else if roll < 50 {
            add_columns(&mut rng, &mut tables, i, &mut stats)
        } else if roll < 70 {
            create_index(&mut rng, &tables, i, &mut stats)
        } else if roll < 91 {
            insert_rows(&mut rng, &tables, i, &mut stats)
        } else {
            create_function(&mut rng, &tables, i, &mut stats)
        };
        let text = format!("-- {version} {}\n\n{sql}", name.replace('_', " "));
        stats.bytes += text.len();
        let dir = migrations_dir.join(format!("{version}_{name}"));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let up = dir.join("up.sql");
        std::fs::write(&up, &text).map_err(io(&up))?;
        let flat = sqlx_dir.join(format!("{version}_{name}.sql"));
        std::fs::write(&flat, &text).map_err(io(&flat))?;
        let _ = write!(driver, "BEGIN;\n\\i {}\nCOMMIT;\n", up.display());
        migrations.push((version, name));
    }
    let driver_path = work.join("driver.sql");
    std::fs::write(&driver_path, driver).map_err(io(&driver_path))?;
    Ok(MigrationSet {
        project,
        sqlx_dir,
        driver: driver_path,
        migrations,
        stats,
    })
}

// Statements never contain `;` except as their terminator, and no function body has
// one either: the files are valid for any splitter that understands `--` comments.

fn create_table(
    rng: &mut Rng,
    tables: &mut Vec<Table>,
    i: usize,
    stats: &mut Stats,
) -> (String, String) {
    let name = format!("{}_{i}", rng.pick(NOUNS));
    let mut columns = vec![("name".to_string(), ColType::Text)];
    let mut sql =
        format!("CREATE TABLE {name} (\n    id BIGSERIAL PRIMARY KEY,\n    name TEXT NOT NULL,\n");
    if rng.chance(60) {
        sql.push_str("    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'active', 'archived')),\n");
        columns.push(("status".into(), ColType::Text));
    }
    let has_amount = rng.chance(50);
    if has_amount {
        sql.push_str("    amount NUMERIC(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),\n");
        columns.push(("amount".into(), ColType::Numeric));
    }
    let mut parent = None;
    if !tables.is_empty() && rng.chance(50) {
        let p = &tables[rng.below(tables.len())];
        let _ = writeln!(
            sql,
            "    {}_id BIGINT REFERENCES {} (id) ON DELETE CASCADE,",
            p.name, p.name
        );
        columns.push((format!("{}_id", p.name), ColType::Int));
        parent = Some(format!("{}_id", p.name));
    }
    if rng.chance(40) {
        sql.push_str("    quantity INTEGER NOT NULL DEFAULT 1 CHECK (quantity > 0),\n");
        columns.push(("quantity".into(), ColType::Int));
    }
    sql.push_str(
        "    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n    updated_at TIMESTAMPTZ,\n",
    );
    columns.push(("created_at".into(), ColType::Timestamp));
    let _ = write!(sql, "    CONSTRAINT {name}_name_key UNIQUE (name)\n);\n");
    stats.statements += 1;
    stats.create_table += 1;
    if let Some(fk) = parent {
        let _ = write!(sql, "\nCREATE INDEX {name}_{fk}_idx ON {name} ({fk});\n");
        stats.statements += 1;
        stats.create_index += 1;
    }
    if rng.chance(30) {
        let _ = write!(
            sql,
            "\nCOMMENT ON TABLE {name} IS 'created by migration {i}';\n"
        );
        stats.statements += 1;
        stats.other += 1;
    }
    tables.push(Table {
        name: name.clone(),
        columns,
        has_amount,
    });
    (format!("create_{name}"), sql)
}

fn add_columns(
    rng: &mut Rng,
    tables: &mut [Table],
    i: usize,
    stats: &mut Stats,
) -> (String, String) {
    let t = rng.below(tables.len());
    let table = &mut tables[t];
    let mut sql = String::new();
    let n = 1 + rng.below(2);
    let mut first = String::new();
    for k in 0..n {
        let (column, ty, definition) = match rng.below(6) {
            0 => (format!("note_{i}_{k}"), ColType::Text, "TEXT".to_string()),
            1 => (
                format!("score_{i}_{k}"),
                ColType::Int,
                "INTEGER NOT NULL DEFAULT 0".to_string(),
            ),
            2 => (
                format!("is_enabled_{i}_{k}"),
                ColType::Bool,
                "BOOLEAN NOT NULL DEFAULT false".to_string(),
            ),
            3 => (
                format!("external_ref_{i}_{k}"),
                ColType::Text,
                "VARCHAR(64)".to_string(),
            ),
            4 => (
                format!("archived_at_{i}_{k}"),
                ColType::Timestamp,
                "TIMESTAMPTZ".to_string(),
            ),
            _ => (
                format!("weight_{i}_{k}"),
                ColType::Numeric,
                format!("NUMERIC(10, 3) CHECK (weight_{i}_{k} >= 0)"),
            ),
        };
        let _ = writeln!(
            sql,
            "ALTER TABLE {} ADD COLUMN {column} {definition};",
            table.name
        );
        stats.statements += 1;
        stats.alter_table += 1;
        if first.is_empty() {
            first = column.clone();
        }
        table.columns.push((column, ty));
    }
    if rng.chance(25) {
        let _ = write!(
            sql,
            "\nCOMMENT ON COLUMN {}.{first} IS 'added by migration {i}';\n",
            table.name
        );
        stats.statements += 1;
        stats.other += 1;
    }
    (format!("add_{first}_to_{}", table.name), sql)
}

fn create_index(rng: &mut Rng, tables: &[Table], i: usize, stats: &mut Stats) -> (String, String) {
    let table = rng.pick(tables);
    let (column, _) = rng.pick(&table.columns[1..]);
    let sql = match rng.below(4) {
        0 if table.columns.iter().any(|(c, _)| c == "status") => {
            format!(
                "CREATE INDEX {}_{column}_active_idx_{i} ON {} ({column}) WHERE status <> 'archived';\n",
                table.name, table.name
            )
        }
        1 if column != "created_at" => {
            format!(
                "CREATE INDEX {}_{column}_created_idx_{i} ON {} ({column}, created_at DESC);\n",
                table.name, table.name
            )
        }
        _ => format!(
            "CREATE INDEX {}_{column}_idx_{i} ON {} ({column});\n",
            table.name, table.name
        ),
    };
    stats.statements += 1;
    stats.create_index += 1;
    (format!("index_{}_on_{column}", table.name), sql)
}

fn insert_rows(rng: &mut Rng, tables: &[Table], i: usize, stats: &mut Stats) -> (String, String) {
    let table = rng.pick(tables);
    let n = 2 + rng.below(4);
    let has_quantity = table
        .columns
        .iter()
        .any(|(c, t)| c == "quantity" && *t == ColType::Int);
    let mut columns = vec!["name"];
    if table.has_amount {
        columns.push("amount");
    }
    if has_quantity {
        columns.push("quantity");
    }
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES\n",
        table.name,
        columns.join(", ")
    );
    for k in 0..n {
        let mut values = vec![format!("'{}-{i}-{k}'", table.name)];
        if table.has_amount {
            values.push(format!("{}.{:02}", rng.below(1000), rng.below(100)));
        }
        if has_quantity {
            values.push(format!("{}", 1 + rng.below(20)));
        }
        let _ = writeln!(
            sql,
            "    ({}){}",
            values.join(", "),
            if k + 1 == n { ";" } else { "," }
        );
    }
    stats.statements += 1;
    stats.insert += 1;
    if rng.chance(20) && table.columns.iter().any(|(c, _)| c == "status") {
        let _ = write!(
            sql,
            "\nUPDATE {} SET status = 'active' WHERE name LIKE '{}-{i}-%';\n",
            table.name, table.name
        );
        stats.statements += 1;
        stats.other += 1;
    }
    (format!("seed_{}", table.name), sql)
}

fn create_function(
    rng: &mut Rng,
    tables: &[Table],
    i: usize,
    stats: &mut Stats,
) -> (String, String) {
    let table = rng.pick(tables);
    let t = &table.name;
    let (fname, sql) = if table.has_amount {
        let f = format!("{t}_total_{i}");
        (
            f.clone(),
            format!(
                "CREATE OR REPLACE FUNCTION {f}(p_since TIMESTAMPTZ)\nRETURNS NUMERIC\nLANGUAGE sql\nSTABLE\nAS $$\n    SELECT coalesce(sum(amount), 0)\n    FROM {t}\n    WHERE created_at >= p_since\n$$;\n"
            ),
        )
    } else if rng.chance(50) {
        let f = format!("{t}_count_{i}");
        (
            f.clone(),
            format!(
                "CREATE OR REPLACE FUNCTION {f}(p_prefix TEXT)\nRETURNS BIGINT\nLANGUAGE sql\nSTABLE\nAS $$\n    SELECT count(*) FROM {t} WHERE name LIKE p_prefix || '%'\n$$;\n"
            ),
        )
    } else {
        let f = format!("{t}_slug_{i}");
        (
            f.clone(),
            format!(
                "CREATE OR REPLACE FUNCTION {f}(p_name TEXT)\nRETURNS TEXT\nLANGUAGE sql\nIMMUTABLE\nAS $body$\n    SELECT lower(regexp_replace(trim(p_name), '[^a-zA-Z0-9]+', '-', 'g'))\n$body$;\n"
            ),
        )
    };
    stats.statements += 1;
    stats.create_function += 1;
    (format!("create_function_{fname}"), sql)
}

// ---------------------------------------------------------------------------------------
// Odds and ends

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn best(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn tail(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn find_sqlx() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("sqlx"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/opt/sqlx-cli/bin/sqlx")])
        .find(|p| p.is_file())
}

fn tool_version(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{program}: version unknown"))
}

fn nproc() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
