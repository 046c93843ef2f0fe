//! Helpers for the rules' tests: a migration written to a temporary directory, read the
//! way `godwit lint` reads it, linted, and its human output snapshotted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::LintSettings;
use crate::findings_report::{self, Format};
use godwit_core::Dialect;
use godwit_core::finding::Finding;

/// One migration directory: `(directory name, up.sql, down.sql)`.
pub(crate) type Dir<'a> = (&'a str, &'a str, Option<&'a str>);

/// Lints the given migration directories; returns the findings (of rule `code` only, if
/// given) and their human output, with the temporary directory shown as `[migrations]`
/// so snapshots are stable.
pub(crate) fn lint_dirs(
    dialect: Dialect,
    dirs: &[Dir],
    settings: &LintSettings,
    code: Option<&str>,
) -> (Vec<Finding>, String) {
    let tmp = tempfile::tempdir().unwrap();
    for (name, up, down) in dirs {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("up.sql"), up).unwrap();
        if let Some(down) = down {
            std::fs::write(dir.join("down.sql"), down).unwrap();
        }
    }
    let migrations = godwit_core::source::read_dir(tmp.path(), dialect).unwrap();
    let mut findings = super::lint_migrations(&migrations, dialect, settings).unwrap();
    if let Some(code) = code {
        findings.retain(|f| f.code == code);
    }
    let human = findings_report::render(&findings, Format::Human)
        .replace(&tmp.path().display().to_string(), "[migrations]");
    (findings, human)
}

/// `up.sql` in a migration with a clear name and a down.sql, so only `sql` is judged.
pub(crate) fn lint_sql(dialect: Dialect, sql: &str, code: &str) -> (Vec<Finding>, String) {
    lint_dirs(
        dialect,
        &[("20260101000000_lint_case", sql, Some("SELECT 1;\n"))],
        &LintSettings::default(),
        Some(code),
    )
}

pub(crate) fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        Dialect::Sqlite => "sqlite",
    }
}

/// Asserts that rule `code` reports `sql` and snapshots what a person reads.
#[track_caller]
pub(crate) fn fails(code: &str, dialect: Dialect, sql: &str) -> Vec<Finding> {
    let (mine, human) = lint_sql(dialect, sql, code);
    assert!(
        !mine.is_empty(),
        "{code} should report on {dialect}:\n{sql}"
    );
    // Several failing cases of one rule on one dialect get numbered snapshots; a rule's
    // cases all live in one test, so the numbering is deterministic.
    static SEEN: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let base = format!("{code}-{}", dialect_name(dialect));
    let n = {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let name = if n == 1 { base } else { format!("{base}-{n}") };
    insta::assert_snapshot!(name, human, sql);
    mine
}

/// Asserts that rule `code` has nothing to say about `sql`.
#[track_caller]
pub(crate) fn passes(code: &str, dialect: Dialect, sql: &str) {
    let (mine, human) = lint_sql(dialect, sql, code);
    assert!(
        mine.is_empty(),
        "{code} should not report on {dialect}:\n{sql}\n{human}"
    );
}
