//! `godwit lint` as CI runs it: no database, exit 4 on an error finding, four output
//! formats, ignore comments and severities from godwit.toml.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// A project directory (no database) with the given godwit.toml and migrations.
fn project(config: &str, migrations: &[(&str, &str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("godwit.toml"), config).unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    for (name, up, down) in migrations {
        let m = dir.path().join("migrations").join(name);
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("up.sql"), up).unwrap();
        if let Some(down) = down {
            std::fs::write(m.join("down.sql"), down).unwrap();
        }
    }
    dir
}

fn lint(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = godwit_cmd();
    cmd.current_dir(dir).arg("lint").args(args);
    cmd
}

const DROP: (&str, &str, Option<&str>) = (
    "20260101000000_drop_users",
    "-- godwit:lock-timeout=5s\nDROP TABLE users;\n",
    Some("CREATE TABLE users (id int);\n"),
);

const CLEAN: (&str, &str, Option<&str>) = (
    "20260101000000_create_users",
    "CREATE TABLE users (id int);\n",
    Some("DROP TABLE users;\n"),
);

#[test]
fn runs_without_any_database_url_even_where_deploy_would_refuse() {
    // environment = production makes every database command fail without DATABASE_URL;
    // lint must not care.
    let dir = project("environment = \"production\"\n", &[CLEAN]);
    run(lint(dir.path(), &[]))
        .expect(0)
        .says("Checked 1 migration in migrations as PostgreSQL (no database URL configured")
        .says("No findings.");
}

#[test]
fn an_error_finding_exits_4_and_shows_the_statement() {
    for dialect in ["postgres", "mysql", "sqlite"] {
        let dir = project("", &[DROP]);
        let out = run(lint(dir.path(), &["--dialect", dialect]));
        out.expect(4)
            .says("migrations/20260101000000_drop_users/up.sql:2\n")
            .says("2 | DROP TABLE users;\n")
            .says("error[GW001 ban-drop-table]: drops table users")
            .says("docs: docs/lint/ban-drop-table.md")
            .says("1 error, 0 warnings, 0 infos.");
    }
}

#[test]
fn the_dialect_comes_from_the_configured_url() {
    let dir = project("", &[CLEAN]);
    let mut cmd = lint(dir.path(), &[]);
    cmd.env("DATABASE_URL", "mariadb://root@db.invalid/app");
    run(cmd).expect(0).says("as MySQL (from DATABASE_URL)");
    let dir = project("database_url = \"sqlite://app.db\"\n", &[CLEAN]);
    run(lint(dir.path(), &[]))
        .expect(0)
        .says("as SQLite (from database_url in godwit.toml)");
    run(lint(dir.path(), &["--dialect", "postgresql"]))
        .expect(0)
        .says("as PostgreSQL (--dialect)");
}

#[test]
fn formats() {
    let dir = project("", &[DROP]);
    let out = run(lint(dir.path(), &["--format", "json"]));
    out.expect(4);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(value["summary"]["errors"], 1);
    assert_eq!(value["findings"][0]["code"], "GW001");
    assert_eq!(value["findings"][0]["location"]["line"], 2);
    // --json is the global spelling of the same thing.
    let out = run(lint(dir.path(), &["--json"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["summary"]["errors"],
        1
    );

    run(lint(dir.path(), &["--format", "github"]))
        .expect(4)
        .says("::error file=migrations/20260101000000_drop_users/up.sql,line=2,title=GW001 ban-drop-table::drops table users");

    let out = run(lint(dir.path(), &["--format", "sarif"]));
    out.expect(4);
    let sarif: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][0]["id"],
        "GW001"
    );
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "migrations/20260101000000_drop_users/up.sql"
    );
}

