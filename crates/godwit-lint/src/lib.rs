//! Static checks of migration files: no database needed.
//!
//! Depends on `godwit-core` only: no database, no tokio, no wasmtime.
//!
//! Each rule lives in its own file in this crate and is registered in [`rules()`] with a
//! kebab-case name and a stable code. Codes are never reused: a retired rule keeps its
//! code forever, so a `GW007` in an old CI log or an ignore comment always means the same
//! thing. Rules produce [`Finding`]s, the type validator plugins produce too, so reporters
//! and exit codes treat both alike.
//!
//! A finding can be silenced for one statement by a comment on the line(s) above it, and
//! the comment has to say why:
//!
//! ```sql
//! -- godwit:ignore ban-drop-column -- reason: column unused since v2
//! ALTER TABLE users DROP COLUMN legacy_flag;
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use godwit_core::columns::ColumnTypes;
use godwit_core::finding::{Finding, Severity};
use godwit_core::source::{Migration, Script};
use godwit_core::split::Statement;
use godwit_core::{Dialect, Error};
use godwit_core::{analyze, rebuild};

pub mod findings_report;
pub mod rule;

use rule::parse_ignores;
pub use rule::{RuleContext, RuleInfo, vague_name};

mod adding_enum_value;
mod adding_not_null_column;
mod adding_unique_constraint;
mod ban_drop_column;
mod ban_drop_schema;
mod ban_drop_table;
mod ban_truncate;
mod changing_column_type;
mod check_without_not_valid;
mod concurrently_in_transaction;
mod create_index_without_concurrently;
mod drop_index_without_concurrently;
mod foreign_key_without_not_valid;
mod invalid_ignore_comment;
mod missing_down_migration;
mod mysql_copy_algorithm;
mod renaming_column;
mod renaming_table;
mod require_lock_timeout;
mod setting_not_null;
mod table_rebuild;
mod unparsed_statement;
mod vague_migration_name;
mod volatile_default;

/// Every built-in rule, in code order.
static RULES: &[RuleInfo] = &[
    ban_drop_table::RULE,
    ban_drop_column::RULE,
    ban_drop_schema::RULE,
    ban_truncate::RULE,
    renaming_table::RULE,
    renaming_column::RULE,
    changing_column_type::RULE,
    adding_not_null_column::RULE,
    setting_not_null::RULE,
    foreign_key_without_not_valid::RULE,
    check_without_not_valid::RULE,
    adding_unique_constraint::RULE,
    create_index_without_concurrently::RULE,
    drop_index_without_concurrently::RULE,
    concurrently_in_transaction::RULE,
    volatile_default::RULE,
    require_lock_timeout::RULE,
    adding_enum_value::RULE,
    mysql_copy_algorithm::RULE,
    missing_down_migration::RULE,
    vague_migration_name::RULE,
    unparsed_statement::RULE,
    invalid_ignore_comment::RULE,
    table_rebuild::RULE,
];

/// The built-in rules.
pub fn rules() -> &'static [RuleInfo] {
    RULES
}

/// Finds a rule by name (`ban-drop-column`) or code (`GW002`, any case).
pub fn rule(name_or_code: &str) -> Option<&'static RuleInfo> {
    rule::find(RULES, name_or_code)
}

/// `[lint]`: per-rule severities, by rule name or code (`ban-drop-column = "off"`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintSettings {
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, RuleLevel>,
    /// godwit.toml's top-level `lock_timeout`, copied here when the file is read: deploy
    /// applies it to every migration, so the lock-timeout rule must count it as set.
    #[serde(skip)]
    pub lock_timeout: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleLevel {
    Off,
    Info,
    Warning,
    Error,
}

/// The severity each rule runs at after godwit.toml's `[lint] rules`; `None` is off.
fn levels(settings: &LintSettings) -> Result<BTreeMap<&'static str, Option<Severity>>, Error> {
    let mut levels: BTreeMap<&'static str, Option<Severity>> = RULES
        .iter()
        .map(|r| (r.code, Some(r.default_severity)))
        .collect();
    for (key, level) in &settings.rules {
        let Some(rule) = rule(key) else {
            let known: Vec<String> = RULES
                .iter()
                .map(|r| format!("{} ({})", r.name, r.code))
                .collect();
            return Err(Error::Config(format!(
                "godwit.toml [lint] rules names `{key}`, which is not a lint rule; the rules are: {}",
                known.join(", ")
            )));
        };
        levels.insert(
            rule.code,
            match level {
                RuleLevel::Off => None,
                RuleLevel::Info => Some(Severity::Info),
                RuleLevel::Warning => Some(Severity::Warning),
                RuleLevel::Error => Some(Severity::Error),
            },
        );
    }
    Ok(levels)
}

/// Runs every rule that applies to `dialect` over `migrations`.
///
/// Findings come back in migration order, then file order. Errors are for files that
/// cannot be read as statements at all (an unterminated string, say) and for unknown rule
/// names in `settings`.
pub fn lint_migrations(
    migrations: &[Migration],
    dialect: Dialect,
    settings: &LintSettings,
) -> Result<Vec<Finding>, Error> {
    lint_each(&[], migrations, dialect, settings, false)
}

