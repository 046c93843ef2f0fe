//! Issue 11, findings 7–10: every plugin call is bounded — in time (statement timeouts,
//! server-side cancellation), in host memory (capped results), by limits only the operator
//! can raise — and a data step must make progress and report counts that fit.

use crate::each_dialect;
use crate::steps::{guest, sha256, step_project};
use crate::support::Dialect;

/// godwit.toml with the hostile data step as `counter`, granted `items`, in `mode` with
/// `settings` (TOML lines) in its config and `limits` (TOML lines) as its limits.
fn hostile_step(mode: &str, settings: &str, limits: &str) -> String {
    let wasm = guest("hostile_step");
    format!(
        "[plugins.counter]\npath = {:?}\nsha256 = \"{}\"\n[plugins.counter.grants]\nread = [\"items\"]\nwrite = [\"items.n\"]\n[plugins.counter.limits]\n{limits}\n[plugins.counter.config]\nmode = \"{mode}\"\n{settings}\n",
        wasm.display().to_string(),
        sha256(&wasm)
    )
}

const STEP: &str = "plugin = \"counter\"\n[batch]\nsize = 10\n";
const STEP_VERSION: &str = "20260102000000";

/// The step's history row: its state and the rows it recorded (NULL as "NULL").
fn step_history(p: &crate::support::Project) -> Vec<Vec<String>> {
    p.db.rows(&format!(
        "SELECT state, rows_affected FROM godwit_migrations WHERE version = '{STEP_VERSION}'"
    ))
}

// Finding 10: a data step must make progress.

fn data_step_that_never_moves_is_stopped(d: Dialect) {
    let p = step_project(d, 5, &hostile_step("stall", "", ""), STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    out.says("counter").says(STEP_VERSION);
    let history = step_history(&p);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_ne!(history[0][0], "applied", "{history:?}");
    // The idle batches before the bound may be committed; never more than the bound.
    let batches =
        p.db.int("SELECT COALESCE(MAX(batches), 0) FROM godwit_step_progress");
    assert!(
        batches < i64::from(godwit::step::MAX_IDLE_BATCHES),
        "{batches} idle batches committed"
    );
    // The lock was released: a deploy after it gets as far as the same step.
    assert_eq!(p.godwit(&["deploy"]).code, 1);
}

/// A plugin claiming `rows` rows a batch for `batches` batches: the deploy fails, and no
/// count that does not fit (negative once cast) ever reaches history or the checkpoint.
fn absurd_count(d: Dialect, rows: &str, batches: u32) {
    let settings = format!("rows = \"{rows}\"\nbatches = \"{batches}\"");
    let p = step_project(d, 5, &hostile_step("rows", &settings, ""), STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "rows = {rows}: {}", out.text());
    out.says("counter").says(STEP_VERSION);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM godwit_migrations WHERE rows_affected < 0 OR state = 'applied' AND version = '20260102000000'"),
        0,
        "rows = {rows}: {:?}",
        step_history(&p)
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM godwit_step_progress WHERE rows_done < 0"),
        0,
        "rows = {rows}"
    );
}

fn data_step_row_count_of_u64_max_is_refused(d: Dialect) {
    absurd_count(d, &u64::MAX.to_string(), 1);
}

each_dialect!(
    data_step_that_never_moves_is_stopped,
    data_step_row_count_of_u64_max_is_refused,
);

#[test]
fn data_step_row_count_that_would_record_minus_three_is_refused() {
    absurd_count(Dialect::Sqlite, &(u64::MAX - 2).to_string(), 1);
    absurd_count(Dialect::Postgres, &(i64::MAX as u64 + 1).to_string(), 1);
}

#[test]
fn data_step_row_counts_that_overflow_together_are_refused() {
    // Each batch's count fits; their sum does not.
    absurd_count(Dialect::Sqlite, &(i64::MAX as u64 / 2 + 1).to_string(), 3);
}

#[test]
fn data_step_that_idles_a_few_batches_then_moves_is_not_stopped() {
    // `rows = 0` with a moving cursor is progress however long it lasts.
    let settings = format!(
        "rows = \"0\"\nbatches = \"{}\"",
        godwit::step::MAX_IDLE_BATCHES * 3
    );
    let p = step_project(
        Dialect::Sqlite,
        5,
        &hostile_step("rows", &settings, ""),
        STEP,
    );
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        step_history(&p),
        vec![vec!["applied".to_owned(), "0".to_owned()]]
    );
}

