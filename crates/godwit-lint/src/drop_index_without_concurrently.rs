//! GW014 drop-index-without-concurrently: a plain DROP INDEX blocks the table while it
//! waits for running queries.

use crate::rule::{POSTGRES, RuleContext, RuleInfo};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "drop-index-without-concurrently",
    code: "GW014",
    summary: "DROP INDEX without CONCURRENTLY blocks the table",
    default_severity: Severity::Warning,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::DropIndex {
                concurrently: false,
            } => Some(ctx.finding(
                &RULE,
                Some(s),
                "drops an index without CONCURRENTLY: it takes an ACCESS EXCLUSIVE lock on the index's table, so every query on that table waits behind any long transaction using it".to_string(),
                &format!(
                    "Use DROP INDEX CONCURRENTLY in a migration of its own {}.",
                    ctx.outside_a_transaction()
                ),
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
    fn postgres() {
        fails("GW014", Postgres, "DROP INDEX orders_customer_idx;\n");
        passes(
            "GW014",
            Postgres,
            "-- godwit:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx;\n",
        );
    }
}