#[test]
fn an_ignore_with_a_reason_silences_one_without_does_not() {
    let up = "-- godwit:lock-timeout=5s\n-- godwit:ignore ban-drop-table -- reason: replaced by accounts in v3\nDROP TABLE users;\n";
    let dir = project(
        "",
        &[("20260101000000_drop_users", up, Some("SELECT 1;\n"))],
    );
    run(lint(dir.path(), &[])).expect(0).says("No findings.");

    let up = "-- godwit:lock-timeout=5s\n-- godwit:ignore ban-drop-table\nDROP TABLE users;\n";
    let dir = project(
        "",
        &[("20260101000000_drop_users", up, Some("SELECT 1;\n"))],
    );
    run(lint(dir.path(), &[]))
        .expect(4)
        .says("error[GW001 ban-drop-table]")
        .says("warning[GW023 invalid-ignore-comment]: the godwit:ignore comment at line 2 gives no reason");
}

#[test]
fn ignore_comments_do_not_break_deploy() {
    // The same file must still apply: ignore comments are not directives.
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20260101000000_create_users/up.sql",
        "CREATE TABLE users (id int);\n-- godwit:ignore ban-drop-table -- reason: scratch\nDROP TABLE users;\nCREATE TABLE users (id int);\n",
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
}

#[test]
fn severities_from_godwit_toml() {
    let config = "[lint]\nrules = { ban-drop-table = \"warning\", GW020 = \"error\" }\n";
    let dir = project(config, &[DROP]);
    run(lint(dir.path(), &[]))
        .expect(0)
        .says("warning[GW001 ban-drop-table]");
    let dir = project(
        config,
        &[(
            "20260101000000_create_users",
            "CREATE TABLE users (id int);\n",
            None,
        )],
    );
    run(lint(dir.path(), &[]))
        .expect(4)
        .says("error[GW020 missing-down-migration]");
    let dir = project("[lint]\nrules = { ban-drop-tables = \"off\" }\n", &[DROP]);
    run(lint(dir.path(), &[]))
        .expect(2)
        .says("`ban-drop-tables`, which is not a lint rule")
        .says("ban-drop-table (GW001)");
}

#[test]
fn paths_may_be_one_migration_or_a_folder() {
    let dir = project(
        "",
        &[
            DROP,
            (
                "20260102000000_create_orders",
                "CREATE TABLE orders (id int);\n",
                Some("DROP TABLE orders;\n"),
            ),
        ],
    );
    run(lint(
        dir.path(),
        &["migrations/20260102000000_create_orders"],
    ))
    .expect(0)
    .says("Checked 1 migration in migrations/20260102000000_create_orders");
    run(lint(dir.path(), &["migrations"]))
        .expect(4)
        .says("Checked 2 migrations");
    // -C names the project; paths are relative to it, as with git -C.
    let mut cmd = godwit_cmd();
    cmd.arg("-C")
        .arg(dir.path())
        .args(["lint", "migrations/20260102000000_create_orders"]);
    run(cmd).expect(0);
    run(lint(dir.path(), &["nowhere"]))
        .expect(2)
        .says("does not exist");
}

/// The crates.io trial: `godwit -C proj lint proj/migrations` typed from the shell's
/// directory. The advice is the path that works, not `godwit init`; and the path it
/// gives does work.
#[test]
fn a_path_given_from_the_shell_rather_than_the_project_is_named() {
    let outer = tempfile::tempdir().unwrap();
    let dir = project("", &[CLEAN]);
    let proj = outer.path().join("proj");
    std::fs::rename(dir.path(), &proj).unwrap();
    let mut cmd = godwit_cmd();
    cmd.current_dir(outer.path())
        .args(["-C", "proj", "lint", "proj/migrations"]);
    let out = run(cmd);
    out.expect(2)
        .says("proj/proj/migrations does not exist")
        .says("pass `migrations` instead");
    assert!(!out.text().contains("godwit init"), "{}", out.text());
    let mut cmd = godwit_cmd();
    cmd.current_dir(outer.path())
        .args(["-C", "proj", "lint", "migrations"]);
    run(cmd).expect(0).says("Checked 1 migration");
    // Nothing by that name anywhere: what lint takes, relative to which directory.
    let mut cmd = godwit_cmd();
    cmd.current_dir(outer.path())
        .args(["-C", "proj", "lint", "nowhere"]);
    run(cmd)
        .expect(2)
        .says("relative to the project directory (proj)");
}

