//! GW006 renaming-column: code deployed before the migration still uses the old name.

use crate::rule::{ALL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "renaming-column",
    code: "GW006",
    summary: "renaming a column breaks code that uses the old name",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::RenameColumn { table, from, to } if !ctx.created_here(table, s.index) => {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "renames column {table}.{from} to {to}: the application version still running during the deploy reads and writes {from} and fails until it is replaced, and the rename {}",
                        lock_phrase(s, std::slice::from_ref(table))
                    ),
                    "Expand/contract: add the new column, write to both and backfill, move readers over, then drop the old column in a later migration.",
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
            fails(
                "GW006",
                d,
                "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
            );
            passes("GW006", d, "ALTER TABLE users ADD COLUMN full_name text;\n");
        }
    }
}
