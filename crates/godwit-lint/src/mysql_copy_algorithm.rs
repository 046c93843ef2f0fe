//! GW019 mysql-copy-algorithm: an ALTER that MySQL can only run by copying the table.

use crate::rule::{MYSQL, RuleContext, RuleInfo};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "mysql-copy-algorithm",
    code: "GW019",
    summary: "a MySQL ALTER TABLE that cannot run with ALGORITHM=INSTANT or INPLACE",
    default_severity: Severity::Warning,
    dialects: MYSQL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::CopiesTable { table, reason } if !ctx.created_here(table, s.index) => {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "ALTER TABLE {table} {reason}, which MySQL can only do with ALGORITHM=COPY: {table} is rebuilt row by row, writes to it wait for the whole copy, and the exclusive metadata lock queues every query while it waits"
                    ),
                    "For a large table run it with gh-ost or pt-online-schema-change; otherwise schedule it, and state ALGORITHM=INPLACE, LOCK=NONE on ALTERs that should be online so MySQL refuses instead of silently copying.",
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
    fn mysql() {
        fails("GW019", MySql, "ALTER TABLE orders DROP PRIMARY KEY;\n");
        // Replaced in one statement, or added: in place, writes allowed (flipt's
        // composite keys; checked with ALGORITHM=INPLACE, LOCK=NONE on MariaDB 10.11).
        for sql in [
            "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (id, region);\n",
            "ALTER TABLE orders ADD PRIMARY KEY (id);\n",
            "ALTER TABLE orders ADD COLUMN id INT NOT NULL PRIMARY KEY;\n",
        ] {
            passes("GW019", MySql, sql);
        }
        fails(
            "GW019",
            MySql,
            "ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;\n",
        );
        passes(
            "GW019",
            MySql,
            "ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=INSTANT;\n",
        );
    }
}
