//! GW001 ban-drop-table: `DROP TABLE` loses every row, and code still using the table
//! breaks the moment it commits.

use crate::rule::{ALL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "ban-drop-table",
    code: "GW001",
    summary: "DROP TABLE deletes the table and its data",
    default_severity: Severity::Error,
    dialects: ALL,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::DropTable { table } if !ctx.created_here(table, s.index) => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "drops table {table}: every row is gone for good, any code still querying {table} fails, and it {}",
                    lock_phrase(s, std::slice::from_ref(table))
                ),
                "Expand/contract: deploy code that no longer reads or writes the table first, keep a backup, and drop it in a later migration; then ignore this finding with the reason.",
            )),
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
        }
    }
}
