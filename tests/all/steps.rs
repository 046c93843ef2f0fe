//! Plugin steps on the real databases: backfills and data steps built from the guest
//! crates in tests/guests, checkpoints, resume after failures and after kill -9, and
//! the hostile plugins that must end in a clear error with the batch rolled back.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::each_dialect;
use crate::support::{Dialect, Project};

pub use crate::support::guest_wasm as guest;

pub use crate::support::sha256;

/// `[plugins.NAME]` for a guest, pinned, with extra lines (grants, config…) appended.
pub fn plugin_toml(name: &str, guest_name: &str, extra: &str) -> String {
    let path = guest(guest_name);
    format!(
        "[plugins.{name}]\npath = {:?}\nsha256 = \"{}\"\n{extra}\n",
        path.display().to_string(),
        sha256(&path)
    )
}

/// `items(id, n, label, label_upper)` with `rows` rows: n = 0, label = `item-<id>`.
fn items_sql(d: Dialect, rows: usize) -> String {
    let text = if d == Dialect::MySql {
        "VARCHAR(64)"
    } else {
        "TEXT"
    };
    let mut sql = format!(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, label {text} NOT NULL, label_upper {text});\n"
    );
    for chunk in (1..=rows).collect::<Vec<_>>().chunks(1000) {
        let values = chunk
            .iter()
            .map(|i| format!("({i}, 0, 'item-{i}')"))
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(
            "INSERT INTO items (id, n, label) VALUES {values};\n"
        ));
    }
    sql
}

/// A project whose first migration creates and fills `items`, and whose second is a
/// step running `plugin` with `step_extra` appended to its step.toml.
pub fn step_project(d: Dialect, rows: usize, godwit_toml: &str, step_toml: &str) -> Project {
    let p = Project::empty(d);
    p.write("20260101000000_items/up.sql", &items_sql(d, rows));
    p.write("20260102000000_backfill_items/step.toml", step_toml);
    std::fs::write(p.path().join("godwit.toml"), godwit_toml).unwrap();
    p
}

fn hostile(mode: &str, grants: &str) -> String {
    hostile_with(&guest("hostile"), "32MiB", mode, grants)
}

/// `[plugins.hostile]` for the hostile backfill at `wasm` (the Rust one, or its Python
/// twin), in `mode`, with `memory` and a one-second time limit for `loop` (a minute otherwise).
pub fn hostile_with(wasm: &Path, memory: &str, mode: &str, grants: &str) -> String {
    // Only the loop must meet the time limit; every other mode gets long enough that a
    // loaded machine cannot turn, say, a memory bomb into a timeout.
    let timeout = if mode == "loop" { "1s" } else { "60s" };
    format!(
        "[plugins.hostile]\npath = {:?}\nsha256 = \"{}\"\n[plugins.hostile.grants]\n{grants}\n[plugins.hostile.limits]\ntimeout = \"{timeout}\"\nmemory = \"{memory}\"\n[plugins.hostile.config]\nmode = \"{mode}\"\ntable = \"items\"\nkey = \"id\"\nreads = \"label\"\nwrites = \"label_upper\"\nfrom = \"label\"\nto = \"label_upper\"\n",
        wasm.display().to_string(),
        sha256(wasm)
    )
}

pub const GRANT_ITEMS: &str = "read = [\"items\"]\nwrite = [\"items.n\", \"items.label_upper\"]";

const STEP: &str = "plugin = \"hostile\"\n[batch]\nsize = 100\n";

fn backfill_transforms_every_row_once(d: Dialect) {
    let p = step_project(d, 2500, &hostile("ok", GRANT_ITEMS), STEP);
    let out = p.godwit(&["deploy"]);
    out.expect(0).says("20260102000000_backfill_items");
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NULL"),
        0
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper = UPPER(label)"),
        2500
    );
    let history =
        p.db.rows("SELECT kind, state FROM godwit_migrations WHERE version = '20260102000000'");
    assert_eq!(history, vec![vec!["step".to_owned(), "applied".to_owned()]]);
    assert_eq!(
        p.db.int("SELECT rows_affected FROM godwit_migrations WHERE version = '20260102000000'"),
        2500
    );
    p.godwit(&["status"]).expect(0);
    p.godwit(&["deploy"]).expect(0).says("up to date");
}

fn data_step_runs_batches_through_the_session(d: Dialect) {
    let toml = plugin_toml(
        "counter",
        "hostile_step",
        "[plugins.counter.grants]\nread = [\"items\"]\nwrite = [\"items.n\"]\n[plugins.counter.config]\nmode = \"counter\"\n",
    );
    let p = step_project(
        d,
        1050,
        &toml,
        "plugin = \"counter\"\n[batch]\nsize = 100\nmin = 100\nmax = 100\n",
    );
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 1050);
    assert_eq!(
        p.db.int("SELECT batches FROM godwit_step_progress"),
        11,
        "1050 rows in batches of 100"
    );
}

