//! Bad input from the command line, the environment and the files: each gets a clear
//! message and the documented exit code, and never shows a password.

use std::process::Command;

use crate::support::*;

fn in_dir(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = godwit_cmd();
    cmd.arg("-C").arg(dir).args(args);
    cmd
}

fn project_with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("godwit.toml"), config).unwrap();
    dir
}

#[test]
fn database_url_not_set_in_production() {
    let dir = project_with_config("environment = \"production\"\n");
    run(in_dir(dir.path(), &["status"]))
        .expect(2)
        .says("DATABASE_URL is not set")
        .says("--database-url");
}

#[test]
fn look_alike_variable_is_named() {
    let dir = project_with_config("");
    let mut cmd = in_dir(dir.path(), &["deploy"]);
    cmd.env("DB_URL", "postgres://postgres@127.0.0.1/app");
    run(cmd)
        .expect(2)
        .says("DB_URL is: did you mean DATABASE_URL?");
    assert!(
        !dir.path().join(".godwit").exists(),
        "must not fall back to SQLite"
    );
}

#[test]
fn empty_database_url() {
    let dir = project_with_config("");
    let mut cmd = in_dir(dir.path(), &["status"]);
    cmd.env("DATABASE_URL", "");
    run(cmd).expect(2).says("DATABASE_URL is set but empty");
}

#[test]
fn malformed_database_url_hides_the_password() {
    let dir = project_with_config("");
    let mut cmd = in_dir(dir.path(), &["status"]);
    cmd.env(
        "DATABASE_URL",
        "postgres://app:hunter2 secret@db.internal:99999/app",
    );
    let out = run(cmd);
    out.expect(2).says("not a valid URL").says("app:***@");
    assert!(!out.text().contains("hunter2"), "{}", out.text());
    let mut cmd = in_dir(dir.path(), &["status"]);
    cmd.env("DATABASE_URL", "localhost:5432/app");
    run(cmd).expect(2).says("needs a scheme");
}

#[test]
fn unknown_scheme() {
    let dir = project_with_config("");
    let out = run(in_dir(
        dir.path(),
        &["--database-url", "postgress://localhost/app", "status"],
    ));
    out.expect(2)
        .says("`postgress`")
        .says("did you mean postgres://");
    run(in_dir(
        dir.path(),
        &["--database-url", "mongodb://localhost/app", "status"],
    ))
    .expect(2)
    .says("does not support");
}

#[test]
fn unreachable_database() {
    let dir = project_with_config("");
    let url = "postgres://postgres:s3cretpw@127.0.0.1:1/app";
    let out = run(in_dir(dir.path(), &["--database-url", url, "status"]));
    out.expect(3)
        .says("cannot connect to postgres://postgres:***@127.0.0.1:1/app")
        .says("--wait");
    assert!(!out.text().contains("s3cretpw"));
    let started = std::time::Instant::now();
    let out = run(in_dir(
        dir.path(),
        &["--database-url", url, "--wait", "2", "deploy"],
    ));
    out.expect(3).says("gave up after waiting 2s");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "--wait retried"
    );
}

#[test]
fn bad_credentials() {
    let dir = project_with_config("");
    let out = run(in_dir(
        dir.path(),
        &[
            "--database-url",
            &PG_ADMIN.replace("postgres@", "no_such_role:pw12345@"),
            "status",
        ],
    ));
    out.expect(3)
        .says("refused the connection")
        .says("no_such_role");
    assert!(!out.text().contains("pw12345"));
    let out = run(in_dir(
        dir.path(),
        &[
            "--database-url",
            "mysql://root:wrongpass99@127.0.0.1:3306/mysql",
            "status",
        ],
    ));
    out.expect(3).says("Access denied").says("bad credentials");
    assert!(!out.text().contains("wrongpass99"), "{}", out.text());
}

#[test]
fn database_does_not_exist() {
    let dir = project_with_config("");
    run(in_dir(
        dir.path(),
        &[
            "--database-url",
            &format!("{}/godwit_no_such_db", *PG_SERVER),
            "status",
        ],
    ))
    .expect(3)
    .says("does not exist")
    .says("createdb");
}