// Finding 9: limits come from the operator.

/// The hostile backfill's manifest, as a sidecar, with `limits` (TOML lines) as its
/// `[limits]`.
fn hostile_manifest(limits: &str) -> String {
    format!(
        "[plugin]\nname = \"hostile\"\nversion = \"0.1.0\"\nworld = \"backfill\"\napi = \"0.1\"\n[requests]\nread = [\"*\"]\nwrite = [\"*.*\"]\n[limits]\n{limits}\n"
    )
}

/// The real hostile backfill, its embedded manifest section renamed so that godwit does
/// not see it, written to `dir/hostile.wasm` with `manifest` as the sidecar
/// `dir/hostile.toml` (none if `None`). Returns the digests of both files.
fn hostile_with_sidecar(dir: &std::path::Path, manifest: Option<&str>) -> (String, String) {
    let mut bytes = std::fs::read(guest("hostile")).unwrap();
    let section = godwit::plugin::manifest::SECTION.as_bytes();
    let hidden = b"godwit-unpinned";
    assert_eq!(section.len(), hidden.len());
    let mut renamed = 0;
    for i in 0..bytes.len() - section.len() {
        if &bytes[i..i + section.len()] == section {
            bytes[i..i + section.len()].copy_from_slice(hidden);
            renamed += 1;
        }
    }
    assert!(renamed > 0, "the guest embeds its manifest");
    std::fs::create_dir_all(dir).unwrap();
    let wasm = dir.join("hostile.wasm");
    std::fs::write(&wasm, &bytes).unwrap();
    let toml = dir.join("hostile.toml");
    match manifest {
        Some(text) => std::fs::write(&toml, text).unwrap(),
        None => {
            let _ = std::fs::remove_file(&toml);
        }
    }
    let manifest_digest = if toml.exists() {
        sha256(&toml)
    } else {
        String::new()
    };
    (sha256(&wasm), manifest_digest)
}

/// Grants, operator limits (`limits`, TOML lines) and config of `[plugins.hostile]` in
/// `mode`, to follow its `path`/pins.
fn hostile_tables(mode: &str, limits: &str) -> String {
    format!(
        "[plugins.hostile.grants]\nread = [\"items\"]\nwrite = [\"items.n\", \"items.label_upper\"]\n[plugins.hostile.limits]\n{limits}\n[plugins.hostile.config]\nmode = \"{mode}\"\ntable = \"items\"\nkey = \"id\"\nreads = \"label\"\nwrites = \"label_upper\"\nfrom = \"label\"\nto = \"label_upper\"\n"
    )
}

/// A project whose `hostile` backfill has its manifest in a pinned sidecar.
fn sidecar_project(
    d: Dialect,
    manifest: &str,
    mode: &str,
    limits: &str,
) -> crate::support::Project {
    let p = step_project(d, 5, "", "plugin = \"hostile\"\n[batch]\nsize = 10\n");
    let (wasm, toml) = hostile_with_sidecar(&p.path().join("plugins"), Some(manifest));
    std::fs::write(
        p.path().join("godwit.toml"),
        format!(
            "[plugins.hostile]\npath = \"plugins/hostile.wasm\"\nsha256 = \"{wasm}\"\nmanifest_sha256 = \"{toml}\"\n{}",
            hostile_tables(mode, limits)
        ),
    )
    .unwrap();
    p
}

/// Nothing ran: not even the migration before the step.
fn nothing_applied(p: &crate::support::Project) {
    assert!(!p.db.table_exists("items"), "a migration ran");
}

#[test]
fn plugin_limits_in_godwit_toml_that_no_call_can_run_under_are_configuration_errors() {
    for limits in [
        "timeout = \"400000000000years\"",
        "timeout = \"600000000000years\"",
        "timeout = \"1000h\"",
        "timeout = \"0\"",
        "memory = \"4GiB\"",
    ] {
        let p = step_project(Dialect::Sqlite, 5, &hostile_step("stall", "", limits), STEP);
        let out = p.godwit(&["deploy"]);
        assert_eq!(out.code, 2, "{limits}: {}", out.text());
        nothing_applied(&p);
        // The same for a command that only loads the plugin.
        assert_eq!(
            p.godwit(&["plugin", "check", "counter"]).code,
            2,
            "{limits}"
        );
    }
}