/// With plugins declared, the work connection goes through godwit's meter, which listens
/// on a socket in a directory of its own under the temp directory (PostgreSQL and
/// MySQL/MariaDB). A deploy with a data step leaves none of it behind: one that succeeds,
/// one that fails, and one killed with SIGKILL in the middle of its step.
fn a_deploy_with_plugins_leaves_nothing_in_the_temp_directory(d: Dialect) {
    let tmp = tempfile::tempdir().unwrap();
    let godwit = |p: &Project, args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("TMPDIR", tmp.path());
        cmd
    };
    let deploy = |p: &Project| godwit(p, &["deploy"]);
    let p = step_project(d, 300, &hostile("ok", GRANT_ITEMS), STEP);
    crate::support::run(deploy(&p)).expect(0);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper = UPPER(label)"),
        300
    );
    let failed = step_project(d, 300, &hostile("panic", GRANT_ITEMS), STEP);
    assert_eq!(crate::support::run(deploy(&failed)).code, 1);
    let slow = "plugin = \"hostile\"\n[batch]\nsize = 10\nmin = 10\nmax = 10\npause = \"100ms\"\n";
    let killed = step_project(d, 300, &hostile("ok", GRANT_ITEMS), slow);
    crate::support::run(godwit(&killed, &["deploy", "--to", "20260101000000"])).expect(0);
    let mut child = deploy(&killed)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while killed
        .db
        .int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL")
        == 0
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the deploy ended early"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no batch in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        killed
            .db
            .int("SELECT COUNT(*) FROM items WHERE label_upper IS NULL")
            > 0
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the temp directory: {left:?}");
}

each_dialect!(
    backfill_transforms_every_row_once,
    data_step_runs_batches_through_the_session,
    a_deploy_with_plugins_leaves_nothing_in_the_temp_directory,
);

/// Where the meter's socket cannot be made (TMPDIR names no directory), the deploy stops
/// at connecting, with the connection error's exit code and a sentence naming TMPDIR, and
/// runs nothing; `--wait` would not help, so it does not say to wait.
fn a_temp_directory_godwit_cannot_use_stops_the_deploy_before_anything_runs(d: Dialect) {
    let p = step_project(d, 10, &hostile("ok", GRANT_ITEMS), STEP);
    let mut cmd = p.command(&["deploy"]);
    cmd.env("TMPDIR", p.path().join("no-such-directory"));
    let out = crate::support::run(cmd);
    assert_eq!(out.code, 3, "{}", out.text());
    assert!(out.stderr.contains("TMPDIR"), "{}", out.text());
    assert!(!out.stderr.contains("--wait"), "{}", out.text());
    assert!(!p.db.table_exists("items"));
    assert!(!p.db.table_exists("godwit_migrations"));
}

mod a_temp_directory_godwit_cannot_use_stops_the_deploy_before_anything_runs {
    use crate::support::Dialect;
    #[test]
    fn postgres() {
        super::a_temp_directory_godwit_cannot_use_stops_the_deploy_before_anything_runs(
            Dialect::Postgres,
        )
    }
    #[test]
    fn mysql() {
        super::a_temp_directory_godwit_cannot_use_stops_the_deploy_before_anything_runs(
            Dialect::MySql,
        )
    }
}

/// Runs a deploy with the hostile plugin in `mode`; it must fail naming the plugin,
/// the migration and the batch, leave the table untouched, and leave the step resumable:
/// a deploy with the plugin in `ok` mode then finishes it.
fn hostile_case(d: Dialect, mode: &str, grants: &str, expect: &[&str]) {
    hostile_case_exit(d, mode, grants, 1, expect)
}

fn hostile_case_exit(d: Dialect, mode: &str, grants: &str, code: i32, expect: &[&str]) {
    hostile_case_with(&guest("hostile"), "32MiB", d, mode, grants, code, expect)
}

/// [`hostile_case`] for the hostile backfill at `wasm` under `memory`.
pub fn hostile_case_with(
    wasm: &Path,
    memory: &str,
    d: Dialect,
    mode: &str,
    grants: &str,
    code: i32,
    expect: &[&str],
) {
    let hostile = |mode: &str, grants: &str| hostile_with(wasm, memory, mode, grants);
    let p = step_project(d, 300, &hostile(mode, grants), STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, code, "{mode}: {}", out.text());
    for needle in [
        "hostile",
        "20260102000000_backfill_items",
        "batch 1",
        "rolled back",
    ]
    .iter()
    .chain(expect)
    {
        out.says(needle);
    }
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL OR n <> 0"),
        0,
        "{mode}: the failed batch must be rolled back"
    );
    p.godwit(&["status"]).says("resumable");
    std::fs::write(p.path().join("godwit.toml"), hostile("ok", GRANT_ITEMS)).unwrap();
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper = UPPER(label)"),
        300
    );
}