/// A mistyped SQLite path must not leave an empty database behind. The commands that
/// report read the missing file as the empty database it stands for (`status` before the
/// first deploy lists every migration as pending); those that read a database's contents
/// refuse; deploy creates it.
#[test]
fn a_missing_sqlite_file_is_not_created_by_commands_that_read() {
    let dir = project_with_config("");
    std::fs::create_dir_all(dir.path().join("migrations/20260101000000_users")).unwrap();
    std::fs::write(
        dir.path().join("migrations/20260101000000_users/up.sql"),
        "CREATE TABLE users (id integer PRIMARY KEY);\nCREATE INDEX users_id ON users (id);\n",
    )
    .unwrap();
    let file = dir.path().join("data/app.db");
    let url = format!("sqlite://{}", file.display());
    let godwit = |args: &[&str]| {
        let mut cmd = in_dir(dir.path(), &["--database-url", &url]);
        cmd.args(args);
        run(cmd)
    };
    let nothing_created = |after: &str| {
        assert!(!file.exists(), "{after} created {}", file.display());
        assert!(!file.parent().unwrap().exists(), "{after} created data/");
    };
    godwit(&["status"])
        .expect(5)
        .says("pending      20260101000000  users")
        .says("does not exist yet");
    nothing_created("status");
    godwit(&["--json", "status"]).expect(5);
    nothing_created("status --json");
    godwit(&["plan"]).expect(0).says("20260101000000");
    nothing_created("plan");
    godwit(&["history"]).expect(0);
    nothing_created("history");
    godwit(&["verify", "--skip-down"])
        .expect(0)
        .says("with nothing applied");
    nothing_created("verify");
    godwit(&["pull"]).expect(0).says("does not exist yet");
    nothing_created("pull");
    godwit(&["down"]).expect(0).says("Nothing to revert");
    nothing_created("down");
    for command in [&["backup"][..], &["adopt"]] {
        let out = godwit(command);
        out.expect(3).says(&file.display().to_string());
        nothing_created(command[0]);
    }
    godwit(&["deploy"]).expect(0);
    assert!(file.exists(), "deploy creates the file");
    godwit(&["status"]).expect(0);
}

#[test]
fn unknown_config_key() {
    let dir = project_with_config("lock_timout = \"5s\"\n");
    run(in_dir(dir.path(), &["status"]))
        .expect(2)
        .says("godwit.toml is not valid")
        .says("lock_timout");
    let dir = project_with_config("lock_timeout = \"5 parsecs\"\n");
    run(in_dir(dir.path(), &["status"]))
        .expect(2)
        .says("not a duration");
}

#[test]
fn missing_migrations_directory() {
    let dir = tempfile::tempdir().unwrap();
    run(in_dir(dir.path(), &["status"]))
        .expect(2)
        .says("does not exist")
        .says("godwit init");
}

/// Each malformed project is reported before anything is applied.
#[test]
fn malformed_migrations() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "20260101000000_a/up.sql",
            b"-- godwit:no-transactoin\nSELECT 1;\n",
            "line 1: unknown directive",
        ),
        (
            "20260101000000_a/up.sql",
            b"SELECT 1;\n-- godwit:no-transaction\n",
            "after the first statement",
        ),
        (
            "20260101000000_a/up.sql",
            b"SELECT 1;\nSELECT '\xff';\n",
            "not valid UTF-8 (line 2)",
        ),
        (
            "20260101000000_a/up.sql",
            b"SELECT 1;\nINSERT INTO t VALUES ('unterminated);\n",
            "unterminated",
        ),
        (
            "create_users/up.sql",
            b"SELECT 1;",
            "named <version>_<name>",
        ),
        ("20260101000000_a/down.sql", b"SELECT 1;", "has no up.sql"),
        (
            "20260101000000.sql",
            b"SELECT 1;",
            "one directory per migration",
        ),
    ];
    for (path, content, message) in cases {
        let p = Project::empty(Dialect::Sqlite);
        p.write(
            "20250101000000_fine/up.sql",
            "CREATE TABLE fine (id INTEGER);\n",
        );
        let full = p.migrations().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        let out = p.godwit(&["deploy"]);
        out.expect(2).says(message);
        assert!(
            out.text().contains(path.split('/').next().unwrap()),
            "names the file: {}",
            out.text()
        );
        assert!(
            !p.db.table_exists("fine"),
            "nothing applied when a later file is malformed"
        );
    }
}

#[test]
fn duplicate_versions() {
    let p = Project::empty(Dialect::Sqlite);
    p.write("20260101000000_create_a/up.sql", "SELECT 1;");
    p.write("20260101000000_create_b/up.sql", "SELECT 1;");
    p.godwit(&["deploy"])
        .expect(2)
        .says("version 20260101000000 is also used by");
}

