//! Real migration files written by another project (authelia), copied into godwit's
//! layout and applied up and down on each database. Known traps are asserted as the
//! clear errors godwit gives (see shared/corpora/README.md).

use crate::support::*;

/// `V0001.Initial_Schema.up.sql` → `migrations/0001_initial_schema/up.sql`.
fn authelia_project(d: Dialect) -> Project {
    let source = corpus(&format!(
        "authelia/internal/storage/migrations/{}",
        dialect_dir(d)
    ));
    let p = Project::empty(d);
    let mut count = 0;
    for entry in std::fs::read_dir(&source).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let (Some(rest), Some(direction)) = (
            file.strip_prefix('V'),
            file.strip_suffix(".sql").and_then(|f| f.rsplit('.').next()),
        ) else {
            continue;
        };
        let (version, name) = rest.split_once('.').unwrap();
        let name = name.split('.').next().unwrap().to_lowercase();
        let text = std::fs::read_to_string(source.join(&file)).unwrap();
        p.write(&format!("{version}_{name}/{direction}.sql"), &text);
        count += 1;
    }
    assert_eq!(count, 52, "26 versions, up and down");
    p
}

#[test]
fn authelia_postgres_up_down_up() {
    let p = authelia_project(Dialect::Postgres);
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    p.godwit(&["down", "--steps", "26"])
        .expect(0)
        .says("Reverted 26 migrations");
    assert!(!p.db.table_exists("user_preferences"));
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    p.godwit(&["status"]).expect(0);
}

/// authelia's folder as authelia keeps it (`V0001.Initial_Schema.up.sql`): the layout
/// godwit detects cannot name its files, so the first command stops before connecting
/// and names the `pattern` that reads them; with that line in godwit.toml, the same
/// folder deploys, untouched.
#[test]
fn authelia_folder_as_it_is_deploys_with_the_suggested_pattern() {
    let p = Project::empty(Dialect::Postgres);
    let source = corpus("authelia/internal/storage/migrations/postgres");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        p.write(&entry.file_name().to_string_lossy(), &text);
    }
    let out = p.godwit(&["status"]);
    out.expect(2);
    let text = out.text();
    let pattern = text
        .split_once("`pattern = \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(pattern, _)| pattern.to_owned())
        .unwrap_or_else(|| panic!("no pattern suggested:\n{text}"));
    assert!(
        !p.db.table_exists("godwit_migrations"),
        "nothing was written before the files were readable"
    );
    std::fs::write(
        p.path().join("godwit.toml"),
        format!("pattern = \"{pattern}\"\n"),
    )
    .unwrap();
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    p.godwit(&["status"]).expect(0);
}

/// V0007 defines stored procedures without DELIMITER; the down chain has a real bug at
/// V0007's down script on MariaDB.
#[test]
fn authelia_mysql_procedures_apply_and_the_down_bug_is_reported() {
    let p = authelia_project(Dialect::MySql);
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    let out = p.godwit(&["down", "--steps", "26"]);
    out.expect(1)
        .says("0007_consistencyfixes failed at statement")
        .says("Duplicate key name 'kid'")
        .says("Reverted before the failure (19)");
    p.godwit(&["status"]).expect(4).says("failed");
}

/// V0002 calls BIN2B64, a function authelia registers on its own SQLite connections.
#[test]
fn authelia_sqlite_reports_the_application_function() {
    let p = authelia_project(Dialect::Sqlite);
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("0002_webauthn failed at statement")
        .says("no such function: BIN2B64")
        .says("Nothing of it was applied");
    p.godwit(&["status"]).expect(4);
    assert!(p.db.table_exists("user_preferences"), "V0001 stays applied");
    p.godwit(&["down"]).expect(4);
    p.godwit(&["resolve", "--rolled-back", "0002"]).expect(0);
    p.godwit(&["down"]).expect(0).says("Reverted 1 migration");
}

/// authelia rebuilds SQLite tables in two ways: moving the old table aside (V0005), and
/// copying through a backup table and back (V0010). Neither loses a row, so lint reports
/// them as table rebuilds (GW024, a warning), not as drops (GW001, an error); a table
/// whose rows move to a table of another name (V0002's u2f_devices) is still a drop, and
/// the finding says where the rows went.
#[test]
fn authelia_sqlite_table_rebuilds_are_not_drops() {
    let p = authelia_project(Dialect::Sqlite);
    let out = p.godwit(&["lint", "--format", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.text()));
    let findings = json["findings"].as_array().unwrap();
    let of = |code: &str, migration: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["code"] == code)
            .filter(|f| {
                f["location"]["migration"]
                    .as_str()
                    .unwrap_or("")
                    .contains(migration)
            })
            .map(|f| f["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(of("GW001", "0005_"), Vec::<String>::new());
    assert_eq!(of("GW005", "0005_"), Vec::<String>::new());
    let v5 = of("GW024", "0005_");
    assert!(
        v5.iter()
            .any(|m| m.starts_with("rebuilds table oauth2_consent_session: statement")),
        "{v5:#?}"
    );
    assert_eq!(of("GW001", "0010_"), Vec::<String>::new());
    let v10 = of("GW024", "0010_");
    assert!(
        v10.iter().any(|m| m.contains(
            "copies every row of oauth2_access_token_session into _bkp_up_v0010_oauth2_access_token_session and on into oauth2_access_token_session"
        )),
        "{v10:#?}"
    );
    let v2 = of("GW001", "0002_");
    assert!(
        v2.iter().any(|m| m.starts_with(
            "drops table _bkp_up_v0002_u2f_devices: its rows live on in webauthn_devices"
        )),
        "{v2:#?}"
    );
    // Real drops stay errors: V0007 removes tables of authelia's pre-4.0 schema.
    assert!(
        of("GW001", "0007_").len() >= 10,
        "{:#?}",
        of("GW001", "0007_")
    );
}
