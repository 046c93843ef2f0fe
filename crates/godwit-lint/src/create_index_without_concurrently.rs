//! GW013 create-index-without-concurrently: a plain CREATE INDEX blocks writes for the
//! whole build.

use crate::rule::{POSTGRES, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "create-index-without-concurrently",
    code: "GW013",
    summary: "CREATE INDEX without CONCURRENTLY blocks writes while it builds",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::CreateIndex {
                table,
                concurrently: false,
                ..
            } if !ctx.created_here(table, s.index) => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "creates an index on {table} without CONCURRENTLY: it {}, so every INSERT, UPDATE and DELETE on {table} waits until the index is built",
                    lock_phrase(s, std::slice::from_ref(table))
                ),
                "Use CREATE INDEX CONCURRENTLY in a migration of its own that starts with -- godwit:no-transaction; if it fails, drop the INVALID index it leaves behind and deploy again.",
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
        fails(
            "GW013",
            Postgres,
            "CREATE INDEX orders_customer_idx ON orders (customer_id);\n",
        );
        passes(
            "GW013",
            Postgres,
            "-- godwit:no-transaction\nCREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);\n",
        );
        passes(
            "GW013",
            Postgres,
            "CREATE TABLE orders (id int, customer_id int);\nCREATE INDEX orders_customer_idx ON orders (customer_id);\n",
        );
    }
}
