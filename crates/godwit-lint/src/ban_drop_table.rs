//! GW001 ban-drop-table: `DROP TABLE` loses every row, and code still using the table
//! breaks the moment it commits.

use crate::rule::{ALL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};
use godwit_core::rebuild::{rows_copied_before, rows_partly_copied_before};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "ban-drop-table",
    code: "GW001",
    summary: "DROP TABLE deletes the table and its data",
    default_severity: Severity::Error,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            // A rebuild keeps the rows and the name; table-rebuild judges it.
            Effect::DropTable { table, .. }
                if !ctx.created_here(table, s.index)
                    && ctx.rebuild_dropping(table, s.index).is_none() =>
            {
                let rows = match (
                    rows_copied_before(ctx.statements, table, s.index),
                    rows_partly_copied_before(ctx.statements, table, s.index),
                ) {
                    (Some((copy, into)), _) => format!(
                        "its rows live on in {into} (statement {} copied them all), but",
                        copy + 1
                    ),
                    (None, Some((copy, into))) => format!(
                        "the rows statement {} copied into {into} live on, but the ones its WHERE (or LIMIT, or join) left out are gone for good;",
                        copy + 1
                    ),
                    (None, None) => "every row is gone for good,".to_owned(),
                };
                Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "drops table {table}: {rows} any code still querying {table} fails, and it {}",
                    lock_phrase(s, std::slice::from_ref(table))
                ),
                "Expand/contract: deploy code that no longer reads or writes the table first, keep a backup, and drop it in a later migration; then ignore this finding with the reason.",
            ))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, passes};
    use godwit_core::Dialect::*;

    #[test]
    fn every_dialect() {
        for d in [Postgres, MySql, Sqlite] {
            fails("GW001", d, "DROP TABLE users;\n");
            passes("GW001", d, "CREATE TABLE users (id int);\n");
            // Dropping what this migration created (a scratch table) loses nothing.
            passes(
                "GW001",
                d,
                "CREATE TABLE scratch (id int);\nDROP TABLE scratch;\n",
            );
            // A rebuild (table-rebuild reports it) is not a drop of the application's table.
            passes(
                "GW001",
                d,
                "CREATE TABLE new_users (id int);\n\
                 INSERT INTO new_users (id) SELECT id FROM users;\n\
                 DROP TABLE users;\n\
                 ALTER TABLE new_users RENAME TO users;\n",
            );
            // A rebuild that copies only some rows loses the others, and says which.
            let (filtered, _) = crate::testing::lint_sql(
                d,
                "CREATE TABLE new_users (id int, a int);\n\
                 INSERT INTO new_users (id, a) SELECT id, a FROM users WHERE a IS NOT NULL;\n\
                 DROP TABLE users;\n\
                 ALTER TABLE new_users RENAME TO users;\n",
                "GW001",
            );
            assert_eq!(filtered.len(), 1, "{filtered:?}");
            assert!(
                filtered[0].message.contains(
                    "the rows statement 2 copied into new_users live on, but the ones its WHERE"
                ) && !filtered[0].message.contains("every row is gone"),
                "{}",
                filtered[0].message
            );
            // An archive is: code that still queries users breaks.
            fails(
                "GW001",
                d,
                "INSERT INTO users_archive (id) SELECT id FROM users;\nDROP TABLE users;\n",
            );
        }
    }
}