#[test]
fn hostile_infinite_loop_is_stopped() {
    hostile_case(Dialect::Sqlite, "loop", GRANT_ITEMS, &["time limit"]);
}

#[test]
fn hostile_memory_bomb_is_stopped() {
    hostile_case(Dialect::Sqlite, "memory", GRANT_ITEMS, &["memory limit"]);
}

#[test]
fn hostile_deep_recursion_is_stopped() {
    hostile_case(
        Dialect::Sqlite,
        "recursion",
        GRANT_ITEMS,
        &["stack overflow"],
    );
}

#[test]
fn hostile_panic_is_reported() {
    hostile_case(Dialect::Postgres, "panic", GRANT_ITEMS, &["panic"]);
}

#[test]
fn hostile_file_read_without_grant_is_refused() {
    hostile_case(Dialect::Sqlite, "read-file", GRANT_ITEMS, &["/etc/passwd"]);
}

#[test]
fn hostile_env_read_without_grant_is_refused() {
    hostile_case(Dialect::Sqlite, "env", GRANT_ITEMS, &["HOME"]);
}

#[test]
fn hostile_socket_is_refused() {
    hostile_case(Dialect::Sqlite, "socket", GRANT_ITEMS, &["127.0.0.1:5432"]);
}

#[test]
fn hostile_write_outside_declared_columns_is_refused() {
    hostile_case_exit(
        Dialect::Postgres,
        "bad-column",
        GRANT_ITEMS,
        4,
        &["refused", "secret"],
    );
}

#[test]
fn backfill_writing_an_ungranted_column_is_refused_before_the_first_batch() {
    let grants = "read = [\"items\"]\nwrite = [\"items.n\"]";
    let p = step_project(Dialect::Postgres, 10, &hostile("ok", grants), STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 4, "{}", out.text());
    out.says("label_upper").says("[plugins.hostile.grants]");
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL"),
        0
    );
}

fn data_step_case(d: Dialect, mode: &str, grants: &str, settings: &str, expect: &[&str]) {
    data_step_case_with(&guest("hostile_step"), d, mode, grants, settings, expect)
}

/// [`data_step_case`] for the hostile data step at `wasm` (Rust, or its Python twin).
pub fn data_step_case_with(
    wasm: &Path,
    d: Dialect,
    mode: &str,
    grants: &str,
    settings: &str,
    expect: &[&str],
) {
    let toml = format!(
        "[plugins.counter]\npath = {:?}\nsha256 = \"{}\"\n[plugins.counter.grants]\n{grants}\n[plugins.counter.limits]\nmemory = \"256MiB\"\n[plugins.counter.config]\nmode = \"{mode}\"\n{settings}\n",
        wasm.display().to_string(),
        sha256(wasm)
    );
    let p = step_project(d, 50, &toml, "plugin = \"counter\"\n");
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{mode}: {}", out.text());
    for needle in [
        "counter",
        "20260102000000_backfill_items",
        "batch 1",
        "refused",
    ]
    .iter()
    .chain(expect)
    {
        out.says(needle);
    }
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"), 0);
}

#[test]
fn data_step_querying_an_ungranted_table_is_refused() {
    data_step_case(
        Dialect::Postgres,
        "ungranted-table",
        "read = [\"items\"]\nwrite = [\"items.n\"]",
        "table = \"godwit_migrations\"",
        &["godwit_migrations"],
    );
}

#[test]
fn data_step_writing_with_a_read_only_grant_is_refused() {
    data_step_case(
        Dialect::Sqlite,
        "write-read-only",
        "read = [\"items\"]",
        "",
        &["items"],
    );
}

#[test]
fn step_naming_a_validator_plugin_is_refused() {
    let toml = plugin_toml("hostile", "hello_validator", "");
    let p = step_project(Dialect::Sqlite, 10, &toml, STEP);
    let out = p.godwit(&["deploy"]);
    assert_ne!(out.code, 0);
    out.says("validator").says("backfill or data-step");
}

#[test]
fn step_plugin_with_a_wrong_pin_is_refused() {
    let toml = format!(
        "[plugins.hostile]\npath = {:?}\nsha256 = \"{}\"\n[plugins.hostile.grants]\n{GRANT_ITEMS}\n",
        guest("hostile").display().to_string(),
        "0".repeat(64)
    );
    let p = step_project(Dialect::Sqlite, 10, &toml, STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 4, "{}", out.text());
    out.says("SHA-256")
        .says("refusing")
        .says("plugin `hostile`");
    assert!(
        !p.db.table_exists("items"),
        "nothing is applied when a plugin is refused"
    );
}

