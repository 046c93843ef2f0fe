//! GW011 check-without-not-valid: adding a CHECK scans the table under ACCESS EXCLUSIVE.

use crate::rule::{POSTGRES, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "check-without-not-valid",
    code: "GW011",
    summary: "a CHECK constraint added without NOT VALID is checked while blocking the table",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    let mut findings: Vec<Finding> = ctx
        .effects()
        .filter_map(|(s, e)| match e {
            Effect::AddCheck {
                table,
                not_valid: false,
            } if !ctx.created_here(table, s.index) => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "adds a CHECK constraint on {table} without NOT VALID: PostgreSQL scans every row while it {}, so reads and writes wait for the whole scan",
                    lock_phrase(s, std::slice::from_ref(table))
                ),
                "Add the constraint with NOT VALID (instant: only new rows are checked), then run ALTER TABLE ... VALIDATE CONSTRAINT in a later migration, which takes only SHARE UPDATE EXCLUSIVE.",
            )),
            _ => None,
        })
        .collect();
    fn added(e: &Effect) -> Option<&str> {
        match e {
            Effect::AddCheck {
                table,
                not_valid: true,
            } => Some(table.as_str()),
            _ => None,
        }
    }
    findings.extend(crate::rule::validated_in_same_transaction(
        ctx,
        &RULE,
        added,
        "a CHECK constraint",
    ));
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, passes};
    use godwit_core::Dialect::*;

    #[test]
    fn postgres() {
        fails(
            "GW011",
            Postgres,
            "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);\n",
        );
        let add = "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\n";
        passes("GW011", Postgres, add);
        fails(
            "GW011",
            Postgres,
            &format!("{add}ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;\n"),
        );
    }
}
