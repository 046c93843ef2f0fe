//! GW003 ban-drop-schema: `DROP SCHEMA` (or MySQL's `DROP DATABASE`) removes every object
//! in it at once.

use crate::rule::{POSTGRES_MYSQL, RuleContext, RuleInfo};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "ban-drop-schema",
    code: "GW003",
    summary: "DROP SCHEMA / DROP DATABASE deletes every table in it",
    default_severity: Severity::Error,
    dialects: POSTGRES_MYSQL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::DropSchema { schema } => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "drops schema {schema} with every table, view and function in it, taking an ACCESS EXCLUSIVE lock on each of them; the data is gone for good"
                ),
                "Drop the objects one by one in migrations of their own, after the code stops using them and a backup exists; a migration should never need to drop a whole schema.",
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
    fn postgres_and_mysql() {
        fails("GW003", Postgres, "DROP SCHEMA reporting CASCADE;\n");
        passes("GW003", Postgres, "CREATE SCHEMA reporting;\n");
        fails("GW003", MySql, "DROP DATABASE reporting;\n");
        passes("GW003", MySql, "CREATE DATABASE reporting;\n");
    }
}
