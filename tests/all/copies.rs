//! The in-database copies of dropped data never break a valid migration: they live in a
//! namespace of godwit's own, hold nothing a later statement could depend on (types as
//! text, no constraints, no grants), are made only of data that existed before the run,
//! and are listed and pruned. Shaped like the histories that broke: a Prisma project
//! whose enum dance ends in `DROP TYPE`, a diesel history whose `down` drops its types.

use crate::each_dialect;
use crate::support::*;

each_dialect!(
    copies_stay_out_of_the_application_namespace,
    a_run_copies_only_data_that_existed_before_it,
    backups_lists_copies_and_prune_drops_them,
    restore_on_failure_drops_the_copies_of_the_run,
    a_rebuilt_table_is_not_copied_and_down_adds_no_rows_twice,
);

fn text(d: Dialect) -> &'static str {
    if d == Dialect::MySql {
        "VARCHAR(255)"
    } else {
        "TEXT"
    }
}

/// Tables of the application's namespace whose name starts with `godwit_`, other than
/// the history and the lock.
fn godwit_tables_among_the_application_s(p: &Project) -> Vec<String> {
    let sql = match p.db.dialect {
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        Dialect::MySql => {
            "SELECT CONVERT(TABLE_NAME USING utf8mb4) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        }
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    p.db.rows(sql)
        .into_iter()
        .map(|r| r[0].clone())
        .filter(|t| t.starts_with("godwit_") && t != "godwit_migrations" && t != "godwit_lock")
        .collect()
}

/// Whether godwit made a place for copies at all.
fn store_exists(p: &Project) -> bool {
    match p.db.dialect {
        Dialect::Postgres => {
            p.db.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'godwit_copies'") > 0
        }
        Dialect::MySql => {
            admin_int(
                Dialect::MySql,
                &format!(
                    "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{}_godwit_copies'",
                    p.db.name
                ),
            ) > 0
        }
        Dialect::Sqlite => p.db.sqlite_copies_file().exists(),
    }
}

/// `(copy_table, source, rows, state)` of every record, oldest first.
fn records(p: &Project) -> Vec<Vec<String>> {
    let (copies, at) = p.db.copies();
    let (rows, source) = if p.db.dialect == Dialect::MySql {
        (
            "CAST(rows_copied AS CHAR)",
            "CONCAT(source_table, coalesce(CONCAT('.', source_column), ''))",
        )
    } else {
        (
            "CAST(rows_copied AS TEXT)",
            "source_table || coalesce('.' || source_column, '')",
        )
    };
    copies.rows(&format!(
        "SELECT copy_table, {source}, {rows}, state \
         FROM {at}godwit_data_copies ORDER BY created_at, copy_table"
    ))
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// A shop deployed and seeded: customers (primary key), orders, and an empty table.
fn shop(d: Dialect) -> Project {
    let p = Project::empty(d);
    let text = text(d);
    p.write(
        "20261001000000_create_shop/up.sql",
        &format!(
            "CREATE TABLE customers (id INT PRIMARY KEY, name {text}, email {text});\n\
             CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total INT);\n\
             CREATE TABLE wishes (id INT PRIMARY KEY);\n\
             INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', NULL);\n\
             INSERT INTO orders VALUES (10, 1, 5), (11, 1, 7), (12, 2, 9);\n"
        ),
    );
    p.godwit(&["deploy"]).expect(0);
    p
}

/// The rebuild every tool writes for SQLite (hydra's `change_client_pk`, Prisma's
/// `new_` tables): rows copied into a new table, the old one dropped, the new one renamed.
/// The rows never leave, so nothing is copied; and `down`, whose own rebuild copies them
/// back, finds no copy to put back on top of them. A copy made of a table whose rebuild
/// leaves a column out is kept rather than inserted into a table down.sql filled itself.
fn a_rebuilt_table_is_not_copied_and_down_adds_no_rows_twice(d: Dialect) {
    let p = shop(d);
    let text = text(d);
    let rebuild = |from: &str, via: &str, columns: &str| {
        format!(
            "CREATE TABLE {via} (id INT PRIMARY KEY, name {text} NOT NULL DEFAULT '', email {text});\n\
             INSERT INTO {via} ({columns}) SELECT {columns} FROM {from};\n\
             DROP TABLE {from};\n\
             ALTER TABLE {via} RENAME TO {from};\n"
        )
    };
    p.write(
        "20261002000000_rebuild_customers/up.sql",
        &rebuild("customers", "customers_new", "id, name, email"),
    );
    p.write(
        "20261002000000_rebuild_customers/down.sql",
        &rebuild("customers", "customers_prev", "id, name, email"),
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0);
    assert!(!out.text().contains("copied customers"), "{}", out.text());
    assert!(!store_exists(&p), "nothing was copied, so no store");
    p.godwit(&["down"]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM customers"), 2);

    // This rebuild leaves `email` out: the table is copied, and down.sql's own rebuild
    // refills the table, so the copy stays, listed, instead of doubling the rows.
    p.write(
        "20261002000000_rebuild_customers/up.sql",
        &rebuild("customers", "customers_new", "id, name"),
    );
    p.godwit(&["deploy"])
        .expect(0)
        .says("copied customers (2 rows)");
    p.godwit(&["down"])
        .expect(0)
        .says("with rows in it already");
    assert_eq!(p.db.int("SELECT count(*) FROM customers"), 2);
    assert_eq!(records(&p).len(), 1, "{:?}", records(&p));
}

fn copies_stay_out_of_the_application_namespace(d: Dialect) {
    let p = shop(d);
    let text = text(d);
    let store = p.db.copies_name();
    p.write(
        "20261002000000_drop_old_things/up.sql",
        "ALTER TABLE customers DROP COLUMN email;\nDROP TABLE orders;\nDROP TABLE wishes;\n",
    );
    p.write(
        "20261002000000_drop_old_things/down.sql",
        &format!(
            "CREATE TABLE wishes (id INT PRIMARY KEY);\n\
             CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total INT);\n\
             ALTER TABLE customers ADD COLUMN email {text};\n"
        ),
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0)
        .says(&format!(
            "copied customers.email (2 rows) into {store}.customers_email_20261002000000_1"
        ))
        .says(&format!(
            "copied orders (3 rows) into {store}.orders_20261002000000_2"
        ))
        .says("Copied the data of 2 dropped tables or columns (5 rows)");
    // An empty table destroys nothing when dropped: no copy, not even a line about it.
    assert!(!out.text().contains("wishes"), "{}", out.text());
    assert_eq!(
        godwit_tables_among_the_application_s(&p),
        Vec::<String>::new()
    );
    assert_eq!(
        records(&p),
        vec![
            vec![
                "customers_email_20261002000000_1",
                "customers.email",
                "2",
                "copied"
            ],
            vec!["orders_20261002000000_2", "orders", "3", "copied"],
        ]
    );
    if d == Dialect::Sqlite {
        // The copies file sits next to the database, and the database itself does not
        // even have it attached outside godwit's runs.
        assert!(p.db.sqlite_copies_file().is_file());
    }

    p.godwit(&["status"])
        .expect(0)
        .says("2 copies of dropped data in")
        .says("5 rows");
    let listing = json(p.godwit(&["backups", "--json"]).expect(0));
    let copies = listing["copies"]["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 2, "{listing}");
    assert_eq!(copies[1]["source"], "orders");
    assert_eq!(copies[1]["rows"], 3);
    assert_eq!(copies[1]["state"], "copied");
    assert!(copies[1]["bytes"].as_u64().unwrap() > 0, "{listing}");
    p.godwit(&["backups"])
        .expect(0)
        .says(&format!("{store}.orders_20261002000000_2"))
        .says("dropped by 20261002000000; its `godwit down` puts it back");

    p.godwit(&["down"])
        .expect(0)
        .says("Put back 2 copies of dropped data (5 rows).");
    assert_eq!(
        p.db.rows("SELECT id, coalesce(email, 'NULL') FROM customers ORDER BY id"),
        vec![vec!["1", "ada@example.com"], vec!["2", "NULL"]]
    );
    assert_eq!(
        p.db.int("SELECT count(*) FROM orders WHERE total IN (5, 7, 9)"),
        3
    );
    p.godwit(&["status"]).expect(5).says("1 pending");
    let status = json(p.godwit(&["status", "--json"]).expect(5));
    assert_eq!(status["copies"]["copies"].as_array().unwrap().len(), 0);
}

fn a_run_copies_only_data_that_existed_before_it(d: Dialect) {
    let p = shop(d);
    let text = text(d);
    // One run creates tables and columns, fills them, and drops them again: nothing of
    // that existed before the run, so nothing is copied and no store is made.
    p.write(
        "20261002000000_scratch/up.sql",
        &format!(
            "CREATE TABLE scratch (id INT PRIMARY KEY, note {text});\n\
             INSERT INTO scratch VALUES (1, 'a'), (2, 'b');\n\
             ALTER TABLE customers ADD COLUMN tmp INT;\n\
             UPDATE customers SET tmp = id;\n\
             CREATE TABLE IF NOT EXISTS customers (id INT PRIMARY KEY);\n\
             CREATE TABLE staging (id INT PRIMARY KEY);\n\
             INSERT INTO staging VALUES (1);\n"
        ),
    );
    p.write(
        "20261003000000_drop_scratch/up.sql",
        "DROP TABLE scratch;\nALTER TABLE customers DROP COLUMN tmp;\n\
         ALTER TABLE staging RENAME TO staged;\nDROP TABLE staged;\nDROP TABLE wishes;\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0).says("Applied 2 migrations");
    assert!(!out.text().contains("copied"), "{}", out.text());
    assert!(!store_exists(&p), "nothing was copied, so no store");

    // A table that existed before, renamed and dropped in the same run, is copied under
    // the name it had when dropped; `CREATE TABLE IF NOT EXISTS` of it created nothing.
    p.write(
        "20261004000000_rename_orders/up.sql",
        "CREATE TABLE IF NOT EXISTS orders (id INT PRIMARY KEY);\nALTER TABLE orders RENAME TO old_orders;\n",
    );
    p.write(
        "20261005000000_drop_old_orders/up.sql",
        "DROP TABLE old_orders;\n",
    );
    p.godwit(&["deploy"])
        .expect(0)
        .says("copied old_orders (3 rows)");
    assert_eq!(
        records(&p),
        vec![vec![
            "old_orders_20261005000000_1",
            "old_orders",
            "3",
            "copied"
        ]]
    );
}

fn backups_lists_copies_and_prune_drops_them(d: Dialect) {
    let p = shop(d);
    let store = p.db.copies_name();
    p.write("20261002000000_drop_orders/up.sql", "DROP TABLE orders;\n");
    // A down that does not re-create what its up dropped: the copy stays.
    p.write("20261002000000_drop_orders/down.sql", "SELECT 1;\n");
    p.write(
        "20261003000000_drop_customers/up.sql",
        "DROP TABLE customers;\n",
    );
    p.write("20261003000000_drop_customers/down.sql", "SELECT 1;\n");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down", "--steps", "2"])
        .expect(0)
        .says(&format!("kept {store}.customers_20261003000000_1"))
        .says("down.sql did not re-create customers")
        .says("Put back 0 copies of dropped data (0 rows); kept 2");
    p.godwit(&["backups"])
        .expect(0)
        .says("Copies of dropped data in")
        .says(&format!("{store}.orders_20261002000000_1"))
        .says("kept: down.sql did not re-create orders")
        .says("2 copies, 5 rows");

    // Pruning needs to be told what and which.
    p.godwit(&["backups", "prune"]).expect(2).says("--copies");
    p.godwit(&["backups", "prune", "--copies"])
        .expect(2)
        .says("--older-than");
    let dry = json(
        p.godwit(&[
            "backups",
            "prune",
            "--copies",
            "--all",
            "--dry-run",
            "--json",
        ])
        .expect(0),
    );
    assert_eq!(dry["copies"].as_array().unwrap().len(), 2);
    assert_eq!(records(&p).len(), 2);
    p.godwit(&["backups", "prune", "--copies", "--older-than", "1h"])
        .expect(0)
        .says("Nothing to prune.");
    p.godwit(&[
        "backups",
        "prune",
        "--copies",
        "--version",
        "20261002000000",
    ])
    .expect(0)
    .says("Dropped 1 copy of dropped data")
    .says(&format!("{store}.orders_20261002000000_1"));
    let states: Vec<(String, String)> = records(&p)
        .into_iter()
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("orders_20261002000000_1".to_string(), "pruned".to_string()),
            ("customers_20261003000000_1".to_string(), "kept".to_string()),
        ]
    );
    let (copies, at) = p.db.copies();
    let tables = match d {
        Dialect::Postgres => copies.int(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'godwit_copies'",
        ),
        Dialect::MySql => copies.int(&format!(
            "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{store}'"
        )),
        Dialect::Sqlite => copies.int("SELECT count(*) FROM sqlite_master WHERE type = 'table'"),
    };
    assert_eq!(tables, 2, "the records table and one copy remain ({at})");
    p.godwit(&["backups", "prune", "--copies", "--all"])
        .expect(0)
        .says("Dropped 1 copy");
    p.godwit(&["status"]).expect(5).says("2 pending");
    assert!(
        !p.godwit(&["status"])
            .text()
            .contains("copies of dropped data")
    );
    // Whole-database backup files are pruned by the same command.
    assert_eq!(
        json(p.godwit(&["backups", "--json"]).expect(0))["backups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    p.godwit(&["backups", "prune", "--files", "--all"])
        .expect(0)
        .says("Deleted 1 backup file");
    assert_eq!(
        json(p.godwit(&["backups", "--json"]).expect(0))["backups"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// The restore puts back all the data the run's copies hold: they would only be a
/// second copy to prune.
fn restore_on_failure_drops_the_copies_of_the_run(d: Dialect) {
    let p = shop(d);
    p.write("20261002000000_drop_orders/up.sql", "DROP TABLE orders;\n");
    p.write(
        "20261003000000_broken/up.sql",
        "INSERT INTO no_such_table VALUES (1);\n",
    );
    p.godwit(&["deploy", "--restore-on-failure"])
        .expect(1)
        .says("copied orders (3 rows)")
        .says("restored backup");
    assert_eq!(p.db.int("SELECT count(*) FROM orders"), 3);
    let listing = json(p.godwit(&["backups", "--json"]).expect(0));
    assert_eq!(
        listing["copies"]["copies"].as_array().unwrap().len(),
        0,
        "{listing}"
    );
    assert_eq!(
        records(&p),
        vec![vec!["orders_20261002000000_1", "orders", "3", "pruned"]]
    );
}

/// PostgreSQL columns of the application's own types: an enum, a domain, a composite, an
/// array of enums. Dropped, then their types dropped (valid SQL that a copy keeping those
/// types would make fail), then all of it reverted: the values come back, cast back to
/// the types down.sql re-created.
#[test]
fn postgres_copies_keep_types_as_text_and_cast_them_back() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261101000000_create_people/up.sql",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');\n\
         CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');\n\
         CREATE TYPE address AS (street text, city text);\n\
         CREATE TABLE people (id int PRIMARY KEY, name text, mood mood, moods mood[], email email, home address);\n\
         CREATE TABLE visits (id int PRIMARY KEY, person int, mood mood NOT NULL DEFAULT 'happy');\n\
         INSERT INTO people VALUES (1, 'Ada', 'happy', '{happy,sad}', 'ada@example.com', ROW('1 Main St', 'London')),\n\
           (2, 'Grace', 'sad', NULL, NULL, NULL);\n\
         INSERT INTO visits VALUES (1, 1, 'sad'), (2, 2, 'happy');\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let people = "SELECT id, coalesce(mood::text, 'NULL'), coalesce(moods::text, 'NULL'), coalesce(email::text, 'NULL'), \
                  coalesce(home::text, 'NULL') FROM people ORDER BY id";
    let visits = "SELECT id, person, mood::text FROM visits ORDER BY id";
    let (people_before, visits_before) = (p.db.rows(people), p.db.rows(visits));

    p.write(
        "20261102000000_drop_visits_and_moods/up.sql",
        "ALTER TABLE people DROP COLUMN moods;\nDROP TABLE visits;\n",
    );
    p.write(
        "20261102000000_drop_visits_and_moods/down.sql",
        "CREATE TABLE visits (id int PRIMARY KEY, person int, mood mood NOT NULL DEFAULT 'happy');\n\
         ALTER TABLE people ADD COLUMN moods mood[];\n",
    );
    p.write(
        "20261103000000_drop_types/up.sql",
        "ALTER TABLE people DROP COLUMN mood, DROP COLUMN email, DROP COLUMN home;\n\
         DROP TYPE mood;\nDROP DOMAIN email;\nDROP TYPE address;\n",
    );
    p.write(
        "20261103000000_drop_types/down.sql",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');\n\
         CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');\n\
         CREATE TYPE address AS (street text, city text);\n\
         ALTER TABLE people ADD COLUMN mood mood, ADD COLUMN email email, ADD COLUMN home address;\n",
    );
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 2 migrations")
        .says("copied visits (2 rows)")
        .says("copied people.home (2 rows)");
    // Nothing in the copies depends on anything of the application's.
    assert_eq!(
        p.db.int(
            "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_type t ON t.oid = a.atttypid \
             WHERE c.relnamespace = 'godwit_copies'::regnamespace AND a.attnum > 0 \
             AND t.typnamespace <> 'pg_catalog'::regnamespace"
        ),
        0
    );
    assert_eq!(
        p.db.int(
            "SELECT count(*) FROM pg_depend d JOIN pg_class c ON c.oid = d.objid \
             WHERE c.relnamespace = 'godwit_copies'::regnamespace AND d.refobjid IN \
             (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)"
        ),
        0
    );
    let listing = json(p.godwit(&["backups", "--json"]).expect(0));
    let copies = listing["copies"]["copies"].as_array().unwrap();
    let visits_copy = copies.iter().find(|c| c["source"] == "visits").unwrap();
    assert_eq!(visits_copy["converted"]["mood"], "mood", "{listing}");
    let email_copy = copies
        .iter()
        .find(|c| c["source"] == "people.email")
        .unwrap();
    assert_eq!(email_copy["converted"]["email"], "email", "{listing}");
    // The domain is kept as its base type, not as text.
    assert_eq!(
        p.db.rows(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = 'godwit_copies.people_email_20261103000000_1_2'::regclass AND a.attname = 'email'"
        ),
        vec![vec!["text"]]
    );

    p.godwit(&["down", "--steps", "2"])
        .expect(0)
        .says("Put back 5 copies of dropped data");
    assert_eq!(p.db.rows(people), people_before);
    assert_eq!(p.db.rows(visits), visits_before);
    assert_eq!(
        p.db.rows(
            "SELECT pg_typeof(mood)::text, pg_typeof(moods)::text, pg_typeof(email)::text, pg_typeof(home)::text \
             FROM people WHERE id = 1"
        ),
        vec![vec!["mood", "mood[]", "email", "address"]]
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");
}

/// A value that down.sql's re-created type no longer accepts: the revert goes through,
/// the copy stays (and says why), and it can be pruned.
#[test]
fn postgres_a_copy_that_no_longer_fits_is_kept() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261101000000_create_people/up.sql",
        "CREATE TYPE mood AS ENUM ('happy', 'sad');\n\
         CREATE TABLE people (id int PRIMARY KEY, mood mood);\n\
         INSERT INTO people VALUES (1, 'happy'), (2, 'sad');\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20261102000000_drop_mood/up.sql",
        "ALTER TABLE people DROP COLUMN mood;\nDROP TYPE mood;\n",
    );
    p.write(
        "20261102000000_drop_mood/down.sql",
        "CREATE TYPE mood AS ENUM ('happy');\nALTER TABLE people ADD COLUMN mood mood;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"])
        .expect(0)
        .says("kept godwit_copies.people_mood_20261102000000_1")
        .says("putting it back failed: invalid input value for enum mood: \"sad\"");
    assert_eq!(
        p.db.int("SELECT count(*) FROM people WHERE mood IS NOT NULL"),
        0
    );
    p.godwit(&["status"])
        .expect(5)
        .says("1 copy of dropped data in schema godwit_copies");
    p.godwit(&[
        "backups",
        "prune",
        "--copies",
        "--version",
        "20261102000000",
    ])
    .expect(0)
    .says("Dropped 1 copy");
    assert_eq!(
        p.db.int(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'godwit_copies'"
        ),
        1,
        "only the records table"
    );
}

/// Shaped like a public Prisma project: enums created, changed with Prisma's rename /
/// re-create / `USING` dance, dropped, and created again under the same name, over many
/// migrations. Deployed in one run on a fresh database nothing is copied; deployed in
/// steps with data in between, the copies keep the enums as text and every `DROP TYPE`
/// goes through with default settings.
#[test]
fn postgres_prisma_style_enum_history_deploys_with_default_settings() {
    let write = |p: &Project| {
        std::fs::write(
            p.migrations().join("migration_lock.toml"),
            "provider = \"postgresql\"\n",
        )
        .unwrap();
        p.write(
            "20240101000000_init/migration.sql",
            "-- CreateEnum\nCREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');\n\n\
             -- CreateTable\nCREATE TABLE \"User\" (\"id\" SERIAL NOT NULL, \"email\" TEXT NOT NULL, \
             \"role\" \"Role\" NOT NULL DEFAULT 'USER', CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\"));\n",
        );
        p.write(
            "20240102000000_add_owner_role/migration.sql",
            "-- AlterEnum\nBEGIN;\nCREATE TYPE \"Role_new\" AS ENUM ('USER', 'ADMIN', 'OWNER');\n\
             ALTER TABLE \"User\" ALTER COLUMN \"role\" DROP DEFAULT;\n\
             ALTER TABLE \"User\" ALTER COLUMN \"role\" TYPE \"Role_new\" USING (\"role\"::text::\"Role_new\");\n\
             ALTER TYPE \"Role\" RENAME TO \"Role_old\";\nALTER TYPE \"Role_new\" RENAME TO \"Role\";\n\
             DROP TYPE \"Role_old\";\nALTER TABLE \"User\" ALTER COLUMN \"role\" SET DEFAULT 'USER';\nCOMMIT;\n",
        );
        p.write(
            "20240103000000_audit/migration.sql",
            "-- CreateEnum\nCREATE TYPE \"Status\" AS ENUM ('OPEN', 'DONE');\n\n\
             -- CreateTable\nCREATE TABLE \"Audit\" (\"id\" SERIAL NOT NULL, \"status\" \"Status\" NOT NULL, \
             \"roles\" \"Role\"[], CONSTRAINT \"Audit_pkey\" PRIMARY KEY (\"id\"));\n",
        );
        p.write(
            "20240104000000_drop_audit/migration.sql",
            "-- DropTable\nDROP TABLE \"Audit\";\n\n-- DropEnum\nDROP TYPE \"Status\";\n",
        );
        p.write(
            "20240105000000_user_status/migration.sql",
            "-- CreateEnum\nCREATE TYPE \"Status\" AS ENUM ('ACTIVE', 'BANNED');\n\n\
             -- AlterTable\nALTER TABLE \"User\" ADD COLUMN \"status\" \"Status\";\n",
        );
        p.write(
            "20240106000000_drop_roles/migration.sql",
            "-- AlterTable\nALTER TABLE \"User\" DROP COLUMN \"role\",\nDROP COLUMN \"status\";\n\n\
             -- DropEnum\nDROP TYPE \"Role\";\n\n-- DropEnum\nDROP TYPE \"Status\";\n",
        );
    };

    // One run on an empty database: everything dropped was created by the run.
    let fresh = Project::empty(Dialect::Postgres);
    write(&fresh);
    let out = fresh.godwit(&["deploy"]);
    out.expect(0).says("Applied 6 migrations");
    assert!(!out.text().contains("copied"), "{}", out.text());
    assert_eq!(
        fresh
            .db
            .int("SELECT count(*) FROM pg_namespace WHERE nspname = 'godwit_copies'"),
        0
    );

    // In steps, with data written between them, as a production database sees it.
    let p = Project::empty(Dialect::Postgres);
    write(&p);
    p.godwit(&["deploy", "--to", "20240103000000"]).expect(0);
    p.db.exec(
        "INSERT INTO \"User\" (email, role) VALUES ('a@x', 'ADMIN'), ('b@x', 'OWNER'); \
         INSERT INTO \"Audit\" (status, roles) VALUES ('OPEN', '{USER,OWNER}'), ('DONE', NULL)",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0)
        .says("Applied 3 migrations")
        .says("copied Audit (2 rows)")
        .says("copied User.role (2 rows)");
    assert!(!out.text().contains("User.status"), "added by the same run");
    let listing = json(p.godwit(&["backups", "--json"]).expect(0));
    let copies = listing["copies"]["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 2, "{listing}");
    assert_eq!(copies[0]["converted"]["status"], "\"Status\"");
    assert_eq!(copies[0]["converted"]["roles"], "\"Role\"[]");
    assert_eq!(
        p.db.rows("SELECT status, coalesce(roles, 'NULL') FROM godwit_copies.\"Audit_20240104000000_1\" ORDER BY id"),
        vec![vec!["OPEN", "{USER,OWNER}"], vec!["DONE", "NULL"]]
    );
}

/// Shaped like a public diesel history reverted all the way: types created by ups and
/// dropped by downs, tables and columns of those types dropped (and copied) by later
/// ups, and some downs that do not re-create exactly what their up dropped. Every copy
/// that cannot go back stays, holding text, and no `DROP TYPE` of a down is stopped.
#[test]
fn postgres_diesel_style_down_over_many_steps_drops_its_types() {
    let p = Project::empty(Dialect::Postgres);
    let migrations = [
        (
            "20230101000000_create_posts",
            "CREATE TYPE status AS ENUM ('draft', 'published');\n\
             CREATE TABLE posts (id SERIAL PRIMARY KEY, title TEXT NOT NULL, status status NOT NULL DEFAULT 'draft');\n",
            "DROP TABLE posts;\nDROP TYPE status;\n",
        ),
        (
            "20230102000000_add_visibility",
            "CREATE TYPE visibility AS ENUM ('public', 'private');\nALTER TABLE posts ADD COLUMN visibility visibility;\n",
            "ALTER TABLE posts DROP COLUMN visibility;\nDROP TYPE visibility;\n",
        ),
        (
            "20230103000000_create_drafts",
            "CREATE TABLE drafts (id SERIAL PRIMARY KEY, post_id INT, status status);\n",
            "DROP TABLE drafts;\n",
        ),
        (
            "20230104000000_drop_drafts",
            "DROP TABLE drafts;\n",
            "CREATE TABLE drafts (id SERIAL PRIMARY KEY, post_id INT, status status);\n",
        ),
        (
            "20230105000000_drop_visibility",
            "ALTER TABLE posts DROP COLUMN visibility;\nDROP TYPE visibility;\n",
            "CREATE TYPE visibility AS ENUM ('public', 'private');\nALTER TABLE posts ADD COLUMN visibility visibility;\n",
        ),
        (
            "20230106000000_rename_posts",
            "ALTER TABLE posts RENAME TO articles;\n",
            "ALTER TABLE articles RENAME TO posts;\n",
        ),
        (
            "20230107000000_drop_articles",
            "DROP TABLE articles;\n",
            // Not what the up dropped: the status column is missing.
            "CREATE TABLE articles (id SERIAL PRIMARY KEY, title TEXT NOT NULL);\n",
        ),
    ];
    for (dir, up, down) in migrations {
        p.write(&format!("{dir}/up.sql"), up);
        p.write(&format!("{dir}/down.sql"), down);
    }
    p.godwit(&["deploy", "--to", "20230103000000"]).expect(0);
    p.db.exec(
        "INSERT INTO posts (title, status, visibility) VALUES ('a', 'published', 'public'), ('b', 'draft', 'private'), ('c', 'draft', NULL); \
         INSERT INTO drafts (post_id, status) VALUES (1, 'published'), (2, 'draft')",
    );
    p.godwit(&["deploy"])
        .expect(0)
        .says("copied drafts (2 rows)")
        .says("copied posts.visibility (3 rows)")
        .says("copied articles (3 rows)");
    p.godwit(&["down", "--steps", "7"])
        .expect(0)
        .says("Reverted 7 migrations")
        .says("down.sql re-created articles without status")
        .says("put back drafts (2 rows)")
        .says("put back 0 of 3 rows");
    assert!(!p.db.table_exists("posts"));
    assert_eq!(
        p.db.int("SELECT count(*) FROM pg_type WHERE typname IN ('status', 'visibility')"),
        0,
        "every down dropped its type"
    );
    p.godwit(&["status"])
        .expect(5)
        .says("2 copies of dropped data in schema godwit_copies");
    // The history applies again from scratch, copies or not.
    p.godwit(&["deploy"]).expect(0).says("Applied 7 migrations");
}

/// Without the privilege to make a namespace of its own, godwit copies nothing, says
/// once what to grant, and the deploy goes on with the whole-database backup; once
/// granted, copies are made.
#[test]
fn postgres_without_create_privilege_copies_nothing_and_says_what_to_grant() {
    let p = Project::empty(Dialect::Postgres);
    let role = format!("gw_nocreate_{}", std::process::id());
    admin(&PG_ADMIN, &format!("CREATE ROLE {role} LOGIN"));
    let _cleanup = DropRole {
        role: role.clone(),
        database: p.db.name.clone(),
    };
    p.db.exec(&format!("GRANT USAGE, CREATE ON SCHEMA public TO {role}"));
    let url = p.db.url.replace("postgres@", &format!("{role}@"));
    let as_role = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .arg("--database-url")
            .arg(&url)
            .args(args);
        run(cmd)
    };
    p.write(
        "20261001000000_create_shop/up.sql",
        "CREATE TABLE customers (id INT PRIMARY KEY, name TEXT);\n\
         CREATE TABLE orders (id INT PRIMARY KEY, total INT);\n\
         INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');\n\
         INSERT INTO orders VALUES (10, 5), (11, 7), (12, 9);\n",
    );
    as_role(&["deploy"]).expect(0);
    p.write("20261002000000_drop_orders/up.sql", "DROP TABLE orders;\n");
    let out = as_role(&["deploy"]);
    out.expect(0)
        .says("not copying the data this run drops")
        .says(&format!("{role} may not create the schema godwit_copies"))
        .says(&format!(
            "CREATE SCHEMA \"godwit_copies\" AUTHORIZATION \"{role}\""
        ))
        .says("backup ");
    assert_eq!(
        p.db.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'godwit_copies'"),
        0
    );
    p.db.exec(&format!("CREATE SCHEMA godwit_copies AUTHORIZATION {role}"));
    p.write(
        "20261003000000_drop_customers/up.sql",
        "DROP TABLE customers;\n",
    );
    as_role(&["deploy"])
        .expect(0)
        .says("copied customers (2 rows) into godwit_copies.customers_20261003000000_1");
}

/// The role owns objects in the test database: that goes first, even after a failure.
struct DropRole {
    role: String,
    database: String,
}

impl Drop for DropRole {
    fn drop(&mut self) {
        admin(
            &PG_ADMIN,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
        );
        admin(&PG_ADMIN, &format!("DROP ROLE IF EXISTS {}", self.role));
    }
}

/// A user granted its own database only (as managed hosting does): no copies, the
/// advice names the GRANT; with it, copies go to `<database>_godwit_copies`.
#[test]
fn mysql_without_create_privilege_copies_nothing_and_says_what_to_grant() {
    let p = shop(Dialect::MySql);
    let user = format!("gw_nc_{}", std::process::id());
    admin(
        MY_ADMIN,
        &format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT ALL ON `{}`.* TO '{user}'@'%'",
            p.db.name
        ),
    );
    let url = format!("mysql://{user}:pw@127.0.0.1:3306/{}", p.db.name);
    let as_user = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .arg("--database-url")
            .arg(&url)
            .args(args);
        run(cmd)
    };
    let store = p.db.copies_name();
    p.write("20261002000000_drop_orders/up.sql", "DROP TABLE orders;\n");
    as_user(&["deploy"])
        .expect(0)
        .says("not copying the data this run drops")
        .says(&format!("may not create the database {store}"))
        .says(&format!("GRANT ALL ON `{store}`.* TO '{user}'@'%'"));
    assert!(!store_exists(&p));
    admin(
        MY_ADMIN,
        &format!("GRANT ALL ON `{store}`.* TO '{user}'@'%'"),
    );
    p.write(
        "20261003000000_drop_customers/up.sql",
        "DROP TABLE customers;\n",
    );
    as_user(&["deploy"]).expect(0).says(&format!(
        "copied customers (2 rows) into {store}.customers_20261003000000_1"
    ));
    admin(MY_ADMIN, &format!("DROP USER '{user}'@'%'"));
}

/// Prisma keeps no down scripts, so the copy of what a Prisma migration drops cannot be
/// put back by `godwit down`: deploy and `backups` say so instead of promising it.
#[test]
fn a_copy_in_a_folder_without_down_scripts_says_down_cannot_put_it_back() {
    let p = Project::empty(Dialect::Sqlite);
    std::fs::write(
        p.migrations().join("migration_lock.toml"),
        "provider = \"sqlite\"\n",
    )
    .unwrap();
    p.write(
        "20240101000000_init/migration.sql",
        "CREATE TABLE \"Session\" (\"id\" INTEGER PRIMARY KEY, \"host\" TEXT);\n\
         INSERT INTO \"Session\" VALUES (1, 'a'), (2, 'b');\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20240102000000_drop_session/migration.sql",
        "DROP TABLE \"Session\";\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0)
        .says("copied Session (2 rows)")
        .says("Prisma migrations have no down scripts, so `godwit down` cannot put it back");
    assert!(
        !out.text().contains("`godwit down` puts it back"),
        "{}",
        out.text()
    );
    let listed = p.godwit(&["backups"]);
    listed
        .expect(0)
        .says("Session_20240102000000_1")
        .says("Prisma migrations have no down scripts, so `godwit down` cannot put it back");
    assert!(
        !listed.text().contains("puts it back if down.sql"),
        "{}",
        listed.text()
    );
    let listed = p.godwit(&["backups", "--json"]);
    assert_eq!(
        json(listed.expect(0))["copies"]["copies"][0]["without_down"],
        "Prisma migrations have no down scripts"
    );
}

/// On SQLite the copy is written in the migration's transaction: a migration that fails
/// after its drop leaves neither the drop nor the copy.
#[test]
fn sqlite_copy_rolls_back_with_its_migration() {
    let p = shop(Dialect::Sqlite);
    p.write(
        "20261002000000_drop_orders/up.sql",
        "DROP TABLE orders;\nINSERT INTO no_such_table VALUES (1);\n",
    );
    p.godwit(&["deploy"]).expect(1).says("no_such_table");
    assert_eq!(p.db.int("SELECT count(*) FROM orders"), 3);
    let file = p.db.sqlite_copies_file();
    assert!(
        !file.exists() || records(&p).is_empty(),
        "no copy survives the rollback"
    );
    p.godwit(&["resolve", "--rolled-back", "20261002000000"])
        .expect(0);
    p.write("20261002000000_drop_orders/up.sql", "DROP TABLE orders;\n");
    p.godwit(&["deploy"])
        .expect(0)
        .says("copied orders (3 rows) into godwit_copies.orders_20261002000000_1");
    assert_eq!(
        records(&p),
        vec![vec!["orders_20261002000000_1", "orders", "3", "copied"]]
    );
    // The database file itself knows nothing of the copies.
    assert_eq!(
        godwit_tables_among_the_application_s(&p),
        Vec::<String>::new()
    );
}

/// SQLite's table-rebuild procedure, as Prisma, Drizzle Kit and flipt write it, turns
/// foreign keys off first; SQLite ignores that inside the transaction deploy runs the file
/// in, so the rebuild's DROP TABLE deleted every child row through ON DELETE CASCADE.
/// deploy now turns them off around the transaction, as the file means; without the
/// pragma, plan counts what the cascade deletes.
#[test]
fn sqlite_rebuild_that_turns_foreign_keys_off_keeps_the_child_rows() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20261001000000_base/up.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, k TEXT UNIQUE);\n\
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent ON DELETE CASCADE);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.db.exec("INSERT INTO parent VALUES (1, 'a'), (2, 'b'); INSERT INTO child VALUES (10, 1), (11, 1), (12, 2)");
    let rebuild = |pragma: &str| {
        format!(
            "{pragma}CREATE TABLE parent_new (id INTEGER PRIMARY KEY, k TEXT);\n\
             INSERT INTO parent_new (id, k) SELECT id, k FROM parent;\n\
             DROP TABLE parent;\n\
             ALTER TABLE parent_new RENAME TO parent;\n"
        )
    };
    // Without the pragma the cascade is real, and plan says what it deletes.
    p.write("20261002000000_rebuild_parent/up.sql", &rebuild(""));
    p.godwit(&["plan"])
        .expect(0)
        .says("deletes 3 rows of child (ON DELETE CASCADE from parent;");
    p.write(
        "20261002000000_rebuild_parent/up.sql",
        &rebuild("PRAGMA foreign_keys=OFF;\n"),
    );
    let plan = p.godwit(&["plan"]);
    plan.expect(0);
    assert!(
        !plan.text().contains("ON DELETE CASCADE"),
        "{}",
        plan.text()
    );
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM child"), 3);
    assert_eq!(p.db.int("SELECT count(*) FROM parent"), 2);
    p.godwit(&["status"]).expect(0);
}

/// An empty table has nothing to copy: dropping a column of an empty table without a
/// primary key gets no "not copying" line (conductor's V6 printed 13, 10 for empty
/// tables), while the same drop on a table with rows still says why it is not copied.
#[test]
fn an_empty_keyless_table_gets_no_not_copying_line() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "1_init/up.sql",
        "CREATE TABLE empty_log (id INT, note TEXT);\nCREATE TABLE full_log (id INT, note TEXT);\nINSERT INTO full_log VALUES (1, 'x');\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "2_drop_notes/up.sql",
        "ALTER TABLE empty_log DROP COLUMN note;\nALTER TABLE full_log DROP COLUMN note;\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0).says("not copying full_log.note");
    assert!(!out.text().contains("empty_log.note"), "{}", out.text());
}

