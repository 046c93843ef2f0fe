//! Shared test machinery: a database per test, a project directory per test, and the
//! `godwit` binary run as a user would run it.

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, mpsc};

use sqlx::{AnyConnection, Connection, Row};

pub use godwit::Dialect;

/// The PostgreSQL server under test: `127.0.0.1:5432`, or the port in `GODWIT_TEST_PG_PORT`
/// (`.ci/run` runs the PostgreSQL tests a second time against PostgreSQL 18 that way).
pub static PG_SERVER: LazyLock<String> = LazyLock::new(|| {
    let port = std::env::var("GODWIT_TEST_PG_PORT").unwrap_or_else(|_| "5432".into());
    format!("postgres://postgres@127.0.0.1:{port}")
});
pub static PG_ADMIN: LazyLock<String> = LazyLock::new(|| format!("{}/postgres", *PG_SERVER));
pub const MY_ADMIN: &str = "mysql://root@127.0.0.1:3306/mysql";

/// Variables that would steer godwit away from the database a test gives it.
const STRAY_ENV: &[&str] = &[
    "DATABASE_URL",
    "DIRECT_URL",
    "DB_URL",
    "DATABASE_URI",
    "PGPASSWORD",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "godwit_t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A Rust guest built from source for wasm32-wasip2 by `tests/artifacts`: a first-party
/// plugin, a fixture of `tests/guests/` or an example, by package name (`hostile-step`).
pub fn guest_wasm(name: &str) -> PathBuf {
    let path = godwit_test_guests::wasm(name);
    assert!(path.is_file(), "no guest called {name}: {}", path.display());
    path
}

/// The SHA-256 of a file, in lowercase hex, as godwit.toml pins a plugin.
pub fn sha256(path: &Path) -> String {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A database that exists for one test and is dropped afterwards.
pub struct TestDb {
    pub dialect: Dialect,
    pub url: String,
    pub name: String,
    _dir: Option<tempfile::TempDir>,
    /// Another view of a database owned elsewhere: dropping it drops nothing.
    view: bool,
}

impl TestDb {
    pub fn new(dialect: Dialect) -> TestDb {
        sqlx::any::install_default_drivers();
        let name = unique_name();
        match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    dialect,
                    url,
                    name,
                    _dir: Some(dir),
                    view: false,
                }
            }
            Dialect::Postgres => {
                admin(&PG_ADMIN, &format!("CREATE DATABASE {name}"));
                TestDb {
                    dialect,
                    url: format!("{}/{name}", *PG_SERVER),
                    name,
                    _dir: None,
                    view: false,
                }
            }
            Dialect::MySql => {
                admin(MY_ADMIN, &format!("CREATE DATABASE {name}"));
                TestDb {
                    dialect,
                    url: format!("mysql://root@127.0.0.1:3306/{name}"),
                    name,
                    _dir: None,
                    view: false,
                }
            }
        }
    }

    /// Where godwit keeps the copies of data dropped from this database: the database to
    /// query, and the prefix that names a table there (`godwit_copies.`).
    pub fn copies(&self) -> (TestDb, String) {
        let view = |url: String| TestDb {
            dialect: self.dialect,
            url,
            name: self.name.clone(),
            _dir: None,
            view: true,
        };
        match self.dialect {
            Dialect::Postgres => (view(self.url.clone()), "godwit_copies.".into()),
            Dialect::MySql => (
                view(self.url.clone()),
                format!("`{}_godwit_copies`.", self.name),
            ),
            Dialect::Sqlite => (
                view(self.url.replace("test.db", "test.godwit-copies.db")),
                String::new(),
            ),
        }
    }

    /// The name godwit gives its copies' namespace in messages: `godwit_copies`, or on
    /// MySQL the database `<name>_godwit_copies`.
    pub fn copies_name(&self) -> String {
        match self.dialect {
            Dialect::MySql => format!("{}_godwit_copies", self.name),
            _ => "godwit_copies".into(),
        }
    }

    /// The SQLite file godwit keeps copies of dropped data in.
    pub fn sqlite_copies_file(&self) -> PathBuf {
        PathBuf::from(
            self.url
                .trim_start_matches("sqlite://")
                .replace("test.db", "test.godwit-copies.db"),
        )
    }

    fn any_url(&self) -> String {
        if self.dialect == Dialect::Sqlite {
            format!("{}?mode=rwc", self.url)
        } else {
            self.url.clone()
        }
    }

    /// Runs statements separated by `;` (simple ones only: this is test plumbing).
    pub fn exec(&self, sql: &str) {
        let url = self.any_url();
        runtime().block_on(async {
            let mut conn = AnyConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    /// A connection that stays open across statements, for a test that holds a lock
    /// while godwit runs.
    pub fn hold(&self) -> Held {
        let rt = runtime();
        let conn = rt
            .block_on(AnyConnection::connect(&self.any_url()))
            .unwrap();
        Held { rt, conn }
    }

    /// The first column of the first row, as an integer.
    pub fn int(&self, sql: &str) -> i64 {
        let url = self.any_url();
        runtime().block_on(async {
            let mut conn = AnyConnection::connect(&url).await.unwrap();
            let row = sqlx::query(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            row.try_get::<i64, _>(0)
                .or_else(|_| row.try_get::<i32, _>(0).map(i64::from))
                .unwrap()
        })
    }

    /// Every row's columns as text (NULL as "NULL").
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let url = self.any_url();
        runtime().block_on(async {
            let mut conn = AnyConnection::connect(&url).await.unwrap();
            let rows = sqlx::query(sql)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<Option<String>, _>(i)
                                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                                .or_else(|_| {
                                    r.try_get::<Option<i64>, _>(i)
                                        .map(|v| v.map_or("NULL".into(), |v| v.to_string()))
                                })
                                .or_else(|_| {
                                    r.try_get::<Option<i32>, _>(i)
                                        .map(|v| v.map_or("NULL".into(), |v| v.to_string()))
                                })
                                .or_else(|_| {
                                    r.try_get::<Option<Vec<u8>>, _>(i).map(|v| {
                                        v.map_or("NULL".into(), |v| {
                                            String::from_utf8_lossy(&v).into_owned()
                                        })
                                    })
                                })
                                .unwrap_or_else(|e| panic!("column {i} of {sql}: {e}"))
                        })
                        .collect()
                })
                .collect()
        })
    }

    pub fn table_exists(&self, table: &str) -> bool {
        let sql = match self.dialect {
            Dialect::Postgres => format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
            Dialect::MySql => format!(
                "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
            ),
            Dialect::Sqlite => format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
        };
        self.int(&sql) > 0
    }

    /// `(version, operation, state)` of every history row, oldest first.
    pub fn history(&self) -> Vec<(String, String, String)> {
        self.rows("SELECT version, operation, state FROM godwit_migrations ORDER BY id")
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.view {
            return;
        }
        match self.dialect {
            // With the database go the roles godwit made for its plugins' grants there:
            // roles belong to the whole server, and a test leaves nothing behind.
            Dialect::Postgres => {
                admin(
                    &PG_ADMIN,
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                );
                admin(&PG_ADMIN, &drop_plugin_roles(&self.name));
            }
            // godwit keeps copies of dropped data in a database of its own beside it.
            Dialect::MySql => admin(
                MY_ADMIN,
                &format!(
                    "DROP DATABASE IF EXISTS {name}; DROP DATABASE IF EXISTS {name}_godwit_copies",
                    name = self.name
                ),
            ),
            Dialect::Sqlite => {}
        }
    }
}

