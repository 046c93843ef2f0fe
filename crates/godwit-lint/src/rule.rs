//! What every rule is built from: its [`RuleInfo`], the [`RuleContext`] it looks at, the
//! ignore comments, and the phrases rules share. The rule files and the registry in
//! `lib.rs` both depend on this module, and it on neither, so adding a rule never closes
//! a cycle (`.ci/module-cycles` checks).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use godwit_core::Dialect;
use godwit_core::analyze::{Effect, Lock, StatementInfo};
use godwit_core::columns::{ColumnTypes, TypeChange};
use godwit_core::finding::{Finding, Location, Severity};
use godwit_core::rebuild::{self, Rebuild};
use godwit_core::source::{Migration, Script, TransactionMode};
use godwit_core::split::Statement;

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
    /// Whether the rule also reads down.sql. Only rules about whether a script can run
    /// at all do: down.sql exists to drop what up.sql created, so the drop rules would
    /// only cry wolf there.
    pub checks_down: bool,
    #[serde(skip)]
    pub(crate) check: fn(&RuleContext) -> Vec<Finding>,
}

impl RuleInfo {
    /// Where the rule's documentation lives, relative to the repository root.
    pub fn doc(&self) -> String {
        format!("docs/lint/{}.md", self.name)
    }
}

/// Finds a rule by name (`ban-drop-column`) or code (`GW002`, any case).
pub(crate) fn find<'r>(rules: &'r [RuleInfo], name_or_code: &str) -> Option<&'r RuleInfo> {
    rules
        .iter()
        .find(|r| r.name == name_or_code || r.code.eq_ignore_ascii_case(name_or_code))
}

/// What a rule gets to look at: one migration, read for one dialect.
pub struct RuleContext<'a> {
    pub migration: &'a Migration,
    /// The script being checked: the migration's up.sql, or its down.sql for the rules
    /// that read down scripts too ([`RuleInfo::checks_down`]).
    pub script: &'a Script,
    pub dialect: Dialect,
    /// The statements of [`RuleContext::script`].
    pub statements: &'a [StatementInfo],
    /// The tables the script rebuilds (copy, drop, rename): their drops lose no rows.
    pub rebuilds: &'a [Rebuild],
    /// Column types as the migrations before this one declare them (empty when only
    /// this migration is linted).
    pub prior_columns: &'a ColumnTypes,
    /// Tables the pending migrations before this one create in the same run (`plan`;
    /// empty when each migration is linted as deployed on its own).
    pub new_tables: &'a BTreeSet<String>,
    /// godwit.toml's `lock_timeout`, which deploy applies to every migration.
    pub config_lock_timeout: Option<Duration>,
    /// How deploy (or down) will run the script, decided where they decide it.
    pub mode: TransactionMode,
    /// Whether the script runs with SQLite's foreign keys off, decided where deploy
    /// decides it.
    pub foreign_keys_off: bool,
    pub(crate) ignores: &'a [Ignore],
    /// Every built-in rule, handed in by the registry: the rule about ignore comments
    /// checks the names they give.
    pub(crate) rules: &'static [RuleInfo],
}

