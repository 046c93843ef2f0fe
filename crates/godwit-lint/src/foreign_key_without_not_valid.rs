//! GW010 foreign-key-without-not-valid: adding a foreign key checks every row while
//! holding both tables.

use crate::rule::{POSTGRES, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "foreign-key-without-not-valid",
    code: "GW010",
    summary: "a foreign key added without NOT VALID is checked under a lock on both tables",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    let mut findings: Vec<Finding> = ctx
        .effects()
        .filter_map(|(s, e)| match e {
            Effect::AddForeignKey {
                table,
                not_valid: false,
            } if !ctx.created_here(table, s.index) => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "adds a foreign key on {table} without NOT VALID: PostgreSQL checks every existing row while it {}, so writes to both wait for the whole check",
                    lock_phrase(s, &s.tables)
                ),
                "Add the constraint with NOT VALID (instant: only new rows are checked), then run ALTER TABLE ... VALIDATE CONSTRAINT in a later migration, which takes only SHARE UPDATE EXCLUSIVE.",
            )),
            _ => None,
        })
        .collect();
    fn added(e: &Effect) -> Option<&str> {
        match e {
            Effect::AddForeignKey {
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
        "a foreign key",
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
            "GW010",
            Postgres,
            "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);\n",
        );
        let add = "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;\n";
        let validate = "ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;\n";
        passes("GW010", Postgres, add);
        passes("GW010", Postgres, validate);
        // In one transaction the ADD's lock is still held while VALIDATE scans.
        let found = fails("GW010", Postgres, &format!("{add}{validate}"));
        assert_eq!(found[0].location.line, Some(2));
        passes(
            "GW010",
            Postgres,
            &format!("-- godwit:no-transaction\n{add}{validate}"),
        );
    }
}
