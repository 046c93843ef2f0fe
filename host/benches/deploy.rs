//! Deploying 500 migrations with godwit against each database's own client, and `status`
//! on a 10,000-row history (issues 2 and 12).
//!
//! Run with `cargo bench --bench deploy`. Each dialect needs its server and client:
//! - PostgreSQL: a server where `GODWIT_BENCH_SERVER` (default
//!   `postgres://postgres@127.0.0.1:5432`) may create and drop databases, and `psql`.
//! - MariaDB/MySQL: a server where `GODWIT_BENCH_MYSQL` (default
//!   `mysql://root@127.0.0.1:3306`) may create and drop databases, and `mariadb` (or
//!   `mysql`).
//! - SQLite: the `sqlite3` shell; the files go in a temporary directory.
//!
//! `GODWIT_BENCH_DIALECTS` picks some of `postgres,mysql,sqlite` (all by default).
//! sqlx-cli is measured on PostgreSQL when `sqlx` is on PATH or in /opt/sqlx-cli/bin.
//!
//! Every contender gets a fresh database and applies the same generated migrations (one
//! set per dialect, of the same shape: the same tables, columns, indexes and rows, in
//! that dialect's SQL):
//! - godwit: `godwit deploy`, the whole process.
//! - the client (the floor): one session of the database's own shell reading every file,
//!   i.e. the same statements with no bookkeeping at all. psql and sqlite3 run each file
//!   in `BEGIN` … `COMMIT`, as godwit does; MariaDB commits each statement on its own.
//! - sqlx-cli (PostgreSQL): `sqlx migrate run` over the same files in sqlx's layout.
//! - with `GODWIT_BENCH_BASELINE=/path/to/godwit`, that binary too (e.g. a build of an
//!   older commit), so a change is measured before and after in the same rounds.
//!
//! Runs are interleaved (A B C A B C A B C) and the median of each is reported, with the
//! load average, since a shared machine's load moves the absolute times.
//! Set `GODWIT_BENCH_KEEP=1` to keep the generated files (the path is printed),
//! `GODWIT_BENCH_ROUNDS=N` for more rounds on a noisy machine, and
//! `GODWIT_BENCH_MIGRATIONS=N` for another count.

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
    let work = std::env::temp_dir().join(format!(
        "godwit-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let result = run(&work);
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

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    fn key(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// How close to its client godwit must come (issue 2 for PostgreSQL, issue 12 for
    /// the others).
    fn target(self) -> f64 {
        match self {
            Dialect::Postgres => 1.5,
            Dialect::MySql | Dialect::Sqlite => 1.2,
        }
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(default)
}

fn run(work: &Path) -> Result<(), String> {
    let dialects: Vec<Dialect> = match std::env::var("GODWIT_BENCH_DIALECTS") {
        Ok(list) => list
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| match d {
                "postgres" | "postgresql" | "pg" => Ok(Dialect::Postgres),
                "mysql" | "mariadb" => Ok(Dialect::MySql),
                "sqlite" => Ok(Dialect::Sqlite),
                other => Err(format!(
                    "GODWIT_BENCH_DIALECTS: unknown dialect {other:?} (postgres, mysql, sqlite)"
                )),
            })
            .collect::<Result<_, _>>()?,
        Err(_) => vec![Dialect::Postgres, Dialect::MySql, Dialect::Sqlite],
    };
    let baseline = std::env::var_os("GODWIT_BENCH_BASELINE").map(PathBuf::from);
    if let Some(path) = &baseline
        && !path.is_file()
    {
        return Err(format!(
            "GODWIT_BENCH_BASELINE={}: no such file (give the path of a godwit binary)",
            path.display()
        ));
    }
    let rounds = env_count("GODWIT_BENCH_ROUNDS", ROUNDS);
    let count = env_count("GODWIT_BENCH_MIGRATIONS", MIGRATIONS);

    println!("godwit deploy benchmark (issues 2 and 12)");
    println!("machine: {} cores (nproc), {}", nproc(), cpu_model());
    println!("godwit:  {GODWIT}");
    if let Some(path) = &baseline {
        println!("baseline: {} (GODWIT_BENCH_BASELINE)", path.display());
    }
    println!("rounds:  {rounds}, interleaved");
    let mut verdicts = Vec::new();
    for dialect in dialects {
        println!();
        let verdict = bench_dialect(dialect, work, rounds, count, baseline.as_deref())?;
        verdicts.push(verdict);
    }
    println!();
    for verdict in verdicts {
        println!("{verdict}");
    }
    Ok(())
}

/// Deploys the dialect's migrations with every contender, round after round; returns
/// the line that says whether the target was met.
fn bench_dialect(
    dialect: Dialect,
    work: &Path,
    rounds: usize,
    count: usize,
    baseline: Option<&Path>,
) -> Result<String, String> {
    let server = Server::new(dialect, work)?;
    let set = generate(&work.join(dialect.key()), dialect, count)?;
    let sqlx = if dialect == Dialect::Postgres {
        find_sqlx()
    } else {
        None
    };

    println!("## {}", dialect.key());
    println!("server:  {}", server.version()?);
    println!("client:  {}", server.client_version());
    if let Some(note) = server.settings()? {
        println!("settings: {note}");
    }
    if dialect == Dialect::Postgres {
        match &sqlx {
            Some(path) => println!(
                "sqlx:    {} ({})",
                tool_version(path.to_str().unwrap_or("sqlx"), &["--version"]),
                path.display()
            ),
            None => println!("sqlx:    sqlx-cli not found: skipped"),
        }
    }
    println!(
        "workload: {} migrations, {} statements ({} CREATE TABLE, {} ALTER TABLE, {} CREATE INDEX, {} INSERT, {} {}, {} other), {} bytes of SQL",
        set.migrations.len(),
        set.stats.statements,
        set.stats.create_table,
        set.stats.alter_table,
        set.stats.create_index,
        set.stats.insert,
        set.stats.create_function,
        routine_label(dialect),
        set.stats.other,
        set.stats.bytes
    );
    let load_before = load_average();
    println!("load average at the start: {load_before}");

    let mut contenders: Vec<Contender> = vec![Contender::Godwit(PathBuf::from(GODWIT))];
    if let Some(path) = baseline {
        contenders.push(Contender::Baseline(path.to_path_buf()));
    }
    contenders.push(Contender::Client);
    if let Some(path) = &sqlx {
        contenders.push(Contender::Sqlx(path.clone()));
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 1..=rounds {
        for (i, contender) in contenders.iter().enumerate() {
            let db = Database::create(
                &server,
                &format!(
                    "godwit_bench_{}_{}_{round}",
                    std::process::id(),
                    contender.key()
                ),
            )?;
            let elapsed = contender.deploy(&server, &set, &db)?;
            check_schema(&server, &db, &set, contender)?;
            eprintln!(
                "  {} round {round}: {:<8} {:.3} s (load {})",
                dialect.key(),
                contender.key(),
                elapsed.as_secs_f64(),
                load_average()
            );
            times[i].push(elapsed.as_secs_f64());
            db.drop_now()?;
        }
    }
    let load_after = load_average();

    // status on a long history: deploy once, then pad godwit_migrations to 10,000 rows.
    let mut status_times = Vec::new();
    let mut status_rows = 0;
    if dialect == Dialect::Postgres {
        let db = Database::create(
            &server,
            &format!("godwit_bench_{}_status", std::process::id()),
        )?;
        contenders[0].deploy(&server, &set, &db)?;
        status_rows = pad_history(&server, &db, HISTORY_ROWS)?;
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
                    "`godwit status` on the {status_rows}-row history exited {:?} (0 = up to date expected)\n{}",
                    out.status.code(),
                    tail(&out)
                ));
            }
            status_times.push(elapsed.as_secs_f64());
        }
        db.drop_now()?;
    }

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
            Contender::Godwit(_) => "1.00".to_string(),
            _ => format!("{:.2} ({:.2})", godwit / m, godwit_best / b),
        };
        let runs: Vec<String> = times[i].iter().map(|t| format!("{t:.3}")).collect();
        let _ = writeln!(
            table,
            "| {} | {m:.3} | {b:.3} | {} | {ratio} |",
            contender.label(dialect),
            runs.join(", ")
        );
    }
    if !status_times.is_empty() {
        let runs: Vec<String> = status_times.iter().map(|t| format!("{t:.3}")).collect();
        let _ = writeln!(
            table,
            "| godwit status, {status_rows}-row history | {:.3} | {:.3} | {} | |",
            median(&status_times),
            best(&status_times),
            runs.join(", ")
        );
    }
    println!("{table}");
    println!("load average at the end: {load_after}");
    // Round by round, godwit against the run right after it: less sensitive to load that
    // comes and goes over the whole benchmark.
    let mut client_ratio = f64::NAN;
    for (i, contender) in contenders.iter().enumerate().skip(1) {
        let paired: Vec<f64> = times[0].iter().zip(&times[i]).map(|(g, o)| g / o).collect();
        let shown: Vec<String> = paired.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "godwit/{} round by round: {} (median {:.2})",
            contender.key(),
            shown.join(", "),
            median(&paired)
        );
        if matches!(contender, Contender::Client) {
            client_ratio = median(&paired);
        }
    }
    let client = server.client_name();
    let target = dialect.target();
    let mut verdict = format!(
        "{}: target godwit deploy within {target}x of {client}: {client_ratio:.2}x (median of the round-by-round ratios), {}",
        dialect.key(),
        if client_ratio <= target {
            "met"
        } else {
            "NOT met"
        }
    );
    if !status_times.is_empty() {
        let status = median(&status_times);
        let _ = write!(
            verdict,
            "\n{}: target status on {status_rows} rows well under a second: {status:.3} s, {}",
            dialect.key(),
            if status < 0.5 { "met" } else { "NOT met" }
        );
    }
    println!("{verdict}");
    Ok(verdict)
}

