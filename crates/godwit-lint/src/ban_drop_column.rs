//! GW002 ban-drop-column: dropping a column loses its data and breaks code that still
//! selects or inserts it.

use crate::rule::{ALL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "ban-drop-column",
    code: "GW002",
    summary: "DROP COLUMN deletes the column's data and breaks code that uses it",
    default_severity: Severity::Error,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::DropColumn { table, column } if !ctx.created_here(table, s.index) => {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "drops column {table}.{column}: its values are gone for good, code still selecting or inserting {column} fails, and it {}",
                        lock_phrase(s, std::slice::from_ref(table))
                    ),
                    "Expand/contract: stop reading and writing the column in the application, deploy that, then drop the column in a later migration; then ignore this finding with the reason.",
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
            fails("GW002", d, "ALTER TABLE users DROP COLUMN email;\n");
            passes("GW002", d, "ALTER TABLE users ADD COLUMN email text;\n");
        }
    }
}
