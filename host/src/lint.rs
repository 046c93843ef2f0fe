//! Static checks of migration files: no database needed.
//!
//! Each rule lives in its own file under `lint/` and is registered in [`rules()`] with a
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

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::analyze::{self, Effect, Lock, StatementInfo};
use crate::config::{LintSettings, RuleLevel};
use crate::finding::{Finding, Location, Severity};
use crate::source::{Migration, Script, TransactionMode};
use crate::split::Statement;
use crate::{Dialect, Error};

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
];

pub(crate) const ALL: &[Dialect] = &[Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];
pub(crate) const POSTGRES: &[Dialect] = &[Dialect::Postgres];
pub(crate) const POSTGRES_MYSQL: &[Dialect] = &[Dialect::Postgres, Dialect::MySql];
pub(crate) const MYSQL: &[Dialect] = &[Dialect::MySql];

/// A built-in rule: what it is called, what it checks, and where.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RuleInfo {
    /// Kebab-case, as written in godwit.toml and ignore comments.
    pub name: &'static str,
    /// `GW001`…; never reused for another rule.
    pub code: &'static str,
    pub summary: &'static str,
    pub default_severity: Severity,
    /// The dialects the rule knows how to judge; it is not run on the others.
    pub dialects: &'static [Dialect],
    #[serde(skip)]
    check: fn(&RuleContext) -> Vec<Finding>,
}

impl RuleInfo {
    /// Where the rule's documentation lives, relative to the repository root.
    pub fn doc(&self) -> String {
        format!("docs/lint/{}.md", self.name)
    }
}

/// The built-in rules.
pub fn rules() -> &'static [RuleInfo] {
    RULES
}

/// Finds a rule by name (`ban-drop-column`) or code (`GW002`, any case).
pub fn rule(name_or_code: &str) -> Option<&'static RuleInfo> {
    RULES
        .iter()
        .find(|r| r.name == name_or_code || r.code.eq_ignore_ascii_case(name_or_code))
}

/// What a rule gets to look at: one migration, read for one dialect.
pub struct RuleContext<'a> {
    pub migration: &'a Migration,
    pub dialect: Dialect,
    /// The statements of `up.sql`. `down.sql` is not checked statement by statement: it
    /// exists to drop what `up.sql` created, so the drop rules would only cry wolf there.
    pub statements: &'a [StatementInfo],
    /// godwit.toml's `lock_timeout`, which deploy applies to every migration.
    pub config_lock_timeout: Option<Duration>,
    /// How deploy will run `up.sql`, decided where deploy decides it.
    pub mode: TransactionMode,
    ignores: &'a [Ignore],
}

impl<'a> RuleContext<'a> {
    pub fn script(&self) -> &'a Script {
        &self.migration.up
    }

    /// Every effect of every statement, in file order.
    pub fn effects(&self) -> impl Iterator<Item = (&'a StatementInfo, &'a Effect)> + use<'a> {
        self.statements
            .iter()
            .flat_map(|s| s.effects.iter().map(move |e| (s, e)))
    }

    /// Whether `table` was created by a statement before `before` in this migration: a
    /// table nobody else can be using yet is safe to rewrite, lock and validate.
    pub fn created_here(&self, table: &str, before: usize) -> bool {
        self.statements[..before.min(self.statements.len())]
            .iter()
            .flat_map(|s| &s.effects)
            .any(|e| matches!(e, Effect::CreateTable { table: t } if t == table))
    }

    /// Whether deploy will have a lock timeout in force when statement `index` runs.
    pub fn lock_timeout_before(&self, index: usize) -> bool {
        self.migration.up.directives.lock_timeout.is_some()
            || self.config_lock_timeout.is_some()
            || self.statements[..index.min(self.statements.len())]
                .iter()
                .any(|s| s.effects.contains(&Effect::SetsLockTimeout))
    }

    /// A finding about `statement` (or about the migration as a whole).
    pub fn finding(
        &self,
        rule: &RuleInfo,
        statement: Option<&StatementInfo>,
        message: String,
        help: &str,
    ) -> Finding {
        Finding {
            rule: rule.name.to_string(),
            code: rule.code.to_string(),
            severity: rule.default_severity,
            message,
            location: Location {
                migration: Some(self.migration.id()),
                file: Some(self.migration.up.path.clone()),
                line: statement.map(|s| s.line),
                statement: statement.map(|s| s.index + 1),
            },
            help: Some(help.to_string()),
            doc: Some(rule.doc()),
            source: "godwit".to_string(),
        }
    }

    /// The comments that try to silence findings; rules about the comments read them.
    pub(crate) fn ignores(&self) -> &'a [Ignore] {
        self.ignores
    }
}

