//! Declarative schemas (issue 14): `godwit pull` writes a database's schema as DDL that
//! builds the same schema again.

use crate::each_dialect;
use crate::support::*;

/// What `godwit pull --out pulled` wrote for `p`.
pub fn pulled(p: &Project) -> String {
    p.godwit(&["pull", "--out", "pulled"])
        .expect(0)
        .says("Wrote ");
    std::fs::read_to_string(p.path().join("pulled/schema.sql")).unwrap()
}

/// The names in the project's migrations directory, sorted.
pub fn migration_dirs(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `text` without its `-- ` comment lines (the header of a pulled or generated file).
pub fn strip_header(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("-- "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `godwit diff NAME --allow-destructive`; when it stops at probable renames, answers
/// each with `--no-rename`, as a user who knows they are not renames would.
pub fn diff_answering_renames(p: &Project, name: &str) -> Output {
    let out = p.godwit(&["diff", name, "--allow-destructive"]);
    if out.code != 4 || !out.text().contains("probable rename") {
        return out;
    }
    let text = out.text();
    let mut args = vec!["diff", name, "--allow-destructive"];
    for part in text.split("pass `--no-rename ").skip(1) {
        args.push("--no-rename");
        args.push(part.split('`').next().unwrap());
    }
    p.godwit(&args)
}

/// Builds `ddl` in a fresh database through a migration of its own (with `config` as
/// godwit.toml), and pulls it again.
pub fn pulled_again(dialect: Dialect, ddl: &str, config: &str) -> String {
    let q = Project::empty(dialect);
    std::fs::write(q.path().join("godwit.toml"), config).unwrap();
    q.write("20260101000000_pulled/up.sql", ddl);
    q.godwit(&["deploy"]).expect(0);
    q.godwit(&["pull"]).expect(0).stdout.clone()
}

each_dialect!(pull_round_trips_a_realistic_schema);

fn pull_round_trips_a_realistic_schema(dialect: Dialect) {
    let p = Project::new(dialect, "schema_shop");
    p.godwit(&["deploy"]).expect(0);
    let first = pulled(&p);
    // Every object of the fixture is in the file.
    let mut expected = vec!["customers", "orders", "big_spenders"];
    let portable = [
        "CREATE VIEW vip_customers",
        "CREATE TRIGGER orders_",
        "CREATE UNIQUE INDEX customers_email_lower",
    ];
    match dialect {
        Dialect::Postgres => expected.extend(portable.into_iter().chain([
            "CREATE EXTENSION IF NOT EXISTS citext;",
            "CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');",
            "CREATE SEQUENCE invoice_numbers AS bigint START 1000 INCREMENT 5;",
            "id bigserial,",
            "CREATE TABLE \"user\" (",
            "CREATE SEQUENCE legacy_accounts_id_seq AS integer;",
            "ALTER SEQUENCE legacy_accounts_id_seq OWNED BY accounts.id;",
            "EXCLUDE USING gist (during WITH &&)",
            "DEFERRABLE INITIALLY DEFERRED",
            "USING gin (tags)",
            "((total + 1::numeric))",
            "CREATE MATERIALIZED VIEW order_totals",
            "CREATE OR REPLACE FUNCTION order_count(cid bigint)",
            "CREATE OR REPLACE FUNCTION touch_placed()",
            "ON customers (lower(email::text)) WHERE deleted_at IS NULL;",
        ])),
        Dialect::MySql => expected.extend([
            "CREATE SEQUENCE `invoice_numbers`",
            "CREATE TABLE `order` (",
            "KEY `order_parent` (`parent_id`)",
            "FULLTEXT KEY `orders_note_ft` (`note`)",
            "KEY `orders_note_prefix` (`note`(10), `total` DESC)",
            "GENERATED ALWAYS AS (`total` * 100) STORED",
            "on update current_timestamp()",
            "DELIMITER $$",
            "CREATE FUNCTION `order_count`",
            "CREATE PROCEDURE `purge_orders`",
            "CREATE VIEW `vip_orders`",
            "UNIQUE KEY `customers_email` (`email`)",
            "CREATE TRIGGER `orders_default_note` BEFORE INSERT ON `orders` FOR EACH ROW",
        ]),
        Dialect::Sqlite => expected.extend(portable.into_iter().chain([
            "id integer PRIMARY KEY AUTOINCREMENT",
            "CREATE TABLE \"order\" (",
            "PRIMARY KEY (id, line)",
            "GENERATED ALWAYS AS (CAST(total * 100 AS INTEGER)) VIRTUAL",
            "DEFAULT (datetime('now'))",
            "\"Placed At\" text",
            " WHERE deleted_at IS NULL;",
        ])),
    }
    for needle in expected {
        assert!(
            first.contains(needle),
            "{needle:?} is missing from:\n{first}"
        );
    }
    // Views come after the views they read, whatever their names.
    let at = |text: &str| first.find(text).unwrap_or_else(|| panic!("{text}"));
    let (base, dependent) = match dialect {
        Dialect::MySql => ("`vip_orders` AS", "`big_spenders` AS"),
        _ => ("vip_customers AS", "big_spenders AS"),
    };
    assert!(at(base) < at(dependent), "{first}");

    // The same database pulls the same text; a database built from it pulls it again.
    assert_eq!(p.godwit(&["pull"]).expect(0).stdout, first);
    let second = pulled_again(dialect, &first, "");
    assert_eq!(
        second, first,
        "pulled again from a database built from the pulled file"
    );
}

#[test]
fn pull_of_an_empty_database_is_a_header() {
    let p = Project::empty(Dialect::Sqlite);
    let text = p.godwit(&["pull"]).expect(0).stdout.clone();
    assert!(
        text.starts_with("-- The schema of a SQLite database"),
        "{text}"
    );
    assert!(!text.contains("CREATE"), "{text}");
    p.godwit(&["pull", "--out", "db", "--json"])
        .expect(0)
        .says("\"table\":0");
}

each_dialect!(diff_check_compares_the_migrations_with_the_declared_schema);

fn diff_check_compares_the_migrations_with_the_declared_schema(dialect: Dialect) {
    let p = Project::new(dialect, "schema_shop");
    p.godwit(&["deploy"]).expect(0);
    pulled(&p);
    std::fs::write(p.path().join("godwit.toml"), "schema = \"pulled\"\n").unwrap();
    p.godwit(&["diff", "--check"])
        .expect(0)
        .says("The 1 migration builds the declared schema (pulled).");

    // A table declared without its migration, and a trigger the migrations build that the
    // declaration lost.
    let file = p.path().join("pulled/schema.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("CREATE TRIGGER"))
        .collect();
    assert!(kept.len() < text.lines().count(), "{text}");
    let text = kept.join("\n")
        + "\nCREATE TABLE gift_cards (id integer PRIMARY KEY, code varchar(20) NOT NULL);\n";
    std::fs::write(&file, text).unwrap();
    let trigger = match dialect {
        Dialect::Postgres => "trigger orders_touch on orders",
        Dialect::MySql => "trigger orders_default_note on orders",
        Dialect::Sqlite => "trigger orders_note on orders",
    };
    let out = p.godwit(&["diff", "--check"]);
    out.expect(4)
        .says("The 1 migration does NOT build the declared schema (pulled): 2 differences:")
        .says("table gift_cards: declared, but the migrations do not build it (a migration is missing?)")
        .says(&format!(
            "{trigger}: the migrations build it, but the declared schema does not have it"
        ));

    let json = p.godwit(&["diff", "--check", "--json"]);
    json.expect(4);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["matches"], false);
    let objects: Vec<(&str, &str)> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["object"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert!(
        objects.contains(&("table gift_cards", "extra")),
        "{objects:?}"
    );
    assert!(objects.contains(&(trigger, "missing")), "{objects:?}");
}

/// `schema = { command = … }`: the command's output is the declared schema.
#[test]
fn diff_check_reads_a_command_s_output() {
    let p = Project::new(Dialect::Sqlite, "schema_shop");
    p.godwit(&["deploy"]).expect(0);
    pulled(&p);
    std::fs::write(
        p.path().join("godwit.toml"),
        "schema = { command = \"cat pulled/schema.sql\" }\n",
    )
    .unwrap();
    p.godwit(&["diff", "--check"])
        .expect(0)
        .says("builds the declared schema (`cat pulled/schema.sql`)");
    std::fs::write(
        p.path().join("godwit.toml"),
        "schema = { command = \"cat pulled/schema.sql; echo 'CREATE TABLE later (id integer);'\" }\n",
    )
    .unwrap();
    p.godwit(&["diff", "--check"])
        .expect(4)
        .says("table later: declared, but the migrations do not build it");
}

/// Each way the declared schema can be unusable stops diff --check with exit 2 and a
/// sentence that says what to do; no shadow is left behind.
#[test]
fn a_declared_schema_that_cannot_be_used_says_what_to_do() {
    let p = Project::new(Dialect::Sqlite, "schema_shop");
    let config = |text: &str| std::fs::write(p.path().join("godwit.toml"), text).unwrap();
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("godwit.toml declares no schema")
        .says("godwit pull --out schema");
    config("schema = \"nowhere\"\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("does not exist")
        .says("godwit pull --out DIR");
    config("schema = { command = \"echo 'no such tool' >&2; exit 7\" }\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("the schema command `echo 'no such tool' >&2; exit 7` failed (exit status: 7)")
        .says("no such tool")
        .says("run it by hand");
    config("schema = { command = \"true\" }\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("printed nothing");
    config("schema = { cmd = \"x\" }\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("a table takes one key, `command`");
    config("schema = 3\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("`schema` is a file or directory of DDL");
    std::fs::create_dir(p.path().join("empty")).unwrap();
    config("schema = \"empty\"\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("holds no .sql file");
    p.write(
        "../broken.sql",
        "CREATE TABLE a (id integer);\n\nCREATE TABLE b (id integer REFERENCES);\n",
    );
    config("schema = \"broken.sql\"\n");
    p.godwit(&["diff", "--check"])
        .expect(2)
        .says("broken.sql, line 3: the declared schema does not build in an empty database");
}

/// The declared schema runs in one transaction where it can; one with `CREATE INDEX
/// CONCURRENTLY` runs statement by statement, as deploy would run it.
#[test]
fn a_declared_schema_that_cannot_run_in_a_transaction_still_builds() {
    let p = Project::empty(Dialect::Postgres);
    let ddl = "CREATE TABLE a (id integer);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n";
    p.write(
        "20260101000000_a/up.sql",
        &format!("-- godwit:no-transaction\n{ddl}"),
    );
    std::fs::write(p.path().join("schema.sql"), ddl).unwrap();
    std::fs::write(p.path().join("godwit.toml"), "schema = \"schema.sql\"\n").unwrap();
    p.godwit(&["diff", "--check"])
        .expect(0)
        .says("The 1 migration builds the declared schema (schema.sql).");
}
