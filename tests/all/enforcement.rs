//! The database's side of a plugin's confinement, as an operator meets it at deploy: a
//! PostgreSQL role godwit may not create stops the deploy before anything is applied, with
//! the SQL an administrator would run; a role an administrator prepared is used (and
//! refused when it holds more than a plugin's grants give); and running with godwit's SQL
//! checker alone is the operator's explicit choice, shown by deploy, plan and status
//! (and by necessity on MySQL/MariaDB, shown as such).

use crate::steps::plugin_toml;
use crate::support::*;

/// `items` with three rows, then a data step that adds 1 to each `n`.
fn project(d: Dialect, extra: &str) -> Project {
    let p = Project::empty(d);
    p.write(
        "20260101000000_items/up.sql",
        "CREATE TABLE items (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);\n\
         INSERT INTO items (id) VALUES (1), (2), (3);\n",
    );
    p.write(
        "20260102000000_count_items/step.toml",
        "plugin = \"counter\"\n",
    );
    std::fs::write(
        p.path().join("godwit.toml"),
        plugin_toml(
            "counter",
            "hostile_step",
            &format!(
                "{extra}\n[plugins.counter.grants]\nread = [\"items\"]\nwrite = [\"items.n\"]\n"
            ),
        ),
    )
    .unwrap();
    p
}

/// A project whose database goes before the server roles of the test, which may own
/// objects or hold privileges in it: whatever the test's outcome, nothing is left behind.
struct WithRoles {
    p: Option<Project>,
    roles: Vec<String>,
}

impl WithRoles {
    fn new(p: Project) -> WithRoles {
        WithRoles {
            p: Some(p),
            roles: Vec::new(),
        }
    }

    fn p(&self) -> &Project {
        self.p.as_ref().expect("the project")
    }

    /// Creates a role for this test only, named after its database.
    fn role(&mut self, suffix: &str, attributes: &str) -> String {
        let name = format!("{}_{suffix}", self.p().db.name);
        admin(&PG_ADMIN, &format!("CREATE ROLE {name} {attributes}"));
        self.roles.push(name.clone());
        name
    }

    /// godwit as `login`, which owns the test's database as an application's user does.
    fn godwit_as(&self, login: &str, args: &[&str]) -> Output {
        let p = self.p();
        let url = PG_SERVER.replace("postgres@", &format!("{login}@")) + "/" + &p.db.name;
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .args(["--database-url", &url])
            .args(args);
        run(cmd)
    }
}

impl Drop for WithRoles {
    fn drop(&mut self) {
        drop(self.p.take());
        for role in &self.roles {
            admin(&PG_ADMIN, &format!("DROP ROLE IF EXISTS {role}"));
        }
    }
}

fn applied(p: &Project) -> i64 {
    if !p.db.table_exists("godwit_migrations") {
        return 0;
    }
    p.db.int("SELECT COUNT(*) FROM godwit_migrations WHERE state = 'applied'")
}

fn plugin_roles(p: &Project) -> i64 {
    admin_int(
        Dialect::Postgres,
        &format!(
            "SELECT COUNT(*) FROM pg_catalog.pg_shdescription WHERE description = '{}'",
            godwit::driver::postgres::plugin_role_comment(&p.db.name)
        ),
    )
}

/// The SQL an administrator is asked to run, from godwit's message.
fn admin_sql(out: &Output) -> String {
    let text = out.text();
    let line = text
        .lines()
        .find_map(|l| {
            l.split_once("ask an administrator to run once: ")
                .map(|(_, sql)| sql)
        })
        .unwrap_or_else(|| panic!("no SQL for an administrator in:\n{text}"));
    line.trim().to_owned()
}