/// `-- godwit:ignore RULE[, RULE] -- reason: TEXT`, found above a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ignore {
    /// 1-based line of the comment.
    pub line: usize,
    /// The statement it sits above (0-based), if one follows.
    pub statement: Option<usize>,
    /// The rules as written.
    pub rules: Vec<String>,
    pub reason: Option<String>,
}

impl Ignore {
    /// An ignore silences only known rules, and only when it says why.
    fn silences(&self, finding: &Finding) -> bool {
        self.reason.is_some()
            && self
                .rules
                .iter()
                .any(|r| r == &finding.rule || r.eq_ignore_ascii_case(&finding.code))
    }
}

/// Finds ignore comments in the gaps between statements (and after the last one).
pub(crate) fn parse_ignores(text: &str, statements: &[Statement]) -> Vec<Ignore> {
    let mut out = Vec::new();
    let mut gap_start = 0;
    let gaps = statements
        .iter()
        .enumerate()
        .map(|(i, s)| (Some(i), s.span.start, s.span.end))
        .chain(std::iter::once((None, text.len(), text.len())));
    for (statement, start, end) in gaps {
        let gap = &text[gap_start..start];
        let first_line = text[..gap_start].matches('\n').count() + 1;
        for (offset, line) in gap.lines().enumerate() {
            let Some(body) = line
                .trim()
                .strip_prefix("--")
                .map(str::trim)
                .and_then(|c| c.strip_prefix("godwit:ignore"))
            else {
                continue;
            };
            let (rules, reason) = match find_ascii_ci(body, "reason:") {
                Some(at) => (&body[..at], Some(body[at + "reason:".len()..].trim())),
                None => (body, None),
            };
            let rules = rules.trim().trim_end_matches('-').trim();
            out.push(Ignore {
                line: first_line + offset,
                statement,
                rules: rules
                    .split([',', ' ', '\t'])
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
                reason: reason.filter(|r| !r.is_empty()).map(str::to_string),
            });
        }
        gap_start = end.max(start);
    }
    out
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
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
    let levels = levels(settings)?;
    let mut findings = Vec::new();
    for migration in migrations {
        let statements = migration.up.statements(dialect)?;
        let infos = analyze::analyze(&statements, dialect);
        let ignores = parse_ignores(&migration.up.text, &statements);
        let ctx = RuleContext {
            migration,
            dialect,
            statements: &infos,
            config_lock_timeout: settings.lock_timeout,
            mode: migration.up.transaction_mode(&statements, dialect),
            ignores: &ignores,
        };
        let mut found = Vec::new();
        for rule in RULES.iter().filter(|r| r.dialects.contains(&dialect)) {
            let Some(severity) = levels[rule.code] else {
                continue;
            };
            for mut finding in (rule.check)(&ctx) {
                let statement = finding.location.statement.map(|n| n - 1);
                let silenced = ignores.iter().any(|i| {
                    (statement.is_none() || i.statement == statement) && i.silences(&finding)
                });
                if !silenced {
                    finding.severity = severity;
                    found.push(finding);
                }
            }
        }
        found.sort_by_key(|f| f.location.line.unwrap_or(0));
        findings.extend(found);
    }
    Ok(findings)
}

/// Names that say nothing about the change; a history full of them is useless.
pub(crate) fn vague_name(name: &str) -> bool {
    let base = name
        .to_ascii_lowercase()
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '_')
        .to_string();
    const VAGUE: &[&str] = &[
        "",
        "update",
        "updates",
        "fix",
        "fixes",
        "migration",
        "migrations",
        "change",
        "changes",
        "new",
        "test",
        "tmp",
        "temp",
        "wip",
        "misc",
        "stuff",
        "patch",
        "schema",
        "db",
        "sql",
        "init",
        "initial",
        "changes_to_db",
    ];
    VAGUE.contains(&base.as_str())
}