#[test]
fn absurd_durations_in_a_manifest_are_configuration_errors() {
    for timeout in ["400000000000years", "18446744073709551615s", "1000000years"] {
        let manifest = hostile_manifest(&format!("timeout = \"{timeout}\""));
        let p = sidecar_project(Dialect::Sqlite, &manifest, "ok", "");
        let out = p.godwit(&["deploy"]);
        assert_eq!(out.code, 2, "{timeout}: {}", out.text());
        nothing_applied(&p);
    }
}

/// A plugin that never returns, whose manifest asks for 1000 hours and a gibibyte, under an
/// operator who allows one second: it is stopped at the operator's limit, the batch rolled
/// back, the lock released.
fn manifest_cannot_give_a_spinning_plugin_more_time(d: Dialect) {
    let manifest = hostile_manifest("timeout = \"1000h\"\nmemory = \"1GiB\"");
    let p = sidecar_project(d, &manifest, "loop", "timeout = \"1s\"");
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL"),
        0
    );
    assert_eq!(
        p.db.int(&format!(
            "SELECT COUNT(*) FROM godwit_migrations WHERE version = '{STEP_VERSION}' AND state = 'applied'"
        )),
        0
    );
    assert_eq!(p.godwit(&["deploy"]).code, 1, "the lock was released");
}

each_dialect!(manifest_cannot_give_a_spinning_plugin_more_time);

#[test]
fn manifest_cannot_give_a_plugin_more_memory() {
    let manifest = hostile_manifest("memory = \"1GiB\"\ntimeout = \"60s\"");
    let p = sidecar_project(
        Dialect::Sqlite,
        &manifest,
        "memory",
        "memory = \"16MiB\"\ntimeout = \"60s\"",
    );
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL"),
        0
    );
}

#[test]
fn sidecar_manifest_changed_after_pinning_is_refused() {
    let p = step_project(
        Dialect::Sqlite,
        5,
        "",
        "plugin = \"hostile\"\n[batch]\nsize = 10\n",
    );
    let staging = tempfile::tempdir().unwrap();
    let reviewed = hostile_manifest("timeout = \"30s\"");
    hostile_with_sidecar(staging.path(), Some(&reviewed));
    let wasm = staging.path().join("hostile.wasm");
    p.godwit(&["plugin", "add", wasm.to_str().unwrap()])
        .expect(0);
    let config = p.path().join("godwit.toml");
    let declared = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{declared}\n{}", hostile_tables("ok", ""))).unwrap();
    let sidecar = p.path().join("plugins/hostile.toml");
    assert_eq!(std::fs::read_to_string(&sidecar).unwrap(), reviewed);

    for (what, change) in [
        (
            "asks for more",
            Some(reviewed.replace("read = [\"*\"]", "read = [\"*\"]\nenv = [\"HOME\"]")),
        ),
        ("a byte added", Some(format!("{reviewed}\n"))),
        ("removed", None),
    ] {
        match &change {
            Some(text) => std::fs::write(&sidecar, text).unwrap(),
            None => std::fs::remove_file(&sidecar).unwrap(),
        }
        let out = p.godwit(&["deploy"]);
        assert_eq!(out.code, 4, "{what}: {}", out.text());
        nothing_applied(&p);
    }

    // A sidecar beside a plugin pinned without one.
    std::fs::write(&sidecar, &reviewed).unwrap();
    let pinned_code_only = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("manifest_sha256"))
        .collect::<Vec<_>>()
        .join("\n");
    let lock = p.path().join("godwit.lock");
    let locked = std::fs::read_to_string(&lock).unwrap();
    assert!(locked.contains("manifest_sha256"), "{locked}");
    std::fs::write(
        &lock,
        locked
            .lines()
            .filter(|l| !l.starts_with("manifest_sha256"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    std::fs::write(&config, &pinned_code_only).unwrap();
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 4, "{}", out.text());
    nothing_applied(&p);

    // Restored as reviewed and pinned again, it runs.
    std::fs::write(&lock, &locked).unwrap();
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL"),
        5
    );
}

// Finding 8: host memory is bounded while a result streams into a plugin.

/// The largest resident set of any godwit this test process ran and waited for, in bytes.
fn peak_child_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    u64::try_from(usage.ru_maxrss).unwrap() * 1024
}