/// SQL that drops the roles godwit made for plugins' grants in PostgreSQL database `name`:
/// roles belong to the whole server, and a test leaves nothing behind.
pub fn drop_plugin_roles(name: &str) -> String {
    format!(
        "DO $$ DECLARE r text; BEGIN
           FOR r IN SELECT a.rolname FROM pg_catalog.pg_authid a
                    JOIN pg_catalog.pg_shdescription d ON d.objoid = a.oid
                     AND d.classoid = 'pg_catalog.pg_authid'::regclass
                    WHERE d.description = '{}'
           LOOP EXECUTE format('DROP ROLE IF EXISTS %I', r); END LOOP;
         END $$",
        godwit::driver::postgres::plugin_role_comment(name).replace('\'', "''")
    )
}

/// The admin connection's URL for a server dialect (not SQLite).
pub fn admin_url(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => &PG_ADMIN,
        Dialect::MySql => MY_ADMIN,
        Dialect::Sqlite => panic!("SQLite has no server to administer"),
    }
}

/// The first column of the first row of `sql` run as the server's admin, as an integer.
pub fn admin_int(dialect: Dialect, sql: &str) -> i64 {
    admin_int_at(admin_url(dialect), sql)
}

/// The first column of the first row of `sql` run on `url`, as an integer.
pub fn admin_int_at(url: &str, sql: &str) -> i64 {
    let row = admin_row(url, sql);
    row.try_get::<i64, _>(0)
        .or_else(|_| row.try_get::<i32, _>(0).map(i64::from))
        .unwrap()
}

