//! GW024 table-rebuild: a table copied into a new one, dropped, and replaced under its
//! own name. The rows survive; the columns the copy leaves out do not, and on a server
//! with concurrent writers, neither do rows written between the copy and the drop.

use crate::rule::{ALL, RuleContext, RuleInfo, table_list};
use godwit_core::Dialect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "table-rebuild",
    code: "GW024",
    summary: "a table rebuilt by copy, drop and rename keeps only the columns the copy reads",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.rebuilds
        .iter()
        .filter_map(|r| {
            let drop = ctx.statements.get(r.drop)?;
            let carried = match &r.columns {
                None => "every column (`*`, matched by position, not by name)".to_owned(),
                Some(columns) if columns.is_empty() => "no column at all".to_owned(),
                Some(columns) => format!(
                    "only {} {}: any other column of {} is dropped here with its data",
                    if columns.len() == 1 { "column" } else { "columns" },
                    table_list(columns),
                    r.dropped
                ),
            };
            let onward = if r.survivor == r.into {
                String::new()
            } else {
                format!(" and on into {}", r.survivor)
            };
            let mut message = format!(
                "rebuilds table {}: statement {} copies every row of {} into {}{onward}, reading {carried}",
                r.name,
                r.copy + 1,
                r.dropped,
                r.into
            );
            // SQLite holds its one write lock from the first write of the transaction, so
            // nothing can write in between; elsewhere the copy only reads.
            let concurrent = ctx.dialect != Dialect::Sqlite || !ctx.mode.is_transaction();
            if concurrent {
                message.push_str(&format!(
                    "; rows the application writes to {} after statement {} and before this drop are lost, because nothing locks it against writes",
                    r.dropped,
                    r.copy + 1
                ));
            }
            if ctx.dialect == Dialect::Sqlite && !ctx.foreign_keys_off {
                message.push_str(&format!(
                    "; foreign keys stay on (nothing in the migration turns them off), so the drop also deletes the rows of tables that reference {} ON DELETE CASCADE, and nulls those that reference it ON DELETE SET NULL",
                    r.dropped
                ));
            }
            let help = match ctx.dialect {
                Dialect::Sqlite if !ctx.foreign_keys_off => {
                    "Start the migration with PRAGMA foreign_keys=OFF (deploy turns them off around it) and check that the copy reads every column to keep; `godwit plan` counts what would be lost on the live database. Then ignore this finding with the reason."
                }
                Dialect::Sqlite => {
                    "Check that the copy reads every column to keep (`godwit plan` counts the values in the others on the live database), then ignore this finding with the reason."
                }
                Dialect::Postgres => {
                    "Prefer ALTER TABLE, which changes the table in place. If it must be rebuilt, LOCK TABLE it IN EXCLUSIVE MODE before the copy, check that the copy reads every column to keep (`godwit plan` counts the others), then ignore this finding with the reason."
                }
                Dialect::MySql => {
                    "Prefer ALTER TABLE (with ALGORITHM=INPLACE where it can), which changes the table in place. If it must be rebuilt, stop the writers first and check that the copy reads every column to keep (`godwit plan` counts the others); then ignore this finding with the reason."
                }
            };
            Some(ctx.finding(&RULE, Some(drop), message, help))
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
            // The new table takes the old one's name (Prisma, Drizzle Kit).
            let found = fails(
                "GW024",
                d,
                "CREATE TABLE new_users (id int, email text);\n\
                 INSERT INTO new_users (id, email) SELECT id, lower(email) FROM users;\n\
                 DROP TABLE users;\n\
                 ALTER TABLE new_users RENAME TO users;\n",
            );
            assert_eq!(found[0].location.statement, Some(3), "{d}");
            // The old table is moved aside first (authelia), and `*` carries every column.
            fails(
                "GW024",
                d,
                "ALTER TABLE users RENAME TO users_old;\n\
                 CREATE TABLE users (id int);\n\
                 INSERT INTO users SELECT * FROM users_old;\n\
                 DROP TABLE users_old;\n",
            );
            // A plain drop is ban-drop-table's, not a rebuild.
            passes("GW024", d, "DROP TABLE users;\n");
        }
        // Prisma's and Drizzle Kit's spelling: foreign keys off first, so no cascade.
        {
            let off = fails(
                "GW024",
                Sqlite,
                "PRAGMA foreign_keys=OFF;\n\
                 CREATE TABLE new_users (id int);\n\
                 INSERT INTO new_users (id) SELECT id FROM users;\n\
                 DROP TABLE users;\n\
                 ALTER TABLE new_users RENAME TO users;\n\
                 PRAGMA foreign_keys=ON;\n",
            );
            assert!(!off[0].message.contains("foreign keys stay on"));
        }
    }
}