#[test]
fn unsplittable_file_is_a_source_error() {
    let dir = project(
        "",
        &[(
            "20260101000000_create_users",
            "CREATE TABLE users (name text DEFAULT 'oops);\n",
            Some("SELECT 1;\n"),
        )],
    );
    run(lint(dir.path(), &[]))
        .expect(2)
        .says("up.sql: unterminated");
}

/// A goose `StatementBegin` … `StatementEnd` block of several statements (hatchet writes
/// whole groups so) is sent as one, but judged statement by statement: a drop in its
/// second statement is GW002, not GW022's "could not read", and an index on a table the
/// block itself created is not GW013.
#[test]
fn a_goose_block_of_several_statements_is_judged_statement_by_statement() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/20260101000000_reshape.sql"),
        "-- +goose Up\n\
         -- +goose StatementBegin\n\
         CREATE TABLE audit (id integer, at timestamptz);\n\
         CREATE INDEX audit_at ON audit (at);\n\
         ALTER TABLE users DROP COLUMN legacy;\n\
         -- +goose StatementEnd\n\
         \n\
         -- +goose Down\n\
         DROP TABLE audit;\n",
    )
    .unwrap();
    let out = run(lint(
        dir.path(),
        &["--dialect", "postgres", "--format", "json"],
    ));
    let value: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.text()));
    let codes: Vec<&str> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["location"]["file"]
                .as_str()
                .is_some_and(|p| !p.ends_with("down.sql"))
        })
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"GW002"), "{codes:?}\n{}", out.stdout);
    assert!(!codes.contains(&"GW022"), "{codes:?}\n{}", out.stdout);
    assert!(!codes.contains(&"GW013"), "{codes:?}\n{}", out.stdout);
}

/// A copy of examples/shop (its godwit.toml and migrations), so that nothing a test's
/// lint might leave behind lands in the repository.
fn shop_copy() -> tempfile::TempDir {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(shop.join("godwit.toml"), dir.path().join("godwit.toml")).unwrap();
    copy_dir(&shop.join("migrations"), &dir.path().join("migrations"));
    dir
}

#[test]
fn the_example_project_has_no_errors_on_its_database() {
    let shop = shop_copy();
    let mut cmd = godwit_cmd();
    cmd.arg("-C")
        .arg(shop.path())
        .args(["lint", "--dialect", "sqlite", "--format", "json"]);
    let out = run(cmd);
    let value: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.text()));
    assert_eq!(value["summary"]["errors"], 0, "{}", out.stdout);
    out.expect(0);
    // lint runs validators only: the shop's notifier is not given its directory.
    assert!(
        !shop.path().join(".godwit/audit").exists(),
        "lint created the notifier's granted directory"
    );
}

#[test]
fn reads_other_tools_layouts_like_every_command() {
    // A Prisma project: no godwit.toml `migrations` key, prisma/migrations/<v>_<name>/migration.sql.
    let dir = tempfile::tempdir().unwrap();
    let m = dir
        .path()
        .join("prisma/migrations/20260101000000_drop_users");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("migration.sql"),
        "-- godwit:lock-timeout=5s\nDROP TABLE users;\n",
    )
    .unwrap();
    run(lint(dir.path(), &[]))
        .expect(4)
        .says("Checked 1 migration in prisma/migrations")
        .says("prisma/migrations/20260101000000_drop_users/migration.sql:2")
        .says("error[GW001 ban-drop-table]");
    run(lint(
        dir.path(),
        &["prisma/migrations/20260101000000_drop_users"],
    ))
    .expect(4)
    .says("Checked 1 migration in prisma/migrations/20260101000000_drop_users");
}

