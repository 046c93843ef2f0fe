//! GW007 changing-column-type: a type change rewrites the table (PostgreSQL) or copies it
//! (MySQL) while holding it.

use crate::rule::{POSTGRES_MYSQL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::Dialect;
use godwit_core::analyze::Effect;
use godwit_core::columns::TypeChange;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "changing-column-type",
    code: "GW007",
    summary: "changing a column's type rewrites the table under a lock",
    default_severity: Severity::Error,
    dialects: POSTGRES_MYSQL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::ChangeType {
                table,
                column,
                new_type,
            } if !ctx.created_here(table, s.index)
                && ctx.type_change(s.index, table, column, new_type) == TypeChange::Rewrite =>
            {
                let lock = lock_phrase(s, std::slice::from_ref(table));
                let message = match ctx.dialect {
                    Dialect::MySql => format!(
                        "changes {table}.{column} to {new_type}: unless only metadata changes, MySQL copies the whole table (ALGORITHM=COPY), writes to {table} wait for the copy, and it {lock}"
                    ),
                    _ => format!(
                        "changes the type of {table}.{column} to {new_type}: unless the change is binary-compatible (e.g. varchar(n) to text), PostgreSQL rewrites {table} and rebuilds its indexes while it {lock}, blocking reads and writes"
                    ),
                };
                let help = match ctx.dialect {
                    Dialect::MySql => {
                        "Add a column of the new type, backfill it in batches, switch the code, drop the old column (expand/contract); or run the change with gh-ost / pt-online-schema-change. Writing ALGORITHM=INPLACE, LOCK=NONE makes MySQL refuse instead of silently copying."
                    }
                    _ => {
                        "Expand/contract: add a column of the new type, backfill it in batches, switch the code over, then drop the old column in a later migration."
                    }
                };
                Some(ctx.finding(&RULE, Some(s), message, help))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Dir, fails, lint_dirs, passes};
    use crate::LintSettings;
    use godwit_core::Dialect::*;

    #[test]
    fn postgres_and_mysql() {
        fails(
            "GW007",
            Postgres,
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);\n",
        );
        passes(
            "GW007",
            Postgres,
            "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;\n",
        );
        fails(
            "GW007",
            MySql,
            "ALTER TABLE orders MODIFY COLUMN total DECIMAL(12, 2) NOT NULL;\n",
        );
        passes(
            "GW007",
            MySql,
            "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;\n",
        );
    }

    /// The type a change replaces comes from the migrations before it: atuin widens a
    /// varchar twice (no rewrite on PostgreSQL), umami renames MySQL columns with CHANGE,
    /// restating their type.
    #[test]
    fn judged_against_the_type_the_history_declares() {
        let lint = |d, dirs: &[Dir]| lint_dirs(d, dirs, &LintSettings::default(), Some("GW007")).0;
        let create = (
            "20260101000000_create",
            "CREATE TABLE history (id int, data varchar(8192), kind INT UNSIGNED NOT NULL, v VARCHAR(36) NULL);\n",
            Some("SELECT 1;\n"),
        );
        for (d, sql) in [
            (
                Postgres,
                "ALTER TABLE history ALTER COLUMN data TYPE varchar(32768);\nALTER TABLE history ALTER COLUMN data TYPE text;\n",
            ),
            (
                MySql,
                "ALTER TABLE history CHANGE kind history_kind INTEGER UNSIGNED NOT NULL;\n",
            ),
            (
                MySql,
                "ALTER TABLE history MODIFY v VARCHAR(36) NOT NULL;\n",
            ),
        ] {
            let found = lint(
                d,
                &[create, ("20260102000000_alter", sql, Some("SELECT 1;\n"))],
            );
            assert_eq!(found, vec![], "{d}: {sql}");
        }
        // A real change is still one, and so is any change the history does not show.
        for (d, sql) in [
            (
                Postgres,
                "ALTER TABLE history ALTER COLUMN data TYPE varchar(10);\n",
            ),
            (
                Postgres,
                "ALTER TABLE history ALTER COLUMN id TYPE bigint;\n",
            ),
            (
                MySql,
                "ALTER TABLE history MODIFY v VARCHAR(64) NOT NULL;\n",
            ),
        ] {
            let found = lint(
                d,
                &[create, ("20260102000000_alter", sql, Some("SELECT 1;\n"))],
            );
            assert_eq!(found.len(), 1, "{d}: {sql}");
        }
        let alone = lint(
            Postgres,
            &[(
                "20260102000000_alter",
                "ALTER TABLE history ALTER COLUMN data TYPE text;\n",
                Some("SELECT 1;\n"),
            )],
        );
        assert_eq!(alone.len(), 1, "no history: judged as a rewrite");
    }
}