#[test]
fn init_and_new() {
    let dir = tempfile::tempdir().unwrap();
    run(in_dir(dir.path(), &["init"])).expect(0);
    assert!(dir.path().join("godwit.toml").exists() && dir.path().join("migrations").is_dir());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        ".godwit/\n"
    );
    run(in_dir(dir.path(), &["init"]))
        .expect(2)
        .says("already exists");
    for vague in ["update", "fix", "migration1", "changes"] {
        run(in_dir(dir.path(), &["new", vague]))
            .expect(2)
            .says("does not say what the migration changes");
    }
    run(in_dir(dir.path(), &["new", "add", "users", "Email index"]))
        .expect(0)
        .says("_add_users_email_index/up.sql");
    let created: Vec<_> = std::fs::read_dir(dir.path().join("migrations"))
        .unwrap()
        .collect();
    assert_eq!(created.len(), 1);
    // The fresh project deploys on the embedded SQLite default.
    run(in_dir(dir.path(), &["deploy"]))
        .expect(0)
        .says("Applied 1 migration");
    assert!(dir.path().join(".godwit/godwit.db").exists());
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    run(in_dir(dir.path(), &["resolve"])).expect(2);
    run(in_dir(dir.path(), &["frobnicate"])).expect(2);
    run(in_dir(dir.path(), &["down", "--to", "1", "--steps", "2"])).expect(2);
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    p.godwit(&["deploy", "--to", "v2"])
        .expect(2)
        .says("not a version");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["resolve", "--applied", "20260101000000"])
        .expect(4)
        .says("is applied");
}

#[test]
fn lock_not_acquired_in_time() {
    let p = Project::new(Dialect::Postgres, "migrations_simple");
    // Another session holds godwit's advisory lock.
    let url = p.db.url.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("SELECT pg_advisory_lock(1735353463)")
                .execute(&mut conn)
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = rx.recv();
        });
    });
    ready_rx.recv().unwrap();
    let out = p.godwit(&["--lock-wait", "1s", "deploy"]);
    out.expect(3)
        .says("could not acquire the migration lock within 1s")
        .says("held by backend pid");
    tx.send(()).unwrap();
    holder.join().unwrap();
    p.godwit(&["deploy"]).expect(0);
}

/// The documented GitHub Actions workflow only uses commands and flags godwit has.
#[test]
fn github_actions_example_uses_real_commands() {
    use clap::Parser;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/github-actions/godwit.yml");
    let workflow = std::fs::read_to_string(path).unwrap();
    let commands: Vec<&str> = workflow
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: godwit "))
        .map(|c| c.split(" >").next().unwrap())
        .collect();
    assert!(commands.len() >= 4, "{commands:?}");
    for command in commands {
        let args = std::iter::once("godwit").chain(command.split_whitespace());
        if let Err(e) = godwit::cli::Cli::try_parse_from(args) {
            panic!("`godwit {command}` in the workflow does not parse: {e}");
        }
    }
}

/// Every secret of a URL — the user info's password, `?password=`, `sslpassword=`, plain
/// and percent-encoded, all at once — is missing from everything godwit writes: the
/// header, `--json`, the backup sidecar, the events a notifier receives (the audit log)
/// and errors. PostgreSQL trusts local connections, so the passwords are accepted unread.
#[test]
fn passwords_of_a_url_appear_in_no_output() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20260901000000_create_things/up.sql",
        "CREATE TABLE things (id INT PRIMARY KEY);\nINSERT INTO things VALUES (1);\n",
    );
    std::fs::create_dir_all(p.path().join("audit")).unwrap();
    std::fs::write(
        p.path().join("godwit.toml"),
        "[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = \"audit\"\n[plugins.audit.config]\nfile = \"/events.jsonl\"\n",
    )
    .unwrap();
    let secrets = ["pwU1u", "pwQ2q", "pwQ2q@x", "pwQ2q%40x", "pwS3s"];
    let url = format!(
        "{}?sslmode=disable&password=pwQ2q%40x&sslpassword=pwS3s",
        p.db.url.replacen("postgres@", "postgres:pwU1u@", 1)
    );
    let with_url = |url: &str, args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .arg("--database-url")
            .arg(url)
            .args(args);
        run(cmd)
    };
    let clean = |what: &str, text: &str| {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    };
    let out = with_url(&url, &["deploy"]);
    out.expect(0);
    clean("deploy", &out.text());
    let out = with_url(&url, &["status", "--json"]);
    out.expect(0);
    clean("status --json", &out.text());
    assert!(out.stdout.contains("password=***"), "{}", out.stdout);
    let out = with_url(&url, &["backup", "--json"]);
    out.expect(0);
    clean("backup --json", &out.text());
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = value["backup"]["id"].as_str().unwrap().to_string();
    let sidecar =
        std::fs::read_to_string(p.path().join(".godwit/backups").join(format!("{id}.json")))
            .unwrap();
    clean("the backup sidecar", &sidecar);
    assert!(sidecar.contains("postgres:***@"), "{sidecar}");
    let events = std::fs::read_to_string(p.path().join("audit/events.jsonl")).unwrap();
    assert!(events.contains("run-started"), "{events}");
    clean("the audit log", &events);
    // An error about a database that does not exist, in human and JSON form.
    let missing = url.replacen(&p.db.name, "godwit_no_such_db", 1);
    let out = with_url(&missing, &["status"]);
    assert_ne!(out.code, 0);
    clean("an error", &out.text());
    let out = with_url(&missing, &["--json", "deploy"]);
    assert_ne!(out.code, 0);
    clean("a JSON error", &out.text());
}

