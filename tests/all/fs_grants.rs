//! Issue 11, findings 14 and 16: what a plugin can do with the files it was granted.
//!
//! Finding 14: a hostile backfill (`tests/guests/hostile`, mode `fs`) plants symbolic
//! links in its `dir` — relative, absolute, chained, to a directory, nested, in place of a
//! file another plugin appends to — and godwit must leave none behind, fail the step, and
//! let nothing outside be read or written.
//!
//! Finding 16: the `append` grant hands a plugin one file (the GitHub job summary) and
//! none of its neighbours (`GITHUB_ENV`, `GITHUB_PATH`), and lets it only append.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use godwit::Dialect;

use crate::steps::{guest, hostile_with, step_project};
use crate::support::{Project, run};

const STEP: &str = "plugin = \"hostile\"\n[batch]\nsize = 100\n";
const SECRET: &str = "outside the grant\n";

/// A SQLite project whose backfill is the hostile plugin in mode `fs`, running `ops`, granted
/// `dir = "work"`, with `extra` appended to godwit.toml; `outside/secret` sits beside `work`.
fn project(ops: &str, extra: &str) -> Project {
    project_granted("dir = \"work\"", ops, extra)
}

/// [`project`] with `files` as the filesystem grant.
fn project_granted(files: &str, ops: &str, extra: &str) -> Project {
    let mut toml = hostile_with(
        &guest("hostile"),
        "32MiB",
        "fs",
        &format!("read = [\"items\"]\nwrite = [\"items.label_upper\"]\n{files}"),
    );
    toml += &format!("fs = {ops:?}\n{extra}");
    let p = step_project(Dialect::Sqlite, 3, &toml, STEP);
    std::fs::create_dir_all(p.path().join("outside")).unwrap();
    std::fs::write(p.path().join("outside/secret"), SECRET).unwrap();
    p
}

/// Every symbolic link under `dir`, found without following any.
fn links_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            found.push(entry.path());
        } else if kind.is_dir() {
            found.extend(links_under(&entry.path()));
        }
    }
    found
}

/// The secret beside the grant is as it was: same bytes, no second name.
#[track_caller]
fn outside_untouched(p: &Project) {
    let secret = p.path().join("outside/secret");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), SECRET);
    assert_eq!(
        std::fs::metadata(&secret).unwrap().nlink(),
        1,
        "no hard link to it"
    );
    let names: Vec<_> = std::fs::read_dir(p.path().join("outside"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secret"], "nothing created beside it");
}

#[test]
fn no_symbolic_link_survives_a_call_and_the_step_fails() {
    let attacks = [
        ("relative", "symlink ../outside/secret /rel"),
        ("far relative", "symlink ../../../../../../etc/passwd /etc"),
        (
            "absolute",
            "symlink /etc/passwd /abs; symlink /work/x /abs2",
        ),
        (
            "chain",
            "symlink ../outside/secret /l1; symlink l1 /l2; symlink l2 /l3",
        ),
        ("to a directory", "symlink .. /up; symlink ../outside /out"),
        (
            "nested",
            "mkdir /a/b/c; symlink ../../../../outside/secret /a/b/c/deep",
        ),
        (
            "in place of a file",
            "write /report.txt ok; remove /report.txt; symlink ../outside/secret /report.txt",
        ),
        ("pointing inside", "write /f x; symlink f /inside"),
        (
            "renamed into a subdirectory",
            "mkdir /d; symlink ../outside/secret /d/l; rename /d /e",
        ),
    ];
    for (name, ops) in attacks {
        let p = project(ops, "");
        let out = p.godwit(&["deploy"]);
        let work = p.path().join("work");
        assert_eq!(
            links_under(&work),
            Vec::<PathBuf>::new(),
            "{name}: {}",
            out.text()
        );
        outside_untouched(&p);
        if name == "absolute" {
            // WASI refuses an absolute target outright: nothing was planted, the step ran.
            out.expect(0);
            continue;
        }
        out.expect(1);
        assert_ne!(
            p.db.rows("SELECT state FROM godwit_migrations WHERE version = '20260102000000'"),
            vec![vec!["applied".to_owned()]],
            "{name}"
        );
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL"),
            0,
            "{name}: the batch of a failed call is not written"
        );
    }
}