/// A Prisma file with CREATE INDEX CONCURRENTLY alone runs outside a transaction, as
/// Prisma ran it (formbricks): GW013's help says so instead of asking for godwit's
/// directive, which a Prisma user has no reason to add. godwit's own folders still get
/// the directive.
#[test]
fn concurrently_advice_follows_how_the_layout_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("prisma/migrations/20260101000000_index");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("migration.sql"),
        "-- godwit:lock-timeout=5s\nCREATE INDEX users_email ON users (email);\n",
    )
    .unwrap();
    let out = run(lint(dir.path(), &["--dialect", "postgres"]));
    out.expect(4)
        .says("error[GW013 create-index-without-concurrently]")
        .says("as prisma ran it: nothing to mark");
    assert!(
        !out.text().contains("godwit:no-transaction"),
        "{}",
        out.text()
    );
    let own = project(
        "",
        &[(
            "20260101000000_index",
            "-- godwit:lock-timeout=5s\nCREATE INDEX users_email ON users (email);\n",
            Some("DROP INDEX users_email;\n"),
        )],
    );
    run(lint(own.path(), &["--dialect", "postgres"]))
        .expect(4)
        .says("that starts with -- godwit:no-transaction");
}

/// Drizzle keeps each migration in one file: `lint migrations/0001_x.sql` checks that one
/// (it said the file was a missing migrations directory).
#[test]
fn a_path_may_be_one_migration_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("drizzle");
    std::fs::create_dir_all(m.join("meta")).unwrap();
    std::fs::write(
        m.join("meta/_journal.json"),
        r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1700000000000,"tag":"0000_init","breakpoints":true},{"idx":1,"version":"7","when":1700000001000,"tag":"0001_drop","breakpoints":true}]}"#,
    )
    .unwrap();
    std::fs::write(m.join("0000_init.sql"), "CREATE TABLE users (id int);\n").unwrap();
    std::fs::write(m.join("0001_drop.sql"), "DROP TABLE users;\n").unwrap();
    run(lint(
        dir.path(),
        &["--dialect", "postgres", "drizzle/0001_drop.sql"],
    ))
    .expect(4)
    .says("Checked 1 migration in drizzle/0001_drop.sql")
    .says("error[GW001 ban-drop-table]");
    run(lint(
        dir.path(),
        &["--dialect", "postgres", "drizzle/0000_init.sql"],
    ))
    .expect(0);
    std::fs::write(m.join("notes.sql"), "SELECT 1;\n").unwrap();
    run(lint(
        dir.path(),
        &["--dialect", "postgres", "drizzle/notes.sql"],
    ))
    .expect(2)
    .says("is not a migration of drizzle");
}

/// With no URL anywhere, deploy would use the embedded SQLite file: lint checks for it.
#[test]
fn without_a_url_lint_checks_for_the_database_deploy_would_use() {
    let dir = project("environment = \"development\"\n", &[CLEAN]);
    run(lint(dir.path(), &[]))
        .expect(0)
        .says("as SQLite (the embedded SQLite default");
    let shop = shop_copy();
    run(lint(shop.path(), &[]))
        .expect(0)
        .says("Checked 15 migrations")
        .says("as SQLite");
}

/// A CI lint step with no URL on a PostgreSQL goose folder (the stop-31 trials): the
/// SQL's own words choose PostgreSQL, so the PostgreSQL rules run and the output names
/// the word. A folder with both PostgreSQL's and MySQL's words is not guessed.
#[test]
fn without_a_url_the_sql_s_own_words_choose_the_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("godwit.toml"),
        "environment = \"development\"\n",
    )
    .unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("00001_users.sql"),
        "-- +goose Up\n-- a comment that says AUTO_INCREMENT is not SQL\n\
         CREATE TABLE users (id bigint PRIMARY KEY, engine text, created timestamptz NOT NULL);\n\
         -- +goose Down\nDROP TABLE users;\n",
    )
    .unwrap();
    std::fs::write(
        m.join("00002_index.sql"),
        "-- +goose Up\nCREATE INDEX users_created ON users (created);\n-- +goose Down\nDROP INDEX users_created;\n",
    )
    .unwrap();
    // GW010 (an index without CONCURRENTLY) is PostgreSQL's rule: SQLite's lint has none.
    run(lint(dir.path(), &[]))
        .says("as PostgreSQL (`TIMESTAMPTZ` in 00001_users.sql is PostgreSQL's; pass --dialect to choose)")
        .says("CONCURRENTLY");
    std::fs::write(
        m.join("00003_mysql.sql"),
        "-- +goose Up\nCREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY);\n",
    )
    .unwrap();
    run(lint(dir.path(), &[])).says("as SQLite (the embedded SQLite default");
    // A backquote is named in words, not as three of them.
    let my = tempfile::tempdir().unwrap();
    let m = my.path().join("migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("00001_users.sql"),
        "-- +goose Up\nCREATE TABLE `users` (id int);\n",
    )
    .unwrap();
    run(lint(my.path(), &[])).says("as MySQL (a backquoted name in 00001_users.sql is MySQL's");
}

