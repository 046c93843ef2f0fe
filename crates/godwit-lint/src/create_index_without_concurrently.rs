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
                &format!(
                    "Use CREATE INDEX CONCURRENTLY in a migration of its own {}; if it fails, drop the INVALID index it leaves behind and deploy again.",
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
    use godwit_core::source::Migration;

    /// Migrations `(directory, up.sql)` written to a new directory, read as PostgreSQL's.
    fn read(dirs: &[(&str, &str)]) -> (tempfile::TempDir, Vec<Migration>) {
        let tmp = tempfile::tempdir().unwrap();
        for (name, up) in dirs {
            std::fs::create_dir_all(tmp.path().join(name)).unwrap();
            std::fs::write(tmp.path().join(name).join("up.sql"), up).unwrap();
        }
        let migrations = godwit_core::source::read_dir(tmp.path(), Postgres).unwrap();
        (tmp, migrations)
    }

    /// `plan` lints the pending migrations of one deploy: a table an earlier one creates is
    /// new when a later one indexes it, and a plain CREATE INDEX blocks nobody. Linted as
    /// deployed one by one (`godwit lint`), the index comes later, on a table in use.
    #[test]
    fn a_table_created_earlier_in_the_run_is_new() {
        let (_tmp, migrations) = read(&[
            (
                "20260101000000_orders",
                "CREATE TABLE orders (id int, customer_id int);\n",
            ),
            (
                "20260102000000_orders_index",
                "CREATE INDEX orders_customer_idx ON orders (customer_id);\nCREATE INDEX users_email_idx ON users (email);\n",
            ),
        ]);
        let settings = crate::LintSettings::default();
        // The lines of the second migration GW013 reports: 1 indexes orders, 2 users.
        let tables = |findings: Vec<godwit_core::finding::Finding>| -> Vec<&'static str> {
            findings
                .into_iter()
                .filter(|f| f.code == "GW013")
                .map(|f| match f.location.line {
                    Some(1) => "orders",
                    Some(2) => "users",
                    other => panic!("GW013 at line {other:?}"),
                })
                .collect()
        };
        let run = crate::lint_migrations_after(&[], &migrations, Postgres, &settings).unwrap();
        assert_eq!(tables(run), ["users"]);
        let each = crate::lint_migrations(&migrations, Postgres, &settings).unwrap();
        assert_eq!(tables(each), ["orders", "users"]);
        // Applied already, the table is not new to the pending migration.
        let after =
            crate::lint_migrations_after(&migrations[..1], &migrations[1..], Postgres, &settings)
                .unwrap();
        assert_eq!(tables(after), ["orders", "users"]);
    }

    /// A table the run creates stays new under the name a later migration gives it
    /// (papermark creates `Conversation`, then renames it `Chat`). A rebuild's copy
    /// renamed to the rebuilt table's name holds its rows: it is new only if the rebuilt
    /// table was (hydra rebuilds tables its earlier migrations create).
    #[test]
    fn a_table_created_earlier_in_the_run_is_new_under_its_new_name() {
        let (_tmp, migrations) = read(&[
            (
                "20260101000000_conversation",
                "CREATE TABLE conversation (id int);\n",
            ),
            (
                "20260102000000_chat",
                "ALTER TABLE conversation RENAME TO chat;\n",
            ),
            (
                "20260103000000_index",
                "CREATE INDEX chat_id ON chat (id);\n",
            ),
            (
                "20260104000000_rebuild_users",
                "CREATE TABLE new_users (id int);\nINSERT INTO new_users (id) SELECT id FROM users;\nDROP TABLE users;\nALTER TABLE new_users RENAME TO users;\n",
            ),
            (
                "20260105000000_index_users",
                "CREATE INDEX users_id ON users (id);\n",
            ),
            ("20260106000000_access", "CREATE TABLE access (id int);\n"),
            (
                "20260107000000_rebuild_access",
                "CREATE TABLE access_tmp (id int);\nINSERT INTO access_tmp (id) SELECT id FROM access;\nDROP TABLE access;\nALTER TABLE access_tmp RENAME TO access;\n",
            ),
            (
                "20260108000000_index_access",
                "CREATE INDEX access_id ON access (id);\n",
            ),
            // Zero renames a table the run created and changes it in the same migration.
            (
                "20260109000000_rename_and_index",
                "ALTER TABLE chat RENAME TO thread;\nCREATE INDEX thread_id ON thread (id);\n",
            ),
        ]);
        let run = crate::lint_migrations_after(
            &[],
            &migrations,
            Postgres,
            &crate::LintSettings::default(),
        )
        .unwrap();
        let indexed: Vec<_> = run
            .iter()
            .filter(|f| f.code == "GW013")
            .map(|f| f.location.migration.clone().unwrap_or_default())
            .collect();
        assert_eq!(indexed, ["20260105000000_index_users"]);
    }

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
        // crates.io: a materialized view created above is as new as a table.
        passes(
            "GW013",
            Postgres,
            "CREATE MATERIALIZED VIEW recent AS SELECT crate_id, SUM(downloads) AS downloads FROM version_downloads GROUP BY crate_id;\n\
             CREATE UNIQUE INDEX recent_crate_id ON recent (crate_id);\n",
        );
    }
}