fn routine_label(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres | Dialect::MySql => "CREATE FUNCTION",
        Dialect::Sqlite => "CREATE VIEW",
    }
}

/// `/proc/loadavg`'s three averages, or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------------------------------
// Contenders

enum Contender {
    Godwit(PathBuf),
    /// Another godwit binary (`GODWIT_BENCH_BASELINE`).
    Baseline(PathBuf),
    /// The database's own client: psql, mariadb or sqlite3.
    Client,
    Sqlx(PathBuf),
}

impl Contender {
    fn key(&self) -> &'static str {
        match self {
            Contender::Godwit(_) => "godwit",
            Contender::Baseline(_) => "baseline",
            Contender::Client => "client",
            Contender::Sqlx(_) => "sqlx",
        }
    }

    fn label(&self, dialect: Dialect) -> String {
        match self {
            Contender::Godwit(_) => "godwit deploy".into(),
            Contender::Baseline(_) => "godwit deploy, baseline binary".into(),
            Contender::Client => match dialect {
                Dialect::Postgres => "psql, one session (floor)".into(),
                Dialect::MySql => "mariadb, one session (floor)".into(),
                Dialect::Sqlite => "sqlite3, one session (floor)".into(),
            },
            Contender::Sqlx(_) => "sqlx-cli migrate run".into(),
        }
    }

    /// Applies all migrations to `db`; returns the wall time of the whole process.
    fn deploy(
        &self,
        server: &Server,
        set: &MigrationSet,
        db: &Database,
    ) -> Result<Duration, String> {
        let mut command = match self {
            Contender::Godwit(binary) | Contender::Baseline(binary) => {
                let mut c = Command::new(binary);
                c.arg("-C")
                    .arg(&set.project)
                    .args(["--database-url", &db.url, "deploy"])
                    .stdin(Stdio::null());
                c
            }
            Contender::Client => server.client_command(db, &set.driver)?,
            Contender::Sqlx(path) => {
                let mut c = Command::new(path);
                c.args(["migrate", "run", "--source"])
                    .arg(&set.sqlx_dir)
                    .args(["--database-url", &db.url])
                    .stdin(Stdio::null());
                c
            }
        };
        command.env_remove("DATABASE_URL");
        let start = Instant::now();
        let out = command
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.label(server.dialect)))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} failed ({:?})\n{}",
                self.label(server.dialect),
                out.status.code(),
                tail(&out)
            ));
        }
        Ok(elapsed)
    }
}