#[test]
fn a_hard_link_cannot_reach_outside_the_grant() {
    let p = project(
        "link /../outside/secret /hl; link ../outside/secret /hl2; write /f x; link /f /g",
        "",
    );
    // A hard link inside the grant joins two names the plugin could write anyway.
    p.godwit(&["deploy"]).expect(0);
    outside_untouched(&p);
    let work = p.path().join("work");
    assert!(!work.join("hl").exists() && !work.join("hl2").exists());
    assert_eq!(std::fs::metadata(work.join("g")).unwrap().nlink(), 2);
}

#[test]
fn a_link_left_by_an_interrupted_call_goes_before_the_next_load() {
    let p = project("write /f x", "");
    std::fs::create_dir_all(p.path().join("work/sub")).unwrap();
    std::os::unix::fs::symlink("../../outside/secret", p.path().join("work/sub/left")).unwrap();
    let out = p.godwit(&["deploy"]);
    out.expect(0);
    assert!(out.stderr.contains("sub/left"), "{}", out.stderr);
    assert_eq!(links_under(&p.path().join("work")), Vec::<PathBuf>::new());
    outside_untouched(&p);
}

#[test]
fn another_plugin_appending_in_the_same_directory_does_not_follow_a_planted_link() {
    // The audit log appends to /events.jsonl in the directory the hostile step shares; the
    // step swaps that file for a link to the secret. The notifier runs on its own thread,
    // so it may append before or after godwit removes the link: neither may reach outside.
    let audit = "[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = \"work\"\n[plugins.audit.config]\nfile = \"/events.jsonl\"\n";
    let p = project(
        "remove /events.jsonl; symlink ../outside/secret /events.jsonl",
        audit,
    );
    // The step fails once its link is planted (exit 1). Under load the notifier can
    // append between the step's remove and its symlink, so the plant itself fails ("File
    // exists") and the step goes on (exit 0). Either way nothing outside is reached.
    let out = p.godwit(&["deploy"]);
    assert!(matches!(out.code, 0 | 1), "{}", out.text());
    outside_untouched(&p);
    assert_eq!(links_under(&p.path().join("work")), Vec::<PathBuf>::new());
}

/// A GitHub runner's file-commands directory: the job summary and, beside it, the files
/// that change later steps of the job.
struct Runner {
    dir: tempfile::TempDir,
}

const PRIOR: &str = "prior step\n";
const NEIGHBOURS: [(&str, &str); 2] = [("GITHUB_ENV", "A=1\n"), ("GITHUB_PATH", "/usr/bin\n")];

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("step_summary"), PRIOR).unwrap();
        for (name, text) in NEIGHBOURS {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Runner { dir }
    }

    fn summary(&self) -> PathBuf {
        self.dir.path().join("step_summary")
    }

    /// The neighbours are as they were, and nothing new sits beside them.
    #[track_caller]
    fn neighbours_untouched(&self, what: &str) {
        for (name, text) in NEIGHBOURS {
            let path = self.dir.path().join(name);
            let meta = std::fs::symlink_metadata(&path).unwrap();
            assert!(meta.is_file() && meta.nlink() == 1, "{what}: {name}");
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                text,
                "{what}: {name}"
            );
        }
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["GITHUB_ENV", "GITHUB_PATH", "step_summary"],
            "{what}"
        );
        assert!(
            std::fs::symlink_metadata(self.summary()).unwrap().is_file(),
            "{what}: the summary is still a file"
        );
    }
}