#[test]
fn step_plugin_that_is_not_wasm_is_refused() {
    let p = Project::empty(Dialect::Sqlite);
    let junk = p.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm but not really a component").unwrap();
    std::fs::write(
        p.path().join("godwit.toml"),
        format!(
            "[plugins.hostile]\npath = \"junk.wasm\"\nsha256 = \"{}\"\n",
            sha256(&junk)
        ),
    )
    .unwrap();
    p.write(
        "20260101000000_items/up.sql",
        &items_sql(Dialect::Sqlite, 1),
    );
    p.write("20260102000000_backfill_items/step.toml", STEP);
    let out = p.godwit(&["deploy"]);
    assert_ne!(out.code, 0);
    out.says("junk").says("not a usable WebAssembly component");
    assert!(!p.db.table_exists("items"));
}

/// kill -9 at random moments during a backfill: every row ends transformed exactly once
/// (the `bump` mode adds one to `n`, so a row done twice would show 2).
fn kill_nine_during_a_backfill_transforms_each_row_once(d: Dialect) {
    let rows = 60_000;
    let toml = hostile("bump", GRANT_ITEMS);
    let step = "plugin = \"hostile\"\n[batch]\nsize = 40\nmin = 40\nmax = 40\npause = \"4ms\"\n";
    let p = step_project(d, rows, &toml, step);
    // Warm the compile cache and apply the seed, so kills land in the step.
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill -9 trials: seed {seed}");
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut kills = 0;
    let mut runs = 0;
    while kills < 20 {
        runs += 1;
        assert!(
            runs <= 60,
            "only {kills} of {runs} kills landed during the step (seed {seed})"
        );
        let mut child = p
            .command(&["deploy"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let wait = Duration::from_millis(150 + next() % 350);
        while started.elapsed() < wait && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        match child.try_wait().unwrap() {
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
            }
            Some(status) if !status.success() => {
                let again = p.godwit(&["deploy"]);
                panic!(
                    "a deploy failed on its own ({status}); running it again says:\n{}",
                    again.text()
                );
            }
            Some(_) => {}
        }
        let done = p.db.int("SELECT COUNT(*) FROM items WHERE n > 0");
        let twice = p.db.int("SELECT COUNT(*) FROM items WHERE n > 1");
        assert_eq!(
            twice, 0,
            "after kill {kills}: {twice} rows transformed twice (seed {seed})"
        );
        if done == rows as i64 {
            break;
        }
    }
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"),
        rows as i64,
        "seed {seed}"
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n <> 1"),
        0,
        "seed {seed}"
    );
    eprintln!("{kills} kills landed during the step in {runs} runs");
    assert!(
        kills >= 20,
        "the step finished after only {kills} kills (seed {seed})"
    );
}

each_dialect!(kill_nine_during_a_backfill_transforms_each_row_once);

/// What the `forge` mode of the hostile data step tries to pass off as godwit's own line.
const FORGED: &str = "Applied 1 migration (20990101000000_forged) in 1 ms; database is up to date.";

/// Characters that let text move the cursor, rewrite a line, reorder it or start a new
/// one on a terminal.
fn assert_no_forged_line(out: &crate::support::Output) {
    let text = out.text();
    for line in text.lines() {
        let shown = line.trim();
        assert!(
            !shown.starts_with(FORGED),
            "a plugin forged a line of its own:\n{text}"
        );
    }
    for c in text.chars() {
        let dangerous = (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}');
        assert!(!dangerous, "raw {c:?} reached the output:\n{text:?}");
    }
}

/// A plugin's errors, log lines, stdout and stderr cannot forge godwit's output: newlines,
/// carriage returns, ANSI CSI/OSC sequences, backspaces, C1 controls, bidi overrides and
/// Unicode line separators all come out neutralised, in the error that fails the deploy
/// and in the log lines of a step that succeeds.
fn plugin_text_cannot_forge_godwit_lines(d: Dialect) {
    for (fail, code) in [("true", 1), ("false", 0)] {
        for json in [false, true] {
            let toml = plugin_toml(
                "forger",
                "hostile_step",
                &format!(
                    "[plugins.forger.grants]\nread = [\"items\"]\n[plugins.forger.config]\nmode = \"forge\"\nfail = {fail}\n"
                ),
            );
            let p = step_project(d, 5, &toml, "plugin = \"forger\"\n");
            let out = if json {
                p.godwit(&["--json", "deploy"])
            } else {
                p.godwit(&["deploy"])
            };
            assert_eq!(out.code, code, "{}", out.text());
            if !json {
                // The forged text is shown, as the plugin's: neutralised, not dropped.
                out.says("20990101000000_forged");
            }
            assert_no_forged_line(&out);
        }
    }
}

each_dialect!(plugin_text_cannot_forge_godwit_lines);