/// "takes an ACCESS EXCLUSIVE lock on users", in the words of the statement's database.
pub(crate) fn lock_phrase(statement: &StatementInfo, tables: &[String]) -> String {
    let lock = statement.lock;
    match lock {
        Lock::DatabaseWrite => "holds SQLite's database write lock".to_string(),
        Lock::None => "takes no table lock".to_string(),
        _ => {
            let name = lock.name();
            let article = if name.starts_with(['A', 'E', 'a', 'e']) {
                "an"
            } else {
                "a"
            };
            let on = if tables.is_empty() {
                "its table".to_string()
            } else {
                table_list(tables)
            };
            format!("takes {article} {name} lock on {on}")
        }
    }
}

/// `VALIDATE CONSTRAINT` statements that undo the point of `NOT VALID`: the migration
/// runs in one transaction, so the lock the `ADD CONSTRAINT ... NOT VALID` took on the
/// table is still held while the validation scans it. `added` picks the constraints a rule
/// is about (foreign keys or checks) by the effect that added them NOT VALID; `what` names
/// them in the message ("a foreign key").
pub(crate) fn validated_in_same_transaction(
    ctx: &RuleContext,
    rule: &RuleInfo,
    added: fn(&Effect) -> Option<&str>,
    what: &str,
) -> Vec<Finding> {
    if !ctx.mode.is_transaction() {
        return Vec::new();
    }
    let mut tables: Vec<&str> = Vec::new();
    let mut findings = Vec::new();
    for (s, e) in ctx.effects() {
        if let Some(table) = added(e) {
            tables.push(table);
        }
        if let Effect::ValidateConstraint { table, .. } = e
            && tables.contains(&table.as_str())
            && !ctx.created_here(table, s.index)
        {
            findings.push(ctx.finding(
                rule,
                Some(s),
                format!(
                    "validates {what} on {} in the same transaction that added it NOT VALID: the lock taken by ADD CONSTRAINT is held until commit, so the validation scan runs under it and NOT VALID gains nothing",
                    table_list(&s.tables)
                ),
                "Move VALIDATE CONSTRAINT to a later migration, so the constraint is added (instant) and committed first; the validation then takes only SHARE UPDATE EXCLUSIVE.",
            ));
        }
    }
    findings
}

/// `users` or `users and orders`, for messages.
pub(crate) fn table_list(tables: &[String]) -> String {
    match tables {
        [] => "the table".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

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
            let migrations = crate::source::read_dir(tmp.path(), *dialect).unwrap();
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
                .join("..")
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
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lint/snapshots");
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

    #[test]
    fn ignore_comments_attach_to_the_next_statement() {
        let text = "CREATE TABLE a (id int);\n-- godwit:ignore ban-drop-table, GW002 -- reason: gone since v2\n\nDROP TABLE b;\n-- godwit:ignore ban-truncate\nTRUNCATE c;\n";
        let statements = crate::split::split(text, Dialect::Postgres).unwrap();
        let ignores = parse_ignores(text, &statements);
        assert_eq!(
            ignores,
            vec![
                Ignore {
                    line: 2,
                    statement: Some(1),
                    rules: vec!["ban-drop-table".into(), "GW002".into()],
                    reason: Some("gone since v2".into()),
                },
                Ignore {
                    line: 5,
                    statement: Some(2),
                    rules: vec!["ban-truncate".into()],
                    reason: None,
                },
            ]
        );
    }

    #[test]
    fn vague_names() {
        for name in [
            "update",
            "fix",
            "migration1",
            "Migration_2",
            "changes",
            "wip_3",
        ] {
            assert!(vague_name(name), "{name}");
        }
        for name in ["add_users_email_index", "create_orders", "fix_orders_total"] {
            assert!(!vague_name(name), "{name}");
        }
    }
}