/// [`lint_migrations`] for the pending `migrations` one deploy runs after `earlier` (the
/// ones already applied, for `plan`). `earlier` are read, not checked, so that the rules
/// judge a change against what they declared (a column's type before it changes). And a
/// table that one of `migrations` creates is new to the rest of the run, as a table
/// created earlier in the same migration is: nobody uses it yet, so indexing or
/// validating it blocks nobody.
pub fn lint_migrations_after(
    earlier: &[Migration],
    migrations: &[Migration],
    dialect: Dialect,
    settings: &LintSettings,
) -> Result<Vec<Finding>, Error> {
    lint_each(earlier, migrations, dialect, settings, true)
}

/// How many findings [`lint_migrations`] would add to `run`, the findings
/// [`lint_migrations_after`] gave for the same migrations: the ones about tables an
/// earlier migration of the run creates, which `plan` leaves out and should say so.
pub fn left_out_of_run(
    earlier: &[Migration],
    migrations: &[Migration],
    dialect: Dialect,
    settings: &LintSettings,
    run: &[Finding],
) -> Result<usize, Error> {
    let each = lint_each(earlier, migrations, dialect, settings, false)?;
    let key = |f: &Finding| {
        (
            f.code.clone(),
            f.location.migration.clone(),
            f.location.line,
            f.message.clone(),
        )
    };
    let kept: BTreeSet<_> = run.iter().map(key).collect();
    Ok(each.iter().filter(|f| !kept.contains(&key(f))).count())
}

/// Lints `migrations` after `earlier`; with `one_run`, as the pending migrations of one
/// deploy (see [`lint_migrations_after`]), else each as deployed on its own.
fn lint_each(
    earlier: &[Migration],
    migrations: &[Migration],
    dialect: Dialect,
    settings: &LintSettings,
    one_run: bool,
) -> Result<Vec<Finding>, Error> {
    let levels = levels(settings)?;
    let mut new_tables = BTreeSet::new();
    let mut findings = Vec::new();
    let mut prior_columns = ColumnTypes::default();
    for migration in earlier {
        // A file this dialect cannot split is reported where it is checked, not here.
        if let Ok(statements) = migration.up.statements(dialect) {
            prior_columns.apply(&analyze::analyze(&statements, dialect));
        }
    }
    for migration in migrations {
        let statements = migration.up.statements(dialect)?;
        let infos = analyze::analyze(&statements, dialect);
        let up = Checked {
            migration,
            script: &migration.up,
            statements: &statements,
            infos: &infos,
        };
        findings.extend(check_script(
            &up,
            dialect,
            settings,
            &levels,
            &prior_columns,
            &new_tables,
        ));
        prior_columns.apply(&infos);
        if one_run {
            rule::note_new_tables(&mut new_tables, &infos);
        }
        // down.sql, for the rules about whether a script can run at all. One this dialect
        // cannot split is left to `down` and `verify`, which run it.
        if let Some(down) = &migration.down
            && let Ok(statements) = down.statements(dialect)
        {
            let infos = analyze::analyze(&statements, dialect);
            let down = Checked {
                migration,
                script: down,
                statements: &statements,
                infos: &infos,
            };
            findings.extend(check_script(
                &down,
                dialect,
                settings,
                &levels,
                &prior_columns,
                &new_tables,
            ));
        }
    }
    Ok(findings)
}

/// A script of a migration, split and analysed.
struct Checked<'a> {
    migration: &'a Migration,
    script: &'a Script,
    statements: &'a [Statement],
    infos: &'a [analyze::StatementInfo],
}