#[test]
fn github_summary_appends_to_the_summary_it_is_granted_and_nothing_else() {
    let runner = Runner::new();
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    std::fs::write(
        p.path().join("godwit.toml"),
        "[plugins.github]\nbuiltin = \"github-summary\"\n[plugins.github.grants]\nenv = [\"GITHUB_STEP_SUMMARY\"]\nappend = [\"$GITHUB_STEP_SUMMARY\"]\n",
    )
    .unwrap();
    let mut cmd = p.command(&["deploy"]);
    cmd.env("GITHUB_STEP_SUMMARY", runner.summary());
    let out = run(cmd);
    out.expect(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let text = std::fs::read_to_string(runner.summary()).unwrap();
    assert!(
        text.starts_with(PRIOR),
        "appended after what was there: {text}"
    );
    assert!(text.contains("20260101000000"), "{text}");
    assert!(text.contains("**Result:** ✅"), "{text}");
    runner.neighbours_untouched("github-summary");
}

#[test]
fn a_plugin_granted_the_summary_cannot_touch_its_neighbours_or_rewrite_it() {
    let runner = Runner::new();
    let d = runner.dir.path().display().to_string();
    let s = runner.summary().display().to_string();
    // (attack, ops, whether the step may succeed)
    let attacks = [
        (
            "sibling by absolute path",
            format!("append {d}/GITHUB_ENV PWNED=1; write {d}/GITHUB_PATH /tmp/evil"),
            true,
        ),
        (
            "sibling through ..",
            format!(
                "append {s}/../GITHUB_ENV PWNED=1; append {d}/../{}/GITHUB_ENV PWNED=1",
                runner.dir.path().file_name().unwrap().to_string_lossy()
            ),
            true,
        ),
        (
            "root of the sandbox",
            "append /GITHUB_ENV PWNED=1; append GITHUB_ENV PWNED=1".to_owned(),
            true,
        ),
        (
            "summary swapped for a link",
            format!("remove {s}; symlink GITHUB_ENV {s}"),
            false,
        ),
        (
            "summary swapped for an escaping link",
            format!(
                "remove {s}; symlink ../{}/GITHUB_ENV {s}",
                runner.dir.path().file_name().unwrap().to_string_lossy()
            ),
            false,
        ),
        (
            "a link beside the summary",
            format!("symlink GITHUB_ENV {d}/GITHUB_ENV"),
            true,
        ),
        ("summary rewritten", format!("write {s} rewritten"), false),
        (
            "summary truncated to its first byte",
            format!("write {s} p"),
            false,
        ),
        (
            "summary renamed over a neighbour",
            format!("rename {s} {d}/GITHUB_ENV"),
            false,
        ),
        (
            "hard link to the summary",
            format!("link {s} {d}/GITHUB_ENV"),
            true,
        ),
    ];
    for (name, ops, may_succeed) in attacks {
        let p = project_granted("append = [\"$GITHUB_STEP_SUMMARY\"]", &ops, "");
        let mut cmd = p.command(&["deploy"]);
        cmd.env("GITHUB_STEP_SUMMARY", runner.summary());
        let out = run(cmd);
        runner.neighbours_untouched(name);
        assert_eq!(
            std::fs::read_to_string(runner.summary()).unwrap(),
            PRIOR,
            "{name}: the summary is unchanged"
        );
        assert_eq!(
            out.code,
            if may_succeed { 0 } else { 1 },
            "{name}: {}",
            out.text()
        );
        outside_untouched(&p);
    }
}

#[test]
fn an_append_grant_lets_a_plugin_append_and_nothing_more() {
    let runner = Runner::new();
    let s = runner.summary().display().to_string();
    let p = project_granted(
        "append = [\"$GITHUB_STEP_SUMMARY\"]",
        &format!("append {s} added"),
        "",
    );
    let mut cmd = p.command(&["deploy"]);
    cmd.env("GITHUB_STEP_SUMMARY", runner.summary());
    run(cmd).expect(0);
    let text = std::fs::read_to_string(runner.summary()).unwrap();
    let added = text.strip_prefix(PRIOR).expect("what was there is kept");
    assert!(
        !added.is_empty() && added.replace("added", "").is_empty(),
        "only what the plugin appended, once per call: {text:?}"
    );
    runner.neighbours_untouched("append");
}

#[test]
fn nested_directory_grants_of_two_plugins_are_refused_before_anything_runs() {
    let audit = |dir: &str| {
        format!(
            "[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = \"{dir}\"\n"
        )
    };
    // The step's `work` inside the notifier's grant, and the other way round.
    // `godwit plugin run` hands a plugin the grants a deploy would, so it refuses the same.
    let plugin_run = |p: &Project| {
        let event = p.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"run-started": {"operation": "deploy", "pending": 1, "database": "sqlite://x.db"}}"#,
        )
        .unwrap();
        let mut cmd = p.command(&["plugin", "run", "audit", "--event"]);
        cmd.arg(&event);
        run(cmd)
    };
    for (outer, inner_dir) in [("audit", "."), ("hostile", "work/audit")] {
        let p = project("write /f x", &audit(inner_dir));
        let out = p.godwit(&["deploy"]);
        out.expect(2);
        assert!(out.stderr.contains("nested"), "{outer}: {}", out.stderr);
        assert!(!p.db.table_exists("items"), "{outer}: nothing applied");
        assert!(
            !p.path().join("work/f").exists(),
            "{outer}: the plugin never ran"
        );
        let out = plugin_run(&p);
        out.expect(2);
        assert!(out.stderr.contains("nested"), "{outer}: {}", out.stderr);
        let log = p.path().join(inner_dir).join("godwit-audit.jsonl");
        assert!(!log.exists(), "{outer}: plugin run never ran the plugin");
    }
    // The same directory for both is fine.
    let p = project("write /f x", &audit("work"));
    plugin_run(&p).expect(0);
    assert!(
        p.path().join("work/godwit-audit.jsonl").exists(),
        "plugin run ran the plugin"
    );
    p.godwit(&["deploy"]).expect(0);
    assert!(p.path().join("work/f").exists());
}

