//! GW018 adding-enum-value: `ALTER TYPE ... ADD VALUE` and transactions do not mix.

use crate::rule::{POSTGRES, RuleContext, RuleInfo};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "adding-enum-value",
    code: "GW018",
    summary: "ALTER TYPE ... ADD VALUE inside a transaction",
    default_severity: Severity::Warning,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    if !ctx.mode.is_transaction() {
        return Vec::new();
    }
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::AddEnumValue { type_name } => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "adds a value to enum type {type_name} inside the migration's transaction: PostgreSQL before 12 refuses this, and from 12 on the new value cannot be used until the transaction commits, so any later statement using it fails; the type's ACCESS EXCLUSIVE lock also blocks every query that uses {type_name} until commit"
                ),
                "Give the ADD VALUE a migration of its own starting with -- godwit:no-transaction, deployed before the ones that use the value; for sets of values that change often, prefer a lookup table or a CHECK constraint.",
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
            "GW018",
            Postgres,
            "ALTER TYPE order_status ADD VALUE 'refunded';\n",
        );
        passes(
            "GW018",
            Postgres,
            "-- godwit:no-transaction\nALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded';\n",
        );
    }
}