/// The findings of the rules that apply to `checked`'s script (every rule for up.sql,
/// those that read down scripts for down.sql), ignore comments applied, in line order.
fn check_script(
    checked: &Checked,
    dialect: Dialect,
    settings: &LintSettings,
    levels: &BTreeMap<&'static str, Option<Severity>>,
    prior_columns: &ColumnTypes,
    new_tables: &BTreeSet<String>,
) -> Vec<Finding> {
    let Checked {
        migration,
        script,
        statements,
        infos,
    } = *checked;
    let ignores = parse_ignores(&script.text, statements);
    let rebuilds = rebuild::rebuilds(infos);
    let ctx = RuleContext {
        migration,
        script,
        dialect,
        statements: infos,
        rebuilds: &rebuilds,
        prior_columns,
        new_tables,
        config_lock_timeout: settings.lock_timeout,
        mode: script.transaction_mode(statements, dialect),
        foreign_keys_off: script.foreign_keys_off(statements, dialect),
        ignores: &ignores,
        rules: RULES,
    };
    let down = ctx.is_down();
    let mut found = Vec::new();
    for rule in RULES
        .iter()
        .filter(|r| r.dialects.contains(&dialect) && (r.checks_down || !down))
    {
        let Some(severity) = levels[rule.code] else {
            continue;
        };
        for mut finding in (rule.check)(&ctx) {
            let statement = finding.location.statement.map(|n| n - 1);
            let silenced = ignores
                .iter()
                .any(|i| (statement.is_none() || i.statement == statement) && i.silences(&finding));
            if !silenced {
                finding.severity = severity;
                found.push(finding);
            }
        }
    }
    found.sort_by_key(|f| f.location.line.unwrap_or(0));
    found
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::ALL;

    /// One statement per rule (more where a rule reads each dialect differently); every
    /// rule must trip on at least one of them in each dialect it runs for, so a new rule
    /// comes with a case here.
    const EVERY_RULE: &[&str] = &[
        "DROP TABLE users;",
        "ALTER TABLE users DROP COLUMN email;",
        "DROP SCHEMA reporting CASCADE;",
        "DROP DATABASE reporting;",
        "TRUNCATE TABLE sessions;",
        "ALTER TABLE users RENAME TO accounts;",
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);",
        "ALTER TABLE orders MODIFY COLUMN total DECIMAL(12, 2) NOT NULL;",
        "ALTER TABLE users ADD COLUMN tier int NOT NULL;",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);",
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);",
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
        "CREATE INDEX orders_customer_idx ON orders (customer_id);",
        "DROP INDEX orders_customer_idx;",
        "CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);",
        "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        "ALTER TABLE users ADD COLUMN nickname text;",
        "ALTER TYPE order_status ADD VALUE 'refunded';",
        "ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;",
        "FROBNICATE TABLE users WITH GUSTO;",
        "-- godwit:ignore ban-drop-tabel -- reason: typo\nDROP TABLE users;",
        "CREATE TABLE new_users (id int);\nINSERT INTO new_users (id) SELECT id FROM users;\nDROP TABLE users;\nALTER TABLE new_users RENAME TO users;",
    ];

    /// Help and messages are read by people: a `{column}` left from a template (GW009's
    /// help said "Add CHECK ({column} IS NOT NULL)") is a bug, whichever rule has it.
    #[test]
    fn no_rule_leaves_a_placeholder_in_its_message_or_help() {
        let placeholder = regex::Regex::new(r"\{[A-Za-z_][A-Za-z0-9_.]*\}").unwrap();
        for dialect in ALL {
            let tmp = tempfile::tempdir().unwrap();
            for (i, sql) in EVERY_RULE.iter().enumerate() {
                let dir = tmp.path().join(format!("2026010100{i:04}_case_{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("up.sql"), format!("{sql}\n")).unwrap();
                std::fs::write(dir.join("down.sql"), "SELECT 1;\n").unwrap();
            }
            // No down.sql (GW020) and a name that says nothing (GW021).
            let dir = tmp.path().join("20260102000000_update");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("up.sql"), "SELECT 1;\n").unwrap();
            let migrations = godwit_core::source::read_dir(tmp.path(), *dialect).unwrap();
            let findings =
                lint_migrations(&migrations, *dialect, &LintSettings::default()).unwrap();
            for rule in RULES.iter().filter(|r| r.dialects.contains(dialect)) {
                assert!(
                    findings.iter().any(|f| f.code == rule.code),
                    "{} ({}) found nothing on {dialect}: add a statement that trips it to EVERY_RULE",
                    rule.code,
                    rule.name
                );
            }
            for f in &findings {
                for text in [Some(&f.message), f.help.as_ref()].into_iter().flatten() {
                    assert!(
                        !placeholder.is_match(text),
                        "{} on {dialect} leaves a placeholder: {text}",
                        f.code
                    );
                }
            }
        }
    }

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
        codes.dedup();
        assert_eq!(
            codes.len(),
            RULES.len(),
            "codes must be unique and in order"
        );
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
        for r in RULES {
            assert!(r.code.starts_with("GW") && r.code.len() == 5, "{}", r.code);
            assert!(
                r.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                r.name
            );
            let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(r.doc());
            let text =
                std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
            assert!(
                text.contains(r.code),
                "{} must name {}",
                doc.display(),
                r.code
            );
            assert!(text.contains("## Problem") && text.contains("## Solution"));
        }
    }

    /// Every rule's human output is snapshotted on every dialect it covers, so a rule
    /// that gains a dialect without a failing case there fails here.
    #[test]
    fn every_rule_has_a_failing_snapshot_per_dialect() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/snapshots");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for r in RULES {
            for d in r.dialects {
                let suffix = format!("__{}-{}.snap", r.code, testing::dialect_name(*d));
                assert!(
                    names.iter().any(|n| n.ends_with(&suffix)),
                    "{} ({}) has no failing snapshot on {d}",
                    r.name,
                    r.code
                );
            }
        }
    }

    #[test]
    fn unknown_rule_in_settings_lists_the_rules() {
        let mut settings = LintSettings::default();
        settings
            .rules
            .insert("ban-drop-colum".into(), RuleLevel::Off);
        let err = levels(&settings).unwrap_err().to_string();
        assert!(err.contains("`ban-drop-colum`"), "{err}");
        assert!(err.contains("ban-drop-column (GW002)"), "{err}");
        settings.rules.clear();
        settings.rules.insert("gw002".into(), RuleLevel::Off);
        assert_eq!(levels(&settings).unwrap()["GW002"], None);
    }
}
