//! GW016 volatile-default: a column whose default is computed per row makes PostgreSQL
//! rewrite the table to fill it in.

use crate::rule::{POSTGRES, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "volatile-default",
    code: "GW016",
    summary: "adding a column with a volatile default rewrites the table",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::AddColumn {
                table,
                column,
                volatile_default: true,
                ..
            } if !ctx.created_here(table, s.index) => Some(ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "adds {table}.{column} with a volatile default (a per-row function, serial or identity): PostgreSQL rewrites every row of {table} to fill it in while it {}",
                    lock_phrase(s, std::slice::from_ref(table))
                ),
                "Add the column without a default (or with a constant one, which PostgreSQL 11+ stores once), backfill it in batches, then SET DEFAULT for new rows.",
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
            "GW016",
            Postgres,
            "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
        );
        passes(
            "GW016",
            Postgres,
            "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();\n",
        );
        passes(
            "GW016",
            Postgres,
            "ALTER TABLE users ADD COLUMN token uuid;\n",
        );
    }
}