/// The same on MariaDB, where the password is checked: a wrong password is refused, and
/// neither it nor the `?password=` one shows in the error.
#[test]
fn mysql_wrong_password_is_not_shown() {
    let dir = project_with_config("");
    let url = "mysql://root:pwM1m%21@127.0.0.1:3306/mysql?password=pwM2m";
    let out = run(in_dir(dir.path(), &["--database-url", url, "status"]));
    out.expect(3);
    for secret in ["pwM1m", "pwM2m"] {
        assert!(!out.text().contains(secret), "{}", out.text());
    }
    let out = run(in_dir(
        dir.path(),
        &["--json", "--database-url", url, "status"],
    ));
    out.expect(3);
    for secret in ["pwM1m", "pwM2m"] {
        assert!(!out.text().contains(secret), "{}", out.text());
    }
}

/// Runs `cmd` with its stdout a pipe whose reader has already gone, as in
/// `godwit lint | head -0`: every write fails with EPIPE.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).stderr(std::process::Stdio::piped());
    let out = cmd.output().expect("run godwit");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_output_not_the_command() {
    // lint, status with pending migrations, then a deploy: each exits with its own code,
    // and the deploy applies everything and lets go of its lock.
    let p = Project::empty(Dialect::Sqlite);
    for (i, sql) in [
        "CREATE TABLE a (id int);",
        "CREATE INDEX a_id ON a (id);",
        "CREATE TABLE b (id int);",
    ]
    .iter()
    .enumerate()
    {
        p.write(&format!("2026010100000{i}_m{i}/up.sql"), sql);
    }
    let lint = with_closed_stdout(p.command(&["lint"]));
    assert_eq!(lint.code, 0, "{}", lint.stderr);
    let status = with_closed_stdout(p.command(&["status"]));
    assert_eq!(status.code, 5, "{}", status.stderr);
    let deploy = with_closed_stdout(p.command(&["deploy"]));
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    for out in [&lint, &status, &deploy] {
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(p.db.history().len(), 3);
    assert!(p.db.table_exists("b"));
    // The lock was released: another deploy gets it at once and has nothing to do.
    p.godwit(&["deploy"]).expect(0);
}

#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    // /dev/full: every write fails with ENOSPC, as a full disk under `> file` would.
    let p = Project::empty(Dialect::Sqlite);
    p.write("20260101000000_m/up.sql", "CREATE TABLE a (id int);");
    let mut cmd = p.command(&["status", "--json"]);
    cmd.stdout(std::fs::File::create("/dev/full").unwrap());
    let out = run(cmd);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    // status found a pending migration (5); the failed output does not hide that.
    assert_eq!(out.code, 5, "{}", out.stderr);
    let mut cmd = p.command(&["lint", "--format", "json"]);
    cmd.stdout(std::fs::File::create("/dev/full").unwrap());
    let out = run(cmd);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        out.code, 2,
        "a clean lint whose report was lost is not a success"
    );
}

/// A project of another tool never ran `godwit init`, so its .gitignore does not name
/// `.godwit/`: whatever godwit writes there (the SQLite default, backups holding the
/// database's rows) gets a `.gitignore` of its own, so `git add .` cannot commit it.
#[test]
fn the_godwit_directory_keeps_itself_out_of_git() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("prisma/migrations/20260101000000_init");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("migration.sql"), "CREATE TABLE t (id integer);\n").unwrap();
    run(in_dir(dir.path(), &["deploy"])).expect(0);
    let ignore = dir.path().join(".godwit/.gitignore");
    let text = std::fs::read_to_string(&ignore).unwrap();
    assert!(text.lines().any(|l| l == "*"), "{text}");
    // A backup on a server database, into the default .godwit/backups, does the same.
    let p = Project::empty(Dialect::Postgres);
    p.write("1_t.up.sql", "CREATE TABLE t (id int);\n");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["backup"]).expect(0);
    let text = std::fs::read_to_string(p.path().join(".godwit/.gitignore")).unwrap();
    assert!(text.lines().any(|l| l == "*"), "{text}");
}