impl<'a> RuleContext<'a> {
    pub fn script(&self) -> &'a Script {
        self.script
    }

    /// Where the script is, as its author knows it: `up.sql`, `migration.sql`,
    /// `V2__add_index.sql`, or `the up section of 00002_index.sql` where one file holds
    /// both directions (goose, dbmate). Help that says where to write something names it.
    pub fn script_place(&self) -> String {
        if self.section_marker().is_some() {
            let direction = if self.is_down() { "down" } else { "up" };
            format!(
                "the {direction} section of {}",
                file_name(&self.script.path)
            )
        } else {
            file_name(&self.script.path)
        }
    }

    /// The script is a section of a file that holds both directions: the marker that
    /// opens its down section (`-- +goose Down`, `-- migrate:down`). godwit's directives
    /// are not read in such files; their tool's own markers are.
    fn section_marker(&self) -> Option<&'static str> {
        match &self.migration.down_place {
            godwit_core::source::DownPlace::Section { file, marker }
                if self.script.path == *file =>
            {
                Some(marker)
            }
            _ => None,
        }
    }

    /// Whether `-- godwit:` directives at the top of the script are read (everywhere but
    /// goose's and dbmate's sections).
    pub fn reads_directives(&self) -> bool {
        self.section_marker().is_none()
    }

    /// Whether the script is the migration's down.sql.
    pub fn is_down(&self) -> bool {
        self.migration
            .down
            .as_ref()
            .is_some_and(|d| std::ptr::eq(d, self.script))
    }

    /// Every effect of every statement, in file order.
    pub fn effects(&self) -> impl Iterator<Item = (&'a StatementInfo, &'a Effect)> + use<'a> {
        self.statements
            .iter()
            .flat_map(|s| s.effects.iter().map(move |e| (s, e)))
    }

    /// Whether `table` is new at statement `at`: created by an earlier statement of this
    /// migration, by statement `at` itself (a goose block that creates a table and then
    /// indexes it), or by an earlier migration of the same run ([`RuleContext::new_tables`]),
    /// under the name it has by then (Zero renames a table the run created, then adds a
    /// NOT NULL column to it). A rebuild's copy renamed to the rebuilt table's name is new
    /// only if that table was. A table nobody else can be using yet is safe to rewrite,
    /// lock and validate.
    pub fn created_here(&self, table: &str, at: usize) -> bool {
        let mut new: BTreeSet<&str> = self.new_tables.iter().map(String::as_str).collect();
        for s in &self.statements[..(at + 1).min(self.statements.len())] {
            for effect in &s.effects {
                match effect {
                    Effect::CreateTable { table } => {
                        new.insert(table);
                    }
                    Effect::RenameTable { from, to } => {
                        let was_new = match rebuild::renaming(self.rebuilds, s.index) {
                            Some(r) => new.contains(r.dropped.as_str()),
                            None => new.contains(from.as_str()),
                        };
                        if was_new {
                            new.insert(to);
                        } else {
                            new.remove(to.as_str());
                        }
                    }
                    _ => {}
                }
            }
        }
        new.contains(table)
    }

    /// The rebuild whose `DROP TABLE table` is statement `index`, if it is one.
    pub fn rebuild_dropping(&self, table: &str, index: usize) -> Option<&'a Rebuild> {
        rebuild::dropping(self.rebuilds, table, index)
    }

    /// The rebuild that statement `index` renames a table for, if any.
    pub fn rebuild_renaming(&self, index: usize) -> Option<&'a Rebuild> {
        rebuild::renaming(self.rebuilds, index)
    }

    /// What changing `table.column` to `new_type` at statement `index` costs, judged
    /// against the type the history gives it up to that statement.
    pub fn type_change(
        &self,
        index: usize,
        table: &str,
        column: &str,
        new_type: &str,
    ) -> TypeChange {
        let mut types = self.prior_columns.clone();
        types.apply(&self.statements[..index.min(self.statements.len())]);
        types.change(self.dialect, table, column, new_type)
    }

    /// Whether deploy will have a lock timeout in force when statement `index` runs.
    pub fn lock_timeout_before(&self, index: usize) -> bool {
        self.script.directives.lock_timeout.is_some()
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
                file: Some(self.script.path.clone()),
                line: statement.map(|s| s.line),
                statement: statement.map(|s| s.index + 1),
            },
            help: Some(help.to_string()),
            doc: Some(rule.doc()),
            source: "godwit".to_string(),
        }
    }

    /// How a migration of this folder gets a `CONCURRENTLY` statement run outside a
    /// transaction, to finish a sentence ("in a migration of its own {this}"): for the
    /// tools that ran such a file as it was (Prisma, golang-migrate, Flyway, Drizzle), it
    /// needs nothing, since deploy runs it the same way; elsewhere godwit's directive.
    pub fn outside_a_transaction(&self) -> String {
        match (self.script.ran_as_is, self.section_marker()) {
            (Some(tool), _) => format!(
                "(on its own in its file it runs outside a transaction, as {} ran it: nothing to mark)",
                tool.name()
            ),
            (None, Some(marker)) if marker.starts_with("-- +goose") => {
                "marked -- +goose NO TRANSACTION".into()
            }
            (None, Some(_)) => "whose -- migrate:up line says transaction:false".into(),
            (None, None) => "that starts with -- godwit:no-transaction".into(),
        }
    }

    /// The built-in rule called `name_or_code`, if there is one.
    pub fn rule(&self, name_or_code: &str) -> Option<&'static RuleInfo> {
        find(self.rules, name_or_code)
    }

    /// The comments that try to silence findings; rules about the comments read them.
    pub(crate) fn ignores(&self) -> &'a [Ignore] {
        self.ignores
    }
}