/// How many rows of a megabyte each the hostile query returns: 512 MiB in all.
const BIG_ROWS: u64 = 512;

/// A query over the granted table whose result is `rows` rows of a mebibyte.
fn big_result(d: Dialect, rows: u64) -> String {
    match d {
        // No lpad in SQLite: a mebibyte by doubling a string seventeen times, then the
        // same string for each further row.
        Dialect::Sqlite => format!(
            "WITH RECURSIVE s(k, t) AS (SELECT 0, 'xxxxxxxx' UNION ALL SELECT k + 1, CASE WHEN k < 17 THEN t || t ELSE t END FROM s WHERE k < {}) \
             SELECT t AS x FROM s, items WHERE s.k >= 17 AND items.id = 1",
            17 + rows
        ),
        Dialect::Postgres | Dialect::MySql => format!(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < {rows}) \
             SELECT lpad('x', 1048576, 'x') AS x FROM r, items WHERE items.id = 1"
        ),
    }
}

/// A data step that queries half a gibibyte under a 16 MiB memory limit: the plugin gets
/// an error instead of the rows, the batch fails and rolls back, and godwit's own memory
/// stays far below the result's size.
fn big_result_does_not_reach_host_memory(d: Dialect) {
    let cap = 16u64 << 20;
    let settings = format!("sql = \"{}\"", big_result(d, BIG_ROWS));
    let p = step_project(
        d,
        5,
        &hostile_step("query", &settings, "memory = \"16MiB\"\ntimeout = \"60s\""),
        STEP,
    );
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"),
        0,
        "nothing written"
    );
    assert_eq!(
        p.db.int(&format!(
            "SELECT COUNT(*) FROM godwit_migrations WHERE version = '{STEP_VERSION}' AND state = 'applied'"
        )),
        0
    );
    let peak = peak_child_rss();
    let result = BIG_ROWS << 20;
    // The engine and its reservations are godwit's floor; what a result may add is a
    // small multiple of the cap (decoded rows, the copy handed on), never the result.
    let bound = (160 << 20) + 4 * cap;
    eprintln!(
        "peak RSS of godwit: {} MiB (bound {} MiB, result {} MiB)",
        peak >> 20,
        bound >> 20,
        result >> 20
    );
    assert!(peak < bound, "godwit peaked at {} MiB", peak >> 20);
}

each_dialect!(big_result_does_not_reach_host_memory);

/// A data step that swallows the host's "result too large" error and writes anyway: what
/// it writes rests on rows it never saw, so the batch is rolled back and the deploy fails,
/// whatever the plugin returns. The control, the same step with a query that fits, is
/// applied.
fn data_step_that_ignores_a_too_large_result_is_rolled_back(d: Dialect) {
    let step = |sql: &str| {
        let settings = format!("sql = \"{sql}\"\nwrite = \"UPDATE items SET n = n + 1\"");
        step_project(
            d,
            5,
            &hostile_step(
                "query-then-execute",
                &settings,
                "memory = \"16MiB\"\ntimeout = \"60s\"",
            ),
            STEP,
        )
    };
    let control = step("SELECT id FROM items");
    control.godwit(&["deploy"]).expect(0);
    assert_eq!(control.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 5);

    // 32 rows of a mebibyte: twice what a 16 MiB plugin is handed.
    let p = step(&big_result(d, 32));
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"),
        0,
        "the batch was committed:\n{}",
        out.text()
    );
    let history = step_history(&p);
    assert!(history.iter().all(|row| row[0] != "applied"), "{history:?}");
}

each_dialect!(data_step_that_ignores_a_too_large_result_is_rolled_back);

/// A validator that swallows the "result too large" error and finds nothing has not
/// checked the database: the deploy is blocked, as for any validator without an answer.
/// The control, a query that fits, lets the deploy through.
fn validator_that_ignores_a_too_large_result_blocks_the_deploy(d: Dialect) {
    let p = step_project(d, 5, "", "");
    std::fs::remove_dir_all(p.migrations().join("20260102000000_backfill_items")).unwrap();
    // The validator reads `items`: first the table.
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260102000000_create_sooner/up.sql",
        "CREATE TABLE sooner (id BIGINT PRIMARY KEY);\n",
    );
    let validator = |sql: &str| {
        let extra = format!(
            "[plugins.probe.grants]\nread = [\"items\"]\n\
             [plugins.probe.limits]\nmemory = \"16MiB\"\ntimeout = \"60s\"\n\
             [plugins.probe.config]\nignore_errors = true\nsql = \"{sql}\"\n"
        );
        let toml = crate::steps::plugin_toml("probe", "hostile-validator", &extra);
        std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
    };
    validator("SELECT id FROM items");
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260103000000_create_later/up.sql",
        "CREATE TABLE later (id BIGINT PRIMARY KEY);\n",
    );
    validator(&big_result(d, 32));
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 4, "{}", out.text());
    assert!(!p.db.table_exists("later"), "{}", out.text());
}