/// The first row of `sql` run on `url`.
fn admin_row(url: &str, sql: &str) -> sqlx::any::AnyRow {
    sqlx::any::install_default_drivers();
    runtime().block_on(async {
        let mut conn = AnyConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        sqlx::query(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

/// The first column of the first row of `sql` run on `url`, as text.
pub fn admin_text(url: &str, sql: &str) -> String {
    admin_row(url, sql).try_get::<String, _>(0).unwrap()
}

pub fn admin(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    runtime().block_on(async {
        let mut conn = AnyConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// `rel` under the real-world corpora (`shared/corpora` beside the repository), or a loud
/// failure: a corpus test must not pass by not running.
#[track_caller]
pub fn corpus(rel: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora")
        .join(rel);
    assert!(
        dir.is_dir(),
        "the corpus {rel} is missing at {}: this test needs it (see shared/corpora/README.md)",
        dir.display()
    );
    dir
}

pub fn dialect_dir(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        Dialect::Sqlite => "sqlite",
    }
}

/// What a godwit run printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn says(&self, needle: &str) -> &Self {
        assert!(
            self.text().contains(needle),
            "expected output to contain {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

pub fn godwit_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_godwit"));
    for key in STRAY_ENV {
        cmd.env_remove(key);
    }
    // One compile cache for the whole run, outside the user's home: each plugin is
    // compiled once, however many tests load it.
    cmd.env("GODWIT_CACHE_DIR", crate::scripted::shared_cache());
    cmd.stdin(Stdio::null());
    cmd
}

pub fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run godwit");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A project directory with a `migrations/` copied from a fixture, and a database.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

impl Project {
    /// `fixture` is a directory under tests/fixtures; if it has a sub-directory named after
    /// the dialect, that one is used.
    pub fn new(dialect: Dialect, fixture: &str) -> Project {
        let project = Project::empty(dialect);
        let mut source = fixtures().join(fixture);
        if source.join(dialect_dir(dialect)).is_dir() {
            source = source.join(dialect_dir(dialect));
        }
        copy_dir(&source, &project.migrations());
        project
    }

    pub fn empty(dialect: Dialect) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
        Project {
            dir,
            db: TestDb::new(dialect),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    /// Writes `migrations/<rel>`, creating directories.
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.migrations().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// On a PostgreSQL server newer than this machine's `pg_dump` (CI's PostgreSQL 18
    /// pass: the npm package ships no pg_dump 18), no whole-database backup can be made,
    /// so a `down` of tables with rows is refused under the default policy. A test about
    /// something else turns backups off there with this; the backup tests run on the
    /// server pg_dump matches.
    pub fn backups_off_where_pg_dump_cannot(&self) {
        if self.db.dialect != Dialect::Postgres || pg_dump_can_dump(&self.db) {
            return;
        }
        let path = self.path().join("godwit.toml");
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, format!("{before}\n[backup]\npolicy = \"never\"\n")).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(self.path())
            .arg("--database-url")
            .arg(&self.db.url)
            .args(args);
        cmd
    }

    pub fn godwit(&self, args: &[&str]) -> Output {
        run(self.command(args))
    }

    /// Starts godwit without waiting for it: see [`Running`].
    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::start(self.command(args))
    }
}

/// One open connection of a test ([`TestDb::hold`]).
pub struct Held {
    rt: tokio::runtime::Runtime,
    conn: AnyConnection,
}

/// A lock the test holds, and a migration body that waits on it: a deploy stops inside
/// that migration until the test opens the gate. Scoped to the test's own database
/// (PostgreSQL's advisory locks are per database; MySQL's lock names are server-wide, so
/// the name carries the database), so that tests running at once never share one.
pub struct Gate<'a> {
    db: &'a TestDb,
    held: Held,
}

impl TestDb {
    /// Takes the gate: a migration whose body is [`Gate::migration`] waits from now on.
    pub fn gate(&self) -> Gate<'_> {
        let mut gate = Gate {
            db: self,
            held: self.hold(),
        };
        let take = gate.take();
        gate.held.exec(&take);
        gate
    }
}

impl Gate<'_> {
    fn mysql_name(&self) -> String {
        format!("'gate:{}'", self.db.name)
    }

    fn take(&self) -> String {
        match self.db.dialect {
            Dialect::Postgres => "SELECT pg_advisory_lock(4242)".into(),
            _ => format!("SELECT GET_LOCK({}, 60)", self.mysql_name()),
        }
    }

    fn release(&self) -> String {
        match self.db.dialect {
            Dialect::Postgres => "SELECT pg_advisory_unlock(4242)".into(),
            _ => format!("SELECT RELEASE_LOCK({})", self.mysql_name()),
        }
    }

    /// A migration body that waits until the gate opens, then lets it go.
    pub fn migration(&self) -> String {
        format!("{};\n{};\n", self.take(), self.release())
    }

    /// Three migrations in `p`: one makes `first_t`, the second waits at this gate, the
    /// third makes `third_t`.
    pub fn three_migrations(&self, p: &Project) {
        p.write(
            "20261201000000_first/up.sql",
            "CREATE TABLE first_t (id INT);\n",
        );
        p.write("20261202000000_wait/up.sql", &self.migration());
        p.write(
            "20261203000000_third/up.sql",
            "CREATE TABLE third_t (id INT);\n",
        );
    }

    /// Returns once a session of this database waits at the gate.
    pub fn wait_for_a_waiter(&self) {
        let waiting = match self.db.dialect {
            Dialect::Postgres => "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                 AND NOT granted AND objid = 4242 \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                .to_string(),
            _ => "SELECT count(*) FROM information_schema.processlist \
                 WHERE state = 'User lock' AND db = DATABASE()"
                .to_string(),
        };
        while self.db.int(&waiting) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn open(mut self) {
        let release = self.release();
        self.held.exec(&release);
    }
}

impl Held {
    pub fn exec(&mut self, sql: &str) {
        let conn = &mut self.conn;
        self.rt
            .block_on(sqlx::raw_sql(sql).execute(conn))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// A godwit run whose output is read while it runs, so that a test acts when godwit says
/// something has happened rather than after a guess at how long it takes.
pub struct Running {
    child: Child,
    /// Each line as it is printed: whether on stderr, and the line.
    lines: mpsc::Receiver<(bool, String)>,
    stdout: String,
    stderr: String,
}

impl Running {
    /// Starts `cmd` (made by [`Project::command`], perhaps with more settings).
    pub fn start(mut cmd: Command) -> Running {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run godwit");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for (is_stderr, stream) in [
            (false, Box::new(stdout) as Box<dyn Read + Send>),
            (true, Box::new(stderr)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((is_stderr, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// The next line, or `None` once godwit has closed both streams.
    fn next_line(&mut self) -> Option<String> {
        let (is_stderr, line) = self.lines.recv().ok()?;
        let text = if is_stderr {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        text.push_str(&line);
        text.push('\n');
        Some(line)
    }

    /// Returns once godwit has printed a line containing `needle`; fails the test if it
    /// ends without printing one.
    #[track_caller]
    pub fn wait_for(&mut self, needle: &str) {
        while let Some(line) = self.next_line() {
            if line.contains(needle) {
                return;
            }
        }
        panic!(
            "godwit ended without saying {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
    }

    /// Waits for godwit to end.
    pub fn finish(mut self) -> Output {
        while self.next_line().is_some() {}
        let status = self.child.wait().expect("wait for godwit");
        Output {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Declares one `#[test]` per dialect calling `body(Dialect)`.
#[macro_export]
macro_rules! each_dialect {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn postgres() { super::$name($crate::support::Dialect::Postgres) }
                #[test]
                fn mysql() { super::$name($crate::support::Dialect::MySql) }
                #[test]
                fn sqlite() { super::$name($crate::support::Dialect::Sqlite) }
            }
        )*
    };
}

/// Whether this machine's `pg_dump` can dump `db`'s server (its major version is not
/// older than the server's).
pub fn pg_dump_can_dump(db: &TestDb) -> bool {
    let Ok(out) = Command::new("pg_dump").arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let tool = text
        .split_whitespace()
        .find_map(|w| w.split('.').next()?.parse::<i64>().ok());
    let server = db.int("SELECT current_setting('server_version_num')::int / 10000");
    tool.is_some_and(|t| t >= server)
}
