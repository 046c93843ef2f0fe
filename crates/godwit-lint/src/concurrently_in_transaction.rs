//! GW015 concurrently-in-transaction: PostgreSQL refuses `CONCURRENTLY` inside a
//! transaction block, and godwit runs a migration in one unless told otherwise. Whether
//! it does is [`godwit_core::source::Script::transaction_mode`]'s answer, the one deploy uses:
//! a golang-migrate or Prisma file holding a lone `CREATE INDEX CONCURRENTLY` runs
//! outside a transaction, as those tools ran it, and is not reported.

use crate::rule::{POSTGRES, RuleContext, RuleInfo};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "concurrently-in-transaction",
    code: "GW015",
    summary: "CREATE/DROP INDEX CONCURRENTLY in a migration that runs in a transaction",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: true,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    let in_transaction = ctx.mode.is_transaction();
    let mut in_begin = false;
    let mut findings = Vec::new();
    for s in ctx.statements {
        for e in &s.effects {
            let what = match e {
                Effect::BeginTransaction => {
                    in_begin = true;
                    continue;
                }
                Effect::CreateIndex {
                    concurrently: true,
                    table,
                    ..
                } => format!("CREATE INDEX CONCURRENTLY on {table}"),
                Effect::DropIndex { concurrently: true } => "DROP INDEX CONCURRENTLY".to_string(),
                _ => continue,
            };
            let file = ctx.script_place();
            let (script, command) = if ctx.is_down() {
                (format!("its down script ({file})"), "`godwit down`")
            } else {
                ("this migration".to_string(), "the deploy")
            };
            let message = if in_transaction {
                format!(
                    "{what} cannot run inside a transaction block, and {script} runs in one (nothing marks it to run without: no -- godwit:no-transaction or its tool's equivalent): PostgreSQL refuses it and {command} fails"
                )
            } else if in_begin {
                format!(
                    "{what} comes after a BEGIN written in the file: PostgreSQL refuses it inside that transaction block"
                )
            } else {
                continue;
            };
            findings.push(ctx.finding(
                &RULE,
                Some(s),
                message,
                &if ctx.reads_directives() {
                    format!("Start {file} with -- godwit:no-transaction and keep the concurrent statement in a migration of its own, without BEGIN/COMMIT, so a failure is easy to retry.")
                } else {
                    format!(
                        "Keep the concurrent statement in a migration of its own {}, without BEGIN/COMMIT, so a failure is easy to retry.",
                        ctx.outside_a_transaction()
                    )
                },
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, lint_dirs, passes};
    use crate::LintSettings;
    use godwit_core::Dialect::*;

    /// down.sql runs in a transaction too (crates.io had a CONCURRENTLY there), and only
    /// `godwit down` would find out; the drop rules stay quiet about down scripts.
    #[test]
    fn down_scripts_are_checked_for_what_cannot_run() {
        let lint = |down: &str| {
            lint_dirs(
                Postgres,
                &[(
                    "20260101000000_add_orders_index",
                    "-- godwit:no-transaction\nCREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);\n",
                    Some(down),
                )],
                &LintSettings::default(),
                None,
            )
            .0
        };
        let found = lint("DROP INDEX CONCURRENTLY orders_customer_idx;\nDROP TABLE legacy;\n");
        let codes: Vec<&str> = found.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["GW015"], "{found:#?}");
        let file = found[0].location.file.as_ref().unwrap();
        assert!(file.ends_with("down.sql"), "{file:?}");
        assert!(found[0].help.as_deref().unwrap().contains("Start down.sql"));
        assert!(
            lint("-- godwit:no-transaction\nDROP INDEX CONCURRENTLY orders_customer_idx;\n")
                .is_empty()
        );
    }

    #[test]
    fn postgres() {
        fails(
            "GW015",
            Postgres,
            "CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);\n",
        );
        passes(
            "GW015",
            Postgres,
            "-- godwit:no-transaction\nCREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);\n",
        );
        let found = fails(
            "GW015",
            Postgres,
            "-- godwit:no-transaction\nBEGIN;\nDROP INDEX CONCURRENTLY orders_customer_idx;\nCOMMIT;\n",
        );
        assert!(
            found[0].message.contains("after a BEGIN"),
            "{}",
            found[0].message
        );
    }
}