each_dialect!(validator_that_ignores_a_too_large_result_blocks_the_deploy);

// Finding 8, one field at a time: a row arrives whole, so a single huge value (or a row
// of many large ones) must be refused before it reaches godwit, not counted after.

/// A value of this many bytes in each attack: far above what the cap lets a plugin hold.
const HUGE: u64 = 256 << 20;

/// The ways a plugin can make the server hand godwit a huge row, each as (what, query):
/// a function, concatenation, an amplifying `replace`, an aggregate, many columns, and a
/// stored value ([`store_huge_label`] puts it in `items.label` of row 1).
fn huge_fields(d: Dialect) -> Vec<(&'static str, String)> {
    let columns = |value: &str, n: u64| {
        (1..=n)
            .map(|i| format!("{value} AS c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let stored = (STORED, "SELECT label FROM items WHERE id = 1".to_owned());
    match d {
        Dialect::Postgres => {
            let part = HUGE / 64;
            vec![
                (
                    "one function",
                    // lpad builds at most a quarter gigabyte (PostgreSQL's 1 GB over UTF-8's
                    // four bytes a character).
                    format!(
                        "SELECT lpad('x', {}, 'x') AS x FROM items WHERE id = 1",
                        HUGE - (1 << 20)
                    ),
                ),
                (
                    "concatenation",
                    format!(
                        "SELECT lpad('x', {h}, 'x') || rpad('y', {h}, 'y') AS x FROM items WHERE id = 1",
                        h = HUGE / 2
                    ),
                ),
                (
                    "replace",
                    format!(
                        "SELECT replace(replace(lpad('x', {}, 'x'), 'x', 'xxxxxxxxxxxxxxxx'), 'x', 'xxxxxxxxxxxxxxxx') AS x FROM items WHERE id = 1",
                        HUGE / 256
                    ),
                ),
                (
                    "an aggregate",
                    format!(
                        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 64) \
                         SELECT string_agg(lpad('x', {part}, 'x'), '') AS x FROM r, items WHERE items.id = 1"
                    ),
                ),
                (
                    "many columns",
                    format!(
                        "SELECT {} FROM items WHERE id = 1",
                        columns(&format!("lpad('x', {part}, 'x')"), 64)
                    ),
                ),
                stored,
            ]
        }
        Dialect::Sqlite => {
            // No lpad in SQLite: a string doubled k times in a recursive CTE.
            let doubled = |k: u32, rows: u32| {
                format!(
                    "WITH RECURSIVE s(k, t) AS (SELECT 0, 'x' UNION ALL SELECT k + 1, CASE WHEN k < {k} THEN t || t ELSE t END FROM s WHERE k < {}) ",
                    k + rows
                )
            };
            let huge = HUGE.trailing_zeros();
            let part = huge - 6;
            vec![
                (
                    "concatenation",
                    format!(
                        "{}SELECT t AS x FROM s, items WHERE s.k = {huge} AND items.id = 1",
                        doubled(huge, 0)
                    ),
                ),
                (
                    "replace",
                    format!(
                        "{}SELECT replace(replace(t, 'x', 'xxxxxxxxxxxxxxxx'), 'x', 'xxxxxxxxxxxxxxxx') AS x FROM s, items WHERE s.k = {} AND items.id = 1",
                        doubled(huge - 8, 0),
                        huge - 8
                    ),
                ),
                (
                    "an aggregate",
                    format!(
                        "{}SELECT group_concat(t, '') AS x FROM s, items WHERE s.k >= {part} AND s.k < {} AND items.id = 1",
                        doubled(part, 64),
                        part + 64
                    ),
                ),
                (
                    "many columns",
                    format!(
                        "{}SELECT {} FROM s, items WHERE s.k = {part} AND items.id = 1",
                        doubled(part, 0),
                        columns("t", 64)
                    ),
                ),
                stored,
            ]
        }
        // The server builds no value over max_allowed_packet (16 MiB here, see
        // mysql_builds_no_value_over_max_allowed_packet), so each attack is a row of many
        // values under it. Nothing on the server measures the row: godwit's meter does.
        Dialect::MySql => {
            let part = HUGE / 64;
            let mut small = vec![format!("lpad('x', {}, 'x') AS c1", 1 << 20)];
            small.extend((2..=64).map(|i| format!("'' AS c{i}")));
            vec![
                (
                    "many columns",
                    format!(
                        "SELECT {} FROM items WHERE id = 1",
                        columns(&format!("lpad('x', {part}, 'x')"), 64)
                    ),
                ),
                (
                    // Rows of 1 MiB pass the cap at the 17th; the host stops reading
                    // there, and the huge row comes after: sqlx still reads the rest of
                    // the result, which must not bring the huge row in whole.
                    "a huge row after the cap",
                    format!(
                        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 20) \
                         SELECT {} FROM r, items WHERE items.id = 1 \
                         UNION ALL SELECT {} FROM items WHERE id = 1",
                        small.join(", "),
                        columns(&format!("lpad('x', {part}, 'x')"), 64)
                    ),
                ),
                (
                    STORED,
                    format!("SELECT {} FROM items WHERE id = 1", columns("label", 64)),
                ),
            ]
        }
    }
}

const STORED: &str = "a stored value";

/// Puts a [`HUGE`] value in `items.label` of row 1, written by the server (PostgreSQL) or
/// this test process (SQLite: a blob in the text column), never by godwit.
fn store_huge_label(p: &crate::support::Project, d: Dialect) {
    match d {
        Dialect::Postgres => p.db.exec(&format!(
            "UPDATE items SET label = lpad('x', {h}, 'x') || lpad('x', {h}, 'x') WHERE id = 1",
            h = HUGE / 2
        )),
        // A zeroblob is written without being built in memory, so this process stays
        // small: a child forked from it would start with its resident set counted.
        Dialect::Sqlite => p.db.exec(&format!(
            "UPDATE items SET label = zeroblob({HUGE}) WHERE id = 1"
        )),
        // A value no larger than max_allowed_packet, which the query selects 64 times.
        Dialect::MySql => {
            p.db.exec("ALTER TABLE items MODIFY label LONGTEXT NOT NULL");
            p.db.exec(&format!(
                "UPDATE items SET label = lpad('x', {}, 'x') WHERE id = 1",
                HUGE / 64
            ));
        }
    }
}

/// A data step asks for one huge field, in every way there is, under a 16 MiB memory
/// limit: each time the plugin gets the host's "too large" error naming its cap, the batch
/// is rolled back, and godwit's peak memory grows, next to a step whose query fits, by a
/// small multiple of the cap, never by the value.
fn huge_field_does_not_reach_host_memory(d: Dialect) {
    let cap = 16u64 << 20;
    let limits = "memory = \"16MiB\"\ntimeout = \"120s\"";
    let project = |sql: &str| {
        let settings = format!("sql = \"{sql}\"");
        step_project(d, 5, &hostile_step("query", &settings, limits), STEP)
    };
    // The control: the same step and a query that fits. The hostile step reports what it
    // read as an error, so it fails too, with the rows it was handed.
    let control = project("SELECT label FROM items WHERE id = 2");
    let out = control.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert!(out.text().contains("read 1 rows"), "{}", out.text());
    let floor = peak_child_rss();

    for (what, sql) in huge_fields(d) {
        let p = project(&sql);
        if what == STORED {
            p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
            store_huge_label(&p, d);
        }
        let out = p.godwit(&["deploy"]);
        assert_eq!(out.code, 1, "{what}: {}", out.text());
        // The plugin was handed the host's error, which names the cap it passed, and
        // not the value or a database error.
        assert!(
            out.text().contains(&format!("{cap} bytes")),
            "{what}: {}",
            out.text()
        );
        assert!(
            !out.text().contains("read 1 rows"),
            "{what}: {}",
            out.text()
        );
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"),
            0,
            "{what}"
        );
        let history = step_history(&p);
        assert!(
            history.iter().all(|row| row[0] != "applied"),
            "{what}: {history:?}"
        );
        eprintln!(
            "{what}: godwit's peak so far {} MiB",
            peak_child_rss() >> 20
        );
    }
    let peak = peak_child_rss();
    eprintln!(
        "peak RSS of godwit: {} MiB with a query that fits, {} MiB with every huge field ({} MiB each)",
        floor >> 20,
        peak >> 20,
        HUGE >> 20
    );
    // Rows in flight and their decoded copies: a few times the cap, far below the value.
    assert!(
        peak < floor + 6 * cap,
        "godwit peaked at {} MiB, {} MiB above the control",
        peak >> 20,
        (peak - floor) >> 20
    );
}