#[test]
fn role_godwit_may_not_create_stops_deploy_before_the_first_migration() {
    let mut t = WithRoles::new(project(Dialect::Postgres, ""));
    let login = t.role("login", "LOGIN NOCREATEROLE");
    let p = t.p();
    admin(
        &PG_ADMIN,
        &format!("ALTER DATABASE {} OWNER TO {login}", p.db.name),
    );

    // plan says so before anything is tried, and changes nothing.
    t.godwit_as(&login, &["plan"])
        .expect(0)
        .says("deploy stops before applying anything")
        .says("CREATE ROLE");
    let plan: serde_json::Value =
        serde_json::from_str(&t.godwit_as(&login, &["plan", "--json"]).stdout).unwrap();
    assert!(plan["enforcement"][0]["problem"].is_string(), "{plan}");
    let out = t.godwit_as(&login, &["deploy"]);
    out.expect(4).says("CREATE ROLE").says("GRANT");
    assert!(
        !p.db.table_exists("items"),
        "the migration before the step was applied:\n{}",
        out.text()
    );
    assert_eq!(applied(p), 0);

    // The administrator runs what godwit printed; then the same deploy goes through.
    admin(&format!("{}/{}", *PG_SERVER, p.db.name), &admin_sql(&out));
    t.godwit_as(&login, &["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 3);
    assert_eq!(applied(p), 2);
}

/// `reset` drops everything and deploys again: it checks the role before the drop.
#[test]
fn reset_checks_the_role_before_dropping_anything() {
    let mut t = WithRoles::new(project(Dialect::Postgres, ""));
    let login = t.role("login", "LOGIN NOCREATEROLE");
    let p = t.p();
    admin(
        &PG_ADMIN,
        &format!("ALTER DATABASE {} OWNER TO {login}", p.db.name),
    );
    let step = p.migrations().join("20260102000000_count_items");
    std::fs::rename(&step, p.path().join("count_items")).unwrap();
    t.godwit_as(&login, &["deploy"]).expect(0);
    std::fs::rename(p.path().join("count_items"), &step).unwrap();

    t.godwit_as(&login, &["reset", "--force"])
        .expect(4)
        .says("CREATE ROLE");
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items"),
        3,
        "reset dropped items"
    );
    assert_eq!(applied(p), 1);
}

#[test]
fn prepared_role_is_used_and_one_holding_too_much_is_refused() {
    let mut t = WithRoles::new(project(Dialect::Postgres, ""));
    let role = format!("{}_counter", t.p().db.name);
    let config = t.p().path().join("godwit.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        toml.replace(
            "[plugins.counter.grants]",
            &format!("database_role = \"{role}\"\n[plugins.counter.grants]"),
        ),
    )
    .unwrap();

    // Named but not created: refused, and godwit creates nothing in its place.
    t.p().godwit(&["deploy"]).expect(4).says(&role);
    assert!(!t.p().db.table_exists("items"));
    let exists = || {
        admin_int(
            Dialect::Postgres,
            &format!("SELECT COUNT(*) FROM pg_roles WHERE rolname = '{role}'"),
        )
    };
    assert_eq!(exists(), 0);

    t.role("counter", "NOLOGIN");
    let p = t.p();
    // More than a plugin's grants give, each on its own: nothing is applied.
    for (grant, revoke) in [
        ("ALTER ROLE {r} SUPERUSER", "ALTER ROLE {r} NOSUPERUSER"),
        ("ALTER ROLE {r} BYPASSRLS", "ALTER ROLE {r} NOBYPASSRLS"),
        ("ALTER ROLE {r} CREATEROLE", "ALTER ROLE {r} NOCREATEROLE"),
        ("ALTER ROLE {r} LOGIN", "ALTER ROLE {r} NOLOGIN"),
        (
            "GRANT pg_read_all_data TO {r}",
            "REVOKE pg_read_all_data FROM {r}",
        ),
    ] {
        admin(&PG_ADMIN, &grant.replace("{r}", &role));
        let out = p.godwit(&["deploy"]);
        admin(&PG_ADMIN, &revoke.replace("{r}", &role));
        out.expect(4).says(&role);
        assert!(
            !p.db.table_exists("items"),
            "{grant}: applied:\n{}",
            out.text()
        );
    }

    p.godwit(&["plan"]).expect(0).says(&format!(
        "the PostgreSQL role {role} (prepared by an administrator"
    ));
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 3);
    // godwit kept the prepared role's privileges in line, and made no role of its own.
    assert_eq!(plugin_roles(p), 0);
    let holds = |what: String| {
        p.db.int(&format!("SELECT CASE WHEN {what} THEN 1 ELSE 0 END"))
    };
    assert_eq!(
        holds(format!("has_table_privilege('{role}', 'items', 'SELECT')")),
        1
    );
    assert_eq!(
        holds(format!(
            "has_column_privilege('{role}', 'items', 'n', 'UPDATE')"
        )),
        1
    );
    assert_eq!(
        holds(format!(
            "has_column_privilege('{role}', 'items', 'id', 'UPDATE')"
        )),
        0
    );
    assert_eq!(
        holds(format!("has_table_privilege('{role}', 'items', 'DELETE')")),
        0
    );
}