/// The langfuse trial: GW017 told Prisma users to put the directive "at the top of
/// up.sql", a file their layout does not have. The help names the script as its layout
/// keeps it, and the directive works there.
#[test]
fn help_names_the_script_as_the_layout_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    for (name, up) in [
        ("00001_users.sql", "CREATE TABLE users (id int);"),
        ("00002_age.sql", "ALTER TABLE users ADD COLUMN age int;"),
    ] {
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join(name),
            format!("-- +goose Up\n{up}\n-- +goose Down\nSELECT 1;\n"),
        )
        .unwrap();
    }
    // goose files take no godwit directives: the help offers what works there, and it does.
    let out = run(lint(dir.path(), &["--dialect", "postgres"]));
    out.says("GW017")
        .says("Set a lock timeout: lock_timeout in godwit.toml, or a SET before the statement");
    assert!(
        !out.text().contains("godwit:lock-timeout"),
        "{}",
        out.text()
    );
    std::fs::write(
        m.join("00002_age.sql"),
        "-- +goose Up\nSET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN age int;\n-- +goose Down\nSELECT 1;\n",
    )
    .unwrap();
    let out = run(lint(dir.path(), &["--dialect", "postgres"]));
    assert!(!out.text().contains("GW017"), "{}", out.text());
    // GW015's way out is goose's own marker.
    std::fs::write(
        m.join("00003_index.sql"),
        "-- +goose Up\nCREATE INDEX CONCURRENTLY users_age ON users (age);\n-- +goose Down\nSELECT 1;\n",
    )
    .unwrap();
    run(lint(dir.path(), &["--dialect", "postgres"]))
        .says("GW015")
        .says("marked -- +goose NO TRANSACTION");

    let prisma = tempfile::tempdir().unwrap();
    let m = prisma.path().join("prisma/migrations");
    for (name, up) in [
        ("20240101000000_users", "CREATE TABLE users (id int);"),
        (
            "20240102000000_age",
            "ALTER TABLE users ADD COLUMN age int;",
        ),
    ] {
        std::fs::create_dir_all(m.join(name)).unwrap();
        std::fs::write(m.join(name).join("migration.sql"), format!("{up}\n")).unwrap();
    }
    std::fs::write(m.join("migration_lock.toml"), "provider = \"postgresql\"\n").unwrap();
    run(lint(prisma.path(), &[]))
        .says("GW017")
        .says("at the top of migration.sql");
}

/// UPchieve's `    -- migrate:down`: dbmate reads a marker only at the start of a line,
/// so the indented one is a comment and the DROP after it runs as part of up. lint says
/// where the marker is and why it does not count, rather than "has no down section".
#[test]
fn an_indented_section_marker_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("db/migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("20211026205335_create_cities_table.sql"),
        "-- migrate:up\nCREATE TABLE cities (id int);\n\n    -- migrate:down\nDROP TABLE cities;\n",
    )
    .unwrap();
    run(lint(dir.path(), &["--dialect", "postgres"]))
        .says("the `-- migrate:down` at line 4 is indented")
        .says("Move `-- migrate:down`");
}
