//! GW007 changing-column-type: a type change rewrites the table (PostgreSQL) or copies it
//! (MySQL) while holding it.

use crate::rule::{POSTGRES_MYSQL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::Dialect;
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "changing-column-type",
    code: "GW007",
    summary: "changing a column's type rewrites the table under a lock",
    default_severity: Severity::Error,
    dialects: POSTGRES_MYSQL,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::ChangeType {
                table,
                column,
                new_type,
            } if !ctx.created_here(table, s.index) => {
                let lock = lock_phrase(s, std::slice::from_ref(table));
                let message = match ctx.dialect {
                    Dialect::MySql => format!(
                        "changes {table}.{column} to {new_type}: unless only metadata changes, MySQL copies the whole table (ALGORITHM=COPY), writes to {table} wait for the copy, and it {lock}"
                    ),
                    _ => format!(
                        "changes the type of {table}.{column} to {new_type}: unless the change is binary-compatible (e.g. varchar(n) to text), PostgreSQL rewrites {table} and rebuilds its indexes while it {lock}, blocking reads and writes"
                    ),
                };
                let help = match ctx.dialect {
                    Dialect::MySql => {
                        "Add a column of the new type, backfill it in batches, switch the code, drop the old column (expand/contract); or run the change with gh-ost / pt-online-schema-change. Writing ALGORITHM=INPLACE, LOCK=NONE makes MySQL refuse instead of silently copying."
                    }
                    _ => {
                        "Expand/contract: add a column of the new type, backfill it in batches, switch the code over, then drop the old column in a later migration."
                    }
                };
                Some(ctx.finding(&RULE, Some(s), message, help))
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
    fn postgres_and_mysql() {
        fails(
            "GW007",
            Postgres,
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);\n",
        );
        passes(
            "GW007",
            Postgres,
            "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;\n",
        );
        fails(
            "GW007",
            MySql,
            "ALTER TABLE orders MODIFY COLUMN total DECIMAL(12, 2) NOT NULL;\n",
        );
        passes(
            "GW007",
            MySql,
            "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;\n",
        );
    }
}