/// An `append` grant may not name a file of godwit's own — its SQLite database in
/// `.godwit`, godwit.toml, godwit.lock, `.env`, the compile cache, the cache key — however
/// it is spelled or linked: the plugin could read it and godwit would trust what it added.
/// godwit refuses the configuration before anything runs; every file is as it was.
#[test]
fn an_append_grant_naming_godwits_own_files_is_refused() {
    let state = tempfile::tempdir().unwrap();
    let key = state.path().join("godwit/cache-key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "key").unwrap();
    let cache = crate::scripted::shared_cache();
    let toml = "[plugins.github]\nbuiltin = \"github-summary\"\n[plugins.github.grants]\nenv = [\"GITHUB_STEP_SUMMARY\"]\nappend = [\"$GITHUB_STEP_SUMMARY\"]\n";
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
    std::fs::create_dir_all(p.path().join(".godwit")).unwrap();
    for (name, text) in [
        (".godwit/godwit.db", "db"),
        (".godwit/godwit.db-wal", "wal"),
        ("godwit.lock", "# lock\n"),
        (".env", "# env\n"),
    ] {
        std::fs::write(p.path().join(name), text).unwrap();
    }
    std::os::unix::fs::symlink("godwit.toml", p.path().join("innocent.md")).unwrap();
    std::os::unix::fs::symlink(".godwit", p.path().join("notes")).unwrap();
    let before = |path: &Path| std::fs::read(path).ok();
    let refused: Vec<PathBuf> = vec![
        p.path().join("godwit.toml"),
        p.path().join("./migrations/../godwit.toml"),
        p.path().join("innocent.md"),
        p.path().join(".godwit/godwit.db"),
        p.path().join(".godwit/godwit.db-wal"),
        p.path().join(".godwit/godwit.db-journal"),
        p.path().join("notes/godwit.db"),
        p.path().join("godwit.lock"),
        p.path().join(".env"),
        key.clone(),
        cache.join("any.cwasm"),
    ];
    for file in refused {
        let was = before(&file);
        let mut cmd = p.command(&["deploy"]);
        cmd.env("GITHUB_STEP_SUMMARY", &file)
            .env("XDG_STATE_HOME", state.path());
        let out = run(cmd);
        out.expect(2);
        assert_eq!(before(&file), was, "{}: unchanged", file.display());
        assert!(
            !p.db.table_exists("users"),
            "{}: nothing applied",
            file.display()
        );
    }
    // A file of its own, even inside .godwit, is fine: the same project and files deploy,
    // so each refusal above was the grant.
    std::fs::create_dir_all(p.path().join(".godwit/github")).unwrap();
    let own = p.path().join(".godwit/github/summary.md");
    let mut cmd = p.command(&["deploy"]);
    cmd.env("GITHUB_STEP_SUMMARY", &own)
        .env("XDG_STATE_HOME", state.path());
    run(cmd).expect(0);
    assert!(
        std::fs::read_to_string(&own)
            .unwrap()
            .contains("20260101000000")
    );
}

/// A grant that reaches what deploy runs is refused before anything is applied: the
/// migrations directory (a plugin could add SQL to a pending migration, which godwit runs
/// with its own privileges) and the SQLite database (read and written past the grants).
#[test]
fn grants_over_the_migrations_or_the_database_are_refused() {
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    let database = PathBuf::from(p.db.url.trim_start_matches("sqlite://"));
    let database_dir = database.parent().unwrap().to_owned();
    let migrations = p.path().join("migrations");
    let pending = migrations.join("20260103000000_seed_users/up.sql");
    std::os::unix::fs::symlink(&migrations, p.path().join("sql")).unwrap();
    // github-summary asks for `append`, audit-log for `dir`: a grant a plugin does not ask
    // for is not given, so each kind is tried on a plugin that asks for it.
    let config = |grant: &str| {
        let toml = if grant.starts_with("dir") {
            format!("[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\n{grant}\n")
        } else {
            format!(
                "[plugins.github]\nbuiltin = \"github-summary\"\n[plugins.github.grants]\n\
                 env = [\"GITHUB_STEP_SUMMARY\"]\n{grant}\n"
            )
        };
        std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
    };
    let before = walk(&migrations);
    let summary = |file: &Path| format!("append = [{:?}]", file.display().to_string());
    let grants = [
        summary(&pending),
        summary(&p.path().join("sql/20260103000000_seed_users/up.sql")),
        summary(&migrations.join("20260104000000_planted/up.sql")),
        summary(&database),
        summary(&PathBuf::from(format!("{}-journal", database.display()))),
        "dir = \"migrations\"".to_owned(),
        "dir = \"migrations/20260103000000_seed_users\"".to_owned(),
        "dir = \"sql\"".to_owned(),
        format!("dir = {:?}", database_dir.display().to_string()),
    ];
    // `godwit plugin run` hands the plugin the same grants, so it refuses the same ones.
    let event = p.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"run-started": {"operation": "deploy", "pending": 1, "database": "sqlite://x.db"}}"#,
    )
    .unwrap();
    let plugin_run = |grant: &str, summary_file: &Path| {
        let plugin = if grant.starts_with("dir") {
            "audit"
        } else {
            "github"
        };
        let mut cmd = p.command(&["plugin", "run", plugin, "--event"]);
        cmd.arg(&event).env("GITHUB_STEP_SUMMARY", summary_file);
        run(cmd)
    };
    for grant in &grants {
        config(grant);
        let mut cmd = p.command(&["deploy"]);
        cmd.env("GITHUB_STEP_SUMMARY", &pending);
        run(cmd).expect(2);
        assert!(!p.db.table_exists("users"), "{grant}: nothing applied");
        assert_eq!(
            walk(&migrations),
            before,
            "{grant}: the migrations unchanged"
        );
        plugin_run(grant, &pending).expect(2);
        assert_eq!(
            walk(&migrations),
            before,
            "{grant}: plugin run left the migrations unchanged"
        );
    }
    // The same project runs and deploys with grants of its own.
    config("dir = \"audit\"");
    plugin_run("dir", &pending).expect(0);
    run(p.command(&["deploy"])).expect(0);
    let own = p.path().join("summary.md");
    config(&summary(&own));
    plugin_run("append", &own).expect(0);
    assert!(std::fs::read(&own).is_ok_and(|s| !s.is_empty()));
    let mut cmd = p.command(&["deploy"]);
    cmd.env("GITHUB_STEP_SUMMARY", &own);
    run(cmd).expect(0);
    assert!(p.db.table_exists("users"));
}

/// Every file under `dir`, with its bytes, sorted.
fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}