/// A column dropped as text and re-created by down.sql with another type (`age text`
/// dropped, `age integer` re-added) gets its values back cast to the new type on
/// PostgreSQL, as README says, instead of being kept with "is of type integer but
/// expression is of type text".
#[test]
fn a_column_re_created_with_another_type_gets_its_values_cast_postgres() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20240101000000_create_people/up.sql",
        "CREATE TABLE people (id serial PRIMARY KEY, age text);\nINSERT INTO people (age) VALUES ('34'), ('51'), (NULL);\n",
    );
    p.write(
        "20240101000000_create_people/down.sql",
        "DROP TABLE people;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20240102000000_drop_age/up.sql",
        "ALTER TABLE people DROP COLUMN age;\n",
    );
    p.write(
        "20240102000000_drop_age/down.sql",
        "ALTER TABLE people ADD COLUMN age integer;\n",
    );
    p.godwit(&["deploy"]).expect(0).says("copied people.age");
    let out = p.godwit(&["down"]);
    out.expect(0);
    assert!(!out.text().contains("kept"), "{}", out.text());
    assert_eq!(
        p.db.rows("SELECT id, coalesce(age + 0, -1) FROM people ORDER BY id"),
        vec![
            vec!["1".to_string(), "34".to_string()],
            vec!["2".to_string(), "51".to_string()],
            vec!["3".to_string(), "-1".to_string()],
        ]
    );
}

/// A golang-migrate file with its own `BEGIN … COMMIT` runs statement by statement; when
/// it fails inside that transaction, the rollback takes the copy with the drop, and the
/// output does not claim a copy that no longer exists (keto/openmeter trial).
#[test]
fn a_copy_rolled_back_with_the_files_own_transaction_is_not_reported() {
    let p = Project::empty(Dialect::Postgres);
    p.write("1_init.up.sql", "CREATE TABLE t (id int PRIMARY KEY);\n");
    p.godwit(&["deploy"]).expect(0);
    p.db.exec("INSERT INTO t VALUES (1), (2)");
    p.write(
        "2_fail.up.sql",
        "BEGIN;\nDROP TABLE t;\nSELECT 1/0;\nCOMMIT;\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(1).says("division by zero");
    assert!(!out.text().contains("copied t"), "{}", out.text());
    assert_eq!(p.db.int("SELECT count(*) FROM t"), 2);
    let listed = p.godwit(&["backups"]);
    assert!(!listed.text().contains("t_2_"), "{}", listed.text());
}