#[test]
fn database_role_is_refused_off_postgres() {
    for d in [Dialect::Sqlite, Dialect::MySql] {
        let p = project(d, "database_role = \"someone\"");
        p.godwit(&["deploy"]).expect(2).says("database_role");
        assert!(!p.db.table_exists("items"));
    }
}

/// `enforcement = "checker-only"`: the step runs with the checker alone, and deploy,
/// plan and status say so, for people and in JSON. A notifier, which has no database
/// session at all, is not in the list, whatever its `enforcement` says.
fn checker_only_is_the_operators_choice_and_shown(d: Dialect) {
    let p = project(d, "enforcement = \"checker-only\"");
    let toml = p.path().join("godwit.toml");
    let mut config = std::fs::read_to_string(&toml).unwrap();
    config.push_str(
        "[plugins.audit]\nbuiltin = \"audit-log\"\nenforcement = \"checker-only\"\n\
         [plugins.audit.grants]\ndir = \".godwit/audit\"\n",
    );
    std::fs::write(&toml, config).unwrap();
    let shown = |out: &Output| {
        let needle = if d == Dialect::MySql {
            "checker-only on MySQL/MariaDB, by necessity"
        } else {
            "enforcement = \"checker-only\" in godwit.toml"
        };
        out.says(needle);
    };
    shown(p.godwit(&["plan"]).expect(0));
    let plan: serde_json::Value =
        serde_json::from_str(&p.godwit(&["plan", "--json"]).expect(0).stdout).unwrap();
    assert_eq!(plan["enforcement"][0]["by"], "checker-only", "{plan}");
    shown(p.godwit(&["deploy"]).expect(0));
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 3);
    shown(p.godwit(&["status"]).expect(0));
    let status: serde_json::Value =
        serde_json::from_str(&p.godwit(&["status", "--json"]).stdout).unwrap();
    let because = if d == Dialect::MySql {
        "mysql"
    } else {
        "operator-choice"
    };
    assert_eq!(
        status["checker_only"],
        serde_json::json!([{ "plugin": "counter", "because": because }])
    );
    if d == Dialect::Postgres {
        assert_eq!(
            plugin_roles(&p),
            0,
            "a role was made for a checker-only plugin"
        );
    }
}

/// Without the key the database confines the plugin too; on MySQL/MariaDB the output
/// says plainly that the checker alone does, by necessity.
fn database_enforcement_is_the_default(d: Dialect) {
    let p = project(d, "");
    let deployed = p.godwit(&["--json", "deploy"]);
    deployed.expect(0);
    let report: serde_json::Value = serde_json::from_str(&deployed.stdout).unwrap();
    let status = p.godwit(&["status"]);
    match d {
        Dialect::MySql => {
            assert_eq!(report["checker_only"][0]["because"], "mysql", "{report}");
            status.says("checker-only on MySQL/MariaDB, by necessity");
        }
        _ => {
            assert!(report.get("checker_only").is_none(), "{report}");
            assert!(!status.text().contains("checker-only"), "{}", status.text());
        }
    }
    if d == Dialect::Postgres {
        assert_eq!(plugin_roles(&p), 1);
    }
}

crate::each_dialect!(
    checker_only_is_the_operators_choice_and_shown,
    database_enforcement_is_the_default,
);