mod huge_field_does_not_reach_host_memory {
    #[test]
    fn postgres() {
        super::huge_field_does_not_reach_host_memory(crate::support::Dialect::Postgres)
    }
    #[test]
    fn sqlite() {
        super::huge_field_does_not_reach_host_memory(crate::support::Dialect::Sqlite)
    }
    #[test]
    fn mysql() {
        super::huge_field_does_not_reach_host_memory(crate::support::Dialect::MySql)
    }
}

/// A PostgreSQL error quotes what failed: a cast of a huge string makes a huge message,
/// which the server sends whole. The plugin gets the error's class as always, godwit's
/// log the start of the message, and godwit's memory never holds the rest.
#[test]
fn huge_error_does_not_reach_host_memory() {
    let d = Dialect::Postgres;
    let cap = 16u64 << 20;
    let limits = "memory = \"16MiB\"\ntimeout = \"120s\"";
    let run = |sql: &str| {
        let settings = format!("sql = \"{sql}\"");
        let p = step_project(d, 5, &hostile_step("query", &settings, limits), STEP);
        let out = p.godwit(&["deploy"]);
        assert_eq!(out.code, 1, "{}", out.text());
        assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"), 0);
        out
    };
    // The control fails as small: the same cast of a short string.
    let control = run("SELECT lpad('x', 1000, 'x')::int AS x FROM items WHERE id = 1");
    assert!(
        !control.text().contains("read 1 rows"),
        "{}",
        control.text()
    );
    let floor = peak_child_rss();
    for huge in [HUGE / 2, HUGE - (1 << 20)] {
        let out = run(&format!(
            "SELECT lpad('x', {huge}, 'x')::int AS x FROM items WHERE id = 1"
        ));
        assert!(
            !out.text().contains("read 1 rows"),
            "{}",
            &out.text()[..4096.min(out.text().len())]
        );
        assert!(
            out.stdout.len() + out.stderr.len() < 1 << 20,
            "godwit printed {} bytes",
            out.stdout.len() + out.stderr.len()
        );
    }
    let peak = peak_child_rss();
    eprintln!(
        "peak RSS of godwit: {} MiB with a short error, {} MiB with errors of {} and {} MiB",
        floor >> 20,
        peak >> 20,
        HUGE >> 21,
        (HUGE >> 20) - 1
    );
    assert!(
        peak < floor + 2 * cap,
        "godwit peaked at {} MiB, {} MiB above the control",
        peak >> 20,
        (peak - floor) >> 20
    );
}

/// No function builds a value over `max_allowed_packet` on MySQL/MariaDB (it returns
/// NULL), next to a control under it: what keeps each single value small there, while
/// godwit's meter bounds the row (see `huge_field_does_not_reach_host_memory::mysql`).
#[test]
fn mysql_builds_no_value_over_max_allowed_packet() {
    let d = Dialect::MySql;
    let limits = "memory = \"16MiB\"\ntimeout = \"120s\"";
    let run = |sql: &str| {
        let settings = format!("sql = \"{sql}\"");
        let p = step_project(d, 5, &hostile_step("query", &settings, limits), STEP);
        let out = p.godwit(&["deploy"]);
        assert_eq!(out.code, 1, "{}", out.text());
        out.text()
    };
    // The hostile step fails with what it read.
    let control = run("SELECT length(lpad('x', 1000, 'x')) AS x FROM items WHERE id = 1");
    assert!(control.contains("x=Value::Int(1000)"), "{control}");
    let huge = run(&format!(
        "SELECT lpad('x', {HUGE}, 'x') AS x FROM items WHERE id = 1"
    ));
    assert!(huge.contains("read 1 rows"), "{huge}");
    assert!(huge.contains("x=Value::Null"), "{huge}");
}