/// Every contender must leave the same tables and routines (views on SQLite) behind.
fn check_schema(
    server: &Server,
    db: &Database,
    set: &MigrationSet,
    contender: &Contender,
) -> Result<(), String> {
    let (tables, routines) = match server.dialect {
        Dialect::Postgres => (
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace \
             AND relname NOT IN ('godwit_migrations', '_sqlx_migrations')",
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
        ),
        Dialect::MySql => (
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME NOT IN ('godwit_migrations', 'godwit_lock')",
            "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
        ),
        Dialect::Sqlite => (
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
             AND name NOT IN ('godwit_migrations', 'godwit_lock') AND name NOT LIKE 'sqlite%'",
            "SELECT count(*) FROM sqlite_master WHERE type = 'view'",
        ),
    };
    let tables = server.query(&db.name, tables)?;
    let routines = server.query(&db.name, routines)?;
    let (tables, routines) = (
        tables.trim().parse::<usize>().unwrap_or(0),
        routines.trim().parse::<usize>().unwrap_or(0),
    );
    if tables != set.stats.create_table || routines != set.stats.create_function {
        return Err(format!(
            "{} left {tables} tables and {routines} functions/views; expected {} and {}",
            contender.label(server.dialect),
            set.stats.create_table,
            set.stats.create_function
        ));
    }
    let recorded = match contender {
        Contender::Godwit(_) | Contender::Baseline(_) => {
            Some("SELECT count(*) FROM godwit_migrations WHERE state = 'applied'")
        }
        Contender::Sqlx(_) => Some("SELECT count(*) FROM _sqlx_migrations WHERE success"),
        Contender::Client => None,
    };
    if let Some(sql) = recorded {
        let n = server.query(&db.name, sql)?;
        if n.trim() != set.migrations.len().to_string() {
            return Err(format!(
                "{} recorded {} migrations, expected {}",
                contender.label(server.dialect),
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
fn pad_history(server: &Server, db: &Database, target: i64) -> Result<i64, String> {
    let have: i64 = server
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
        server.query(&db.name, &sql)?;
    }
    let rows: i64 = server
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
// The servers, through their own clients

struct Server {
    dialect: Dialect,
    /// PostgreSQL and MySQL: the server URL without a database. SQLite: the directory
    /// that holds the files.
    base: String,
    /// MySQL: the client, `mariadb` or `mysql`; its connection arguments; the password.
    mysql_client: String,
    mysql_args: Vec<String>,
    mysql_password: Option<String>,
}

impl Server {
    fn new(dialect: Dialect, work: &Path) -> Result<Server, String> {
        let mut server = Server {
            dialect,
            base: String::new(),
            mysql_client: String::new(),
            mysql_args: Vec::new(),
            mysql_password: None,
        };
        match dialect {
            Dialect::Postgres => {
                server.base = std::env::var("GODWIT_BENCH_SERVER")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
                    .trim_end_matches('/')
                    .to_string();
            }
            Dialect::MySql => {
                let url = std::env::var("GODWIT_BENCH_MYSQL")
                    .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
                    .trim_end_matches('/')
                    .to_string();
                let rest = url.strip_prefix("mysql://").ok_or_else(|| {
                    format!("GODWIT_BENCH_MYSQL={url}: expected mysql://user[:password]@host:port")
                })?;
                let (auth, host) = rest.rsplit_once('@').unwrap_or(("root", rest));
                let (user, password) = match auth.split_once(':') {
                    Some((u, p)) => (u, Some(p.to_string())),
                    None => (auth, None),
                };
                let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
                server.mysql_args = vec![
                    format!("--host={host}"),
                    format!("--port={port}"),
                    format!("--user={user}"),
                    "--protocol=TCP".into(),
                ];
                server.mysql_password = password;
                server.mysql_client = if on_path("mariadb") {
                    "mariadb".into()
                } else {
                    "mysql".into()
                };
                server.base = url;
            }
            Dialect::Sqlite => {
                let dir = work.join("sqlite-files");
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                server.base = dir.display().to_string();
            }
        }
        Ok(server)
    }

    fn client_name(&self) -> &str {
        match self.dialect {
            Dialect::Postgres => "psql",
            Dialect::MySql => &self.mysql_client,
            Dialect::Sqlite => "sqlite3",
        }
    }

    fn url(&self, db: &str) -> String {
        match self.dialect {
            Dialect::Postgres | Dialect::MySql => format!("{}/{db}", self.base),
            Dialect::Sqlite => format!("sqlite://{}", self.file(db).display()),
        }
    }

    fn file(&self, db: &str) -> PathBuf {
        Path::new(&self.base).join(format!("{db}.db"))
    }

    fn version(&self) -> Result<String, String> {
        Ok(match self.dialect {
            Dialect::Postgres => self.query("postgres", "SELECT version()")?,
            Dialect::MySql => self.query("", "SELECT VERSION()")?,
            Dialect::Sqlite => format!(
                "SQLite {} (the sqlite3 shell's); godwit links its own bundled SQLite",
                self.query("version-probe", "SELECT sqlite_version()")?
                    .trim()
            ),
        }
        .trim()
        .to_string())
    }

    fn client_version(&self) -> String {
        tool_version(self.client_name(), &["--version"])
    }

    /// What makes the comparison fair or not: the durability settings both sides run with.
    fn settings(&self) -> Result<Option<String>, String> {
        Ok(match self.dialect {
            Dialect::Postgres => Some(format!(
                "fsync = {}, synchronous_commit = {}",
                self.query("postgres", "SHOW fsync")?.trim(),
                self.query("postgres", "SHOW synchronous_commit")?.trim()
            )),
            Dialect::MySql => Some(
                self.query(
                    "",
                    "SELECT CONCAT('innodb_flush_log_at_trx_commit = ', @@innodb_flush_log_at_trx_commit, \
                     ', log_bin = ', @@log_bin, ', sync_binlog = ', @@sync_binlog)",
                )?
                .trim()
                .to_string(),
            ),
            Dialect::Sqlite => {
                // The shell's defaults on a new file; godwit (sqlx) sets neither pragma,
                // so it runs with SQLite's defaults too: journal_mode=delete, synchronous=2 (FULL).
                let shown = self.query(
                    "settings-probe",
                    "SELECT 'journal_mode = ' || (SELECT journal_mode FROM pragma_journal_mode) || \
                     ', synchronous = ' || (SELECT synchronous FROM pragma_synchronous)",
                )?;
                let _ = std::fs::remove_file(self.file("settings-probe"));
                let _ = std::fs::remove_file(self.file("version-probe"));
                Some(format!(
                    "sqlite3 shell on a new file: {}; godwit leaves both at SQLite's defaults (delete, 2 = FULL); \
                     both run each migration in BEGIN … COMMIT with foreign_keys = ON",
                    shown.trim()
                ))
            }
        })
    }

    /// Runs one SQL command in `db` and returns its unaligned, headerless output.
    fn query(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut command = match self.dialect {
            Dialect::Postgres => {
                let mut c = Command::new("psql");
                c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
                    .arg(self.url(db))
                    .args(["-c", sql]);
                c
            }
            Dialect::MySql => {
                let mut c = self.mysql();
                c.args(["--batch", "--skip-column-names", "-e", sql]);
                if !db.is_empty() {
                    c.arg(db);
                }
                c
            }
            Dialect::Sqlite => {
                let mut c = Command::new("sqlite3");
                c.args(["-batch", "-bail", "-noheader"])
                    .arg(self.file(db))
                    .arg(sql);
                c
            }
        };
        let out = command
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {} (is it installed?): {e}", self.client_name()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {sql:?} failed\n{}",
                self.client_name(),
                tail(&out)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn mysql(&self) -> Command {
        let mut c = Command::new(&self.mysql_client);
        c.args(&self.mysql_args);
        if let Some(password) = &self.mysql_password {
            c.env("MYSQL_PWD", password);
        }
        c
    }

    /// The client reading the driver script in one session, as the floor.
    fn client_command(&self, db: &Database, driver: &Path) -> Result<Command, String> {
        let script = std::fs::File::open(driver)
            .map_err(|e| format!("cannot open {}: {e}", driver.display()))?;
        Ok(match self.dialect {
            Dialect::Postgres => {
                let mut c = Command::new("psql");
                c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
                    .arg(driver)
                    .stdin(Stdio::null());
                c
            }
            Dialect::MySql => {
                let mut c = self.mysql();
                c.args(["--batch", &db.name]).stdin(script);
                c
            }
            Dialect::Sqlite => {
                let mut c = Command::new("sqlite3");
                c.args(["-batch", "-bail"])
                    .arg(self.file(&db.name))
                    .stdin(script);
                c
            }
        })
    }

    fn create_database(&self, name: &str) -> Result<(), String> {
        match self.dialect {
            Dialect::Postgres => {
                self.query("postgres", &format!("DROP DATABASE IF EXISTS {name}"))?;
                self.query("postgres", &format!("CREATE DATABASE {name}"))?;
            }
            Dialect::MySql => {
                self.query(
                    "",
                    &format!("DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"),
                )?;
            }
            // godwit and sqlite3 both create the file.
            Dialect::Sqlite => self.drop_database(name)?,
        }
        Ok(())
    }

    fn drop_database(&self, name: &str) -> Result<(), String> {
        match self.dialect {
            Dialect::Postgres => self
                .query("postgres", &format!("DROP DATABASE IF EXISTS {name}"))
                .map(drop),
            Dialect::MySql => self
                .query("", &format!("DROP DATABASE IF EXISTS {name}"))
                .map(drop),
            Dialect::Sqlite => {
                let file = self.file(name);
                for suffix in ["", "-journal", "-wal", "-shm"] {
                    let mut path = file.clone().into_os_string();
                    path.push(suffix);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(format!(
                                "cannot remove {}: {e}",
                                Path::new(&path).display()
                            ));
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// A scratch database, dropped when done (also on the way out of an error).
struct Database<'a> {
    server: &'a Server,
    name: String,
    url: String,
    dropped: bool,
}

impl<'a> Database<'a> {
    fn create(server: &'a Server, name: &str) -> Result<Database<'a>, String> {
        server.create_database(name)?;
        Ok(Database {
            server,
            name: name.to_string(),
            url: server.url(name),
            dropped: false,
        })
    }

    fn drop_now(mut self) -> Result<(), String> {
        self.dropped = true;
        self.server.drop_database(&self.name)
    }
}

impl Drop for Database<'_> {
    fn drop(&mut self) {
        if !self.dropped {
            let _ = self.server.drop_database(&self.name);
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

// ---------------------------------------------------------------------------------------
// The workload

struct MigrationSet {
    /// godwit project: `migrations/<version>_<name>/up.sql`.
    project: PathBuf,
    /// The same files as `<version>_<name>.sql`.
    sqlx_dir: PathBuf,
    /// The client's driver script.
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

/// Writes the godwit project, the sqlx directory and the client's driver script under
/// `work`. The random choices do not depend on the dialect: every dialect gets the same
/// tables, columns, indexes and rows, each in its own SQL.
fn generate(work: &Path, dialect: Dialect, count: usize) -> Result<MigrationSet, String> {
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
    let mut driver = String::from("-- generated by host/benches/deploy.rs\n");
    if dialect == Dialect::Sqlite {
        // godwit's connections have foreign keys on (sqlx's default); the shell's do not.
        driver.push_str("PRAGMA foreign_keys = ON;\n");
    }
    for i in 1..=count {
        let version = format!("{i:05}");
        let roll = if tables.len() < 4 { 0 } else { rng.below(100) };
        let g = Gen {
            dialect,
            i,
            stats: &mut stats,
        };
        let (name, sql) = if roll < 25 {
            g.create_table(&mut rng, &mut tables)
        } else if roll < 50 {
            g.add_columns(&mut rng, &mut tables)
        } else if roll < 70 {
            g.create_index(&mut rng, &tables)
        } else if roll < 91 {
            g.insert_rows(&mut rng, &tables)
        } else {
            g.create_function(&mut rng, &tables)
        };
        let text = format!("-- {version} {}\n\n{sql}", name.replace('_', " "));
        stats.bytes += text.len();
        let dir = migrations_dir.join(format!("{version}_{name}"));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let up = dir.join("up.sql");
        std::fs::write(&up, &text).map_err(io(&up))?;
        let flat = sqlx_dir.join(format!("{version}_{name}.sql"));
        std::fs::write(&flat, &text).map_err(io(&flat))?;
        let _ = match dialect {
            Dialect::Postgres => write!(driver, "BEGIN;\n\\i {}\nCOMMIT;\n", up.display()),
            // DDL commits on its own: no transaction to open.
            Dialect::MySql => writeln!(driver, "source {}", up.display()),
            Dialect::Sqlite => write!(driver, "BEGIN;\n.read {}\nCOMMIT;\n", up.display()),
        };
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

/// One migration's SQL in one dialect.
struct Gen<'a> {
    dialect: Dialect,
    i: usize,
    stats: &'a mut Stats,
}

impl Gen<'_> {
    fn text(&self) -> &'static str {
        // MySQL cannot index TEXT without a prefix length.
        if self.dialect == Dialect::MySql {
            "VARCHAR(255)"
        } else {
            "TEXT"
        }
    }

    fn timestamp(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "TIMESTAMPTZ",
            Dialect::MySql => "DATETIME(6)",
            Dialect::Sqlite => "TEXT",
        }
    }

    fn create_table(self, rng: &mut Rng, tables: &mut Vec<Table>) -> (String, String) {
        let (d, i) = (self.dialect, self.i);
        let name = format!("{}_{i}", rng.pick(NOUNS));
        let mut columns = vec![("name".to_string(), ColType::Text)];
        let id = match d {
            Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
            Dialect::MySql => "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            Dialect::Sqlite => "INTEGER PRIMARY KEY",
        };
        let text = self.text();
        let mut sql = format!("CREATE TABLE {name} (\n    id {id},\n    name {text} NOT NULL,\n");
        if rng.chance(60) {
            let status = if d == Dialect::MySql {
                "VARCHAR(16)"
            } else {
                "TEXT"
            };
            let _ = writeln!(
                sql,
                "    status {status} NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'active', 'archived')),"
            );
            columns.push(("status".into(), ColType::Text));
        }
        let has_amount = rng.chance(50);
        if has_amount {
            sql.push_str("    amount NUMERIC(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),\n");
            columns.push(("amount".into(), ColType::Numeric));
        }
        let mut parent = None;
        let mut foreign_key = String::new();
        if !tables.is_empty() && rng.chance(50) {
            let p = &tables[rng.below(tables.len())];
            if d == Dialect::MySql {
                // MariaDB ignores REFERENCES on a column: the constraint goes at the end.
                let _ = writeln!(sql, "    {}_id BIGINT NULL,", p.name);
                foreign_key = format!(
                    ",\n    CONSTRAINT {name}_{p}_fk FOREIGN KEY ({p}_id) REFERENCES {p} (id) ON DELETE CASCADE",
                    p = p.name
                );
            } else {
                let _ = writeln!(
                    sql,
                    "    {}_id BIGINT REFERENCES {} (id) ON DELETE CASCADE,",
                    p.name, p.name
                );
            }
            columns.push((format!("{}_id", p.name), ColType::Int));
            parent = Some(format!("{}_id", p.name));
        }
        if rng.chance(40) {
            sql.push_str("    quantity INTEGER NOT NULL DEFAULT 1 CHECK (quantity > 0),\n");
            columns.push(("quantity".into(), ColType::Int));
        }
        let (ts, now) = match d {
            Dialect::Postgres => ("TIMESTAMPTZ", "now()"),
            Dialect::MySql => ("DATETIME(6)", "CURRENT_TIMESTAMP(6)"),
            Dialect::Sqlite => ("TEXT", "CURRENT_TIMESTAMP"),
        };
        let _ = write!(
            sql,
            "    created_at {ts} NOT NULL DEFAULT {now},\n    updated_at {ts},\n"
        );
        columns.push(("created_at".into(), ColType::Timestamp));
        let _ = write!(
            sql,
            "    CONSTRAINT {name}_name_key UNIQUE (name){foreign_key}\n);\n"
        );
        self.stats.statements += 1;
        self.stats.create_table += 1;
        if let Some(fk) = parent {
            let _ = write!(sql, "\nCREATE INDEX {name}_{fk}_idx ON {name} ({fk});\n");
            self.stats.statements += 1;
            self.stats.create_index += 1;
        }
        if rng.chance(30) {
            let comment = format!("created by migration {i}");
            match d {
                Dialect::Postgres => {
                    let _ = write!(sql, "\nCOMMENT ON TABLE {name} IS '{comment}';\n");
                }
                Dialect::MySql => {
                    let _ = write!(sql, "\nALTER TABLE {name} COMMENT = '{comment}';\n");
                }
                // SQLite keeps no comments: the SQL comment is all there is.
                Dialect::Sqlite => {
                    let _ = write!(sql, "\n-- {comment}\n");
                }
            }
            if d != Dialect::Sqlite {
                self.stats.statements += 1;
                self.stats.other += 1;
            }
        }
        tables.push(Table {
            name: name.clone(),
            columns,
            has_amount,
        });
        (format!("create_{name}"), sql)
    }

    fn add_columns(self, rng: &mut Rng, tables: &mut [Table]) -> (String, String) {
        let (d, i) = (self.dialect, self.i);
        let t = rng.below(tables.len());
        let table = &mut tables[t];
        let mut sql = String::new();
        let n = 1 + rng.below(2);
        let mut first = (String::new(), String::new());
        for k in 0..n {
            let (column, ty, definition) = match rng.below(6) {
                0 => (
                    format!("note_{i}_{k}"),
                    ColType::Text,
                    self.text().to_string(),
                ),
                1 => (
                    format!("score_{i}_{k}"),
                    ColType::Int,
                    "INTEGER NOT NULL DEFAULT 0".to_string(),
                ),
                2 => (
                    format!("is_enabled_{i}_{k}"),
                    ColType::Bool,
                    if d == Dialect::Sqlite {
                        "BOOLEAN NOT NULL DEFAULT 0"
                    } else {
                        "BOOLEAN NOT NULL DEFAULT false"
                    }
                    .to_string(),
                ),
                3 => (
                    format!("external_ref_{i}_{k}"),
                    ColType::Text,
                    "VARCHAR(64)".to_string(),
                ),
                4 => (
                    format!("archived_at_{i}_{k}"),
                    ColType::Timestamp,
                    self.timestamp().to_string(),
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
            self.stats.statements += 1;
            self.stats.alter_table += 1;
            if first.0.is_empty() {
                first = (column.clone(), definition);
            }
            table.columns.push((column, ty));
        }
        if rng.chance(25) {
            let (column, definition) = &first;
            let comment = format!("added by migration {i}");
            match d {
                Dialect::Postgres => {
                    let _ = write!(
                        sql,
                        "\nCOMMENT ON COLUMN {}.{column} IS '{comment}';\n",
                        table.name
                    );
                }
                Dialect::MySql => {
                    // The comment goes before a CHECK, or MariaDB refuses it.
                    let definition = match definition.split_once(" CHECK ") {
                        Some((ty, check)) => format!("{ty} COMMENT '{comment}' CHECK {check}"),
                        None => format!("{definition} COMMENT '{comment}'"),
                    };
                    let _ = write!(
                        sql,
                        "\nALTER TABLE {} MODIFY COLUMN {column} {definition};\n",
                        table.name
                    );
                }
                Dialect::Sqlite => {
                    let _ = write!(sql, "\n-- {column}: {comment}\n");
                }
            }
            if d != Dialect::Sqlite {
                self.stats.statements += 1;
                self.stats.other += 1;
            }
        }
        (format!("add_{}_to_{}", first.0, table.name), sql)
    }

    fn create_index(self, rng: &mut Rng, tables: &[Table]) -> (String, String) {
        let i = self.i;
        let table = rng.pick(tables);
        let (column, _) = rng.pick(&table.columns[1..]);
        let sql = match rng.below(4) {
            0 if table.columns.iter().any(|(c, _)| c == "status") => {
                if self.dialect == Dialect::MySql {
                    // No partial indexes: the status leads instead.
                    let columns = if column == "status" {
                        "status".to_string()
                    } else {
                        format!("status, {column}")
                    };
                    format!(
                        "CREATE INDEX {}_{column}_active_idx_{i} ON {} ({columns});\n",
                        table.name, table.name
                    )
                } else {
                    format!(
                        "CREATE INDEX {}_{column}_active_idx_{i} ON {} ({column}) WHERE status <> 'archived';\n",
                        table.name, table.name
                    )
                }
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
        self.stats.statements += 1;
        self.stats.create_index += 1;
        (format!("index_{}_on_{column}", table.name), sql)
    }

    fn insert_rows(self, rng: &mut Rng, tables: &[Table]) -> (String, String) {
        let i = self.i;
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
        self.stats.statements += 1;
        self.stats.insert += 1;
        if rng.chance(20) && table.columns.iter().any(|(c, _)| c == "status") {
            let _ = write!(
                sql,
                "\nUPDATE {} SET status = 'active' WHERE name LIKE '{}-{i}-%';\n",
                table.name, table.name
            );
            self.stats.statements += 1;
            self.stats.other += 1;
        }
        (format!("seed_{}", table.name), sql)
    }

    /// A function on PostgreSQL and MySQL; SQLite has none, so a view there.
    fn create_function(self, rng: &mut Rng, tables: &[Table]) -> (String, String) {
        let (d, i) = (self.dialect, self.i);
        let table = rng.pick(tables);
        let t = &table.name;
        let (fname, sql) = if table.has_amount {
            let f = format!("{t}_total_{i}");
            let sql = match d {
                Dialect::Postgres => format!(
                    "CREATE OR REPLACE FUNCTION {f}(p_since TIMESTAMPTZ)\nRETURNS NUMERIC\nLANGUAGE sql\nSTABLE\nAS $$\n    SELECT coalesce(sum(amount), 0)\n    FROM {t}\n    WHERE created_at >= p_since\n$$;\n"
                ),
                Dialect::MySql => format!(
                    "CREATE FUNCTION {f}(p_since DATETIME(6))\nRETURNS DECIMAL(14, 2)\nREADS SQL DATA\nRETURN (\n    SELECT coalesce(sum(amount), 0)\n    FROM {t}\n    WHERE created_at >= p_since\n);\n"
                ),
                Dialect::Sqlite => format!(
                    "CREATE VIEW {f} AS\n    SELECT coalesce(sum(amount), 0) AS total\n    FROM {t}\n    WHERE created_at >= datetime('now', '-1 day');\n"
                ),
            };
            (f, sql)
        } else if rng.chance(50) {
            let f = format!("{t}_count_{i}");
            let sql = match d {
                Dialect::Postgres => format!(
                    "CREATE OR REPLACE FUNCTION {f}(p_prefix TEXT)\nRETURNS BIGINT\nLANGUAGE sql\nSTABLE\nAS $$\n    SELECT count(*) FROM {t} WHERE name LIKE p_prefix || '%'\n$$;\n"
                ),
                Dialect::MySql => format!(
                    "CREATE FUNCTION {f}(p_prefix VARCHAR(255))\nRETURNS BIGINT\nREADS SQL DATA\nRETURN (SELECT count(*) FROM {t} WHERE name LIKE CONCAT(p_prefix, '%'));\n"
                ),
                Dialect::Sqlite => format!(
                    "CREATE VIEW {f} AS\n    SELECT substr(name, 1, 3) AS prefix, count(*) AS n FROM {t} GROUP BY 1;\n"
                ),
            };
            (f, sql)
        } else {
            let f = format!("{t}_slug_{i}");
            let sql = match d {
                Dialect::Postgres => format!(
                    "CREATE OR REPLACE FUNCTION {f}(p_name TEXT)\nRETURNS TEXT\nLANGUAGE sql\nIMMUTABLE\nAS $body$\n    SELECT lower(regexp_replace(trim(p_name), '[^a-zA-Z0-9]+', '-', 'g'))\n$body$;\n"
                ),
                Dialect::MySql => format!(
                    "CREATE FUNCTION {f}(p_name VARCHAR(255))\nRETURNS VARCHAR(255)\nDETERMINISTIC NO SQL\nRETURN lower(regexp_replace(trim(p_name), '[^a-zA-Z0-9]+', '-'));\n"
                ),
                Dialect::Sqlite => format!(
                    "CREATE VIEW {f} AS\n    SELECT id, lower(replace(trim(name), ' ', '-')) AS slug FROM {t};\n"
                ),
            };
            (f, sql)
        };
        self.stats.statements += 1;
        self.stats.create_function += 1;
        let what = if d == Dialect::Sqlite {
            "view"
        } else {
            "function"
        };
        (format!("create_{what}_{fname}"), sql)
    }
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