/// A file's own name, as help that says where to write something names it.
pub(crate) fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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
    pub(crate) fn silences(&self, finding: &Finding) -> bool {
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

/// Names that say nothing about the change; a history full of them is useless.
pub fn vague_name(name: &str) -> bool {
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
    let a = |lock: Lock| {
        let name = lock.name();
        let article = if name.starts_with(['A', 'E', 'a', 'e']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name} lock")
    };
    match lock {
        Lock::DatabaseWrite => "holds SQLite's database write lock".to_string(),
        Lock::None => "takes no table lock".to_string(),
        _ if tables.is_empty() => format!("takes {} on its table", a(lock)),
        _ => {
            // Each table's own lock (a goose block's CREATE INDEX takes SHARE on its table
            // beside a DROP's ACCESS EXCLUSIVE), tables of one lock named together.
            let mut groups: Vec<(Lock, Vec<String>)> = Vec::new();
            for table in tables {
                let own = statement
                    .locks
                    .iter()
                    .find(|l| &l.table == table)
                    .map_or(lock, |l| l.lock);
                match groups.iter_mut().find(|(l, _)| *l == own) {
                    Some((_, names)) => names.push(table.clone()),
                    None => groups.push((own, vec![table.clone()])),
                }
            }
            let parts: Vec<String> = groups
                .iter()
                .map(|(lock, names)| match lock {
                    Lock::None => format!("no lock on {}", table_list(names)),
                    _ => format!("{} on {}", a(*lock), table_list(names)),
                })
                .collect();
            format!("takes {}", parts.join(" and "))
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

/// Adds to `tables` what one migration's statements leave new: the tables they create,
/// under the names renames give them (papermark renames a table a few migrations after
/// creating it). A table they drop is no longer new. A rebuilt table (rows copied into a
/// new table that takes the old one's name) holds the old one's rows: it is new only if
/// the table it replaces was (hydra rebuilds tables its own earlier migrations create).
pub(crate) fn note_new_tables(tables: &mut BTreeSet<String>, statements: &[StatementInfo]) {
    let mut new_when_dropped = BTreeSet::new();
    for effect in statements.iter().flat_map(|s| &s.effects) {
        match effect {
            Effect::CreateTable { table } => {
                tables.insert(table.clone());
            }
            Effect::RenameTable { from, to } => {
                if tables.remove(from) {
                    tables.insert(to.clone());
                } else {
                    tables.remove(to);
                }
            }
            Effect::DropTable { table, .. } if tables.remove(table) => {
                new_when_dropped.insert(table.clone());
            }
            _ => {}
        }
    }
    for r in rebuild::rebuilds(statements) {
        if !new_when_dropped.contains(&r.dropped) {
            tables.remove(&r.name);
            tables.remove(&r.survivor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_comments_attach_to_the_next_statement() {
        let text = "CREATE TABLE a (id int);\n-- godwit:ignore ban-drop-table, GW002 -- reason: gone since v2\n\nDROP TABLE b;\n-- godwit:ignore ban-truncate\nTRUNCATE c;\n";
        let statements = godwit_core::split::split(text, Dialect::Postgres).unwrap();
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
