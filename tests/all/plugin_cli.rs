//! `godwit plugin inspect|check|run|new` on the real guests `tests/artifacts` compiles, on
//! components written in the text format where a test needs one the SDK cannot make, and
//! on a project `plugin new` writes and cargo builds.

use std::path::{Path, PathBuf};

use godwit::plugin::wit::API_VERSION;

use crate::support::{Output, godwit_cmd, run};

use crate::support::guest_wasm as guest;

fn godwit(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = godwit_cmd();
    cmd.current_dir(dir).args(args);
    run(cmd)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

fn write_wat(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).expect("test component parses")).unwrap();
    path
}

/// A notifier in shape, importing an interface no godwit provides.
const NEEDS_SOCKETS: &str = r#"
(component
  (import "acme:net/socket@1.0.0" (instance
    (export "open" (func (param "host" string) (result u32)))))
  (core module $m (func (export "n")))
  (core instance $i (instantiate $m))
  (func (export "notify") (canon lift (core func $i "n"))))
"#;

/// Exports `notify`, as a notifier does; its sidecar manifest says backfill.
const NOTIFY_ONLY: &str = r#"
(component
  (core module $m (func (export "n")))
  (core instance $i (instantiate $m))
  (func (export "notify") (canon lift (core func $i "n"))))
"#;

/// Built against a godwit:plugin API this host does not speak.
const API_1_0: &str = r#"
(component
  (import "godwit:plugin/host@1.0.0" (instance
    (export "log" (func (param "message" string)))))
  (core module $m (func (export "n")))
  (core instance $i (instantiate $m))
  (func (export "notify") (canon lift (core func $i "n"))))
"#;

#[test]
fn plugin_inspect_shows_world_api_requests_digest_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let out = godwit(dir.path(), &["plugin", "inspect", "builtin:column-copy"]);
    out.expect(0)
        .says("world     backfill")
        .says(&format!("api       godwit:plugin@{API_VERSION}"))
        .says("requests  read *; write *.*")
        .says("digest    sha256:")
        .says(&format!("godwit:plugin/host@{API_VERSION}"))
        .says("func      transform");

    let out = godwit(
        dir.path(),
        &[
            "plugin",
            "inspect",
            "--json",
            guest("hello-validator").to_str().unwrap(),
        ],
    );
    out.expect(0);
    let v = json(&out);
    assert_eq!(v["world"], "validator");
    assert_eq!(v["api_versions"][0], API_VERSION.to_string());
    assert_eq!(v["manifest"]["name"], "hello-validator");
    let digest = sha256(&std::fs::read(guest("hello-validator")).unwrap());
    assert_eq!(v["digest"], format!("sha256:{digest}"));
    assert!(v["size"].as_u64().unwrap() > 0);
    assert!(
        v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "provided")
    );
    let exports: Vec<&str> = v["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(exports, ["check-migration", "check-database"]);

    // No manifest: it asks for nothing, and inspect says so.
    let path = write_wat(dir.path(), "bare.wasm", NOTIFY_ONLY);
    godwit(dir.path(), &["plugin", "inspect", path.to_str().unwrap()])
        .expect(0)
        .says("requests  none: no manifest")
        .says("world     notifier");
}

#[test]
fn plugin_check_passes_every_real_guest() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "column-copy",
        "org-rules",
        "audit-log",
        "github-summary",
        "hello-validator",
        "hostile",
        "hostile-step",
    ] {
        let path = guest(name);
        godwit(dir.path(), &["plugin", "check", path.to_str().unwrap()])
            .expect(0)
            .says("compatible");
    }
    let out = godwit(
        dir.path(),
        &["plugin", "check", "--json", "builtin:org-rules"],
    );
    out.expect(0);
    let v = json(&out);
    assert_eq!(v["compatible"], true);
    assert_eq!(v["world"], "validator");
    assert_eq!(v["missing_imports"].as_array().unwrap().len(), 0);

    // The webhook needs wasi:http, which a host may not link yet: then check names every
    // wasi:http interface it lacks, and nothing else.
    let out = godwit(
        dir.path(),
        &["plugin", "check", "--json", "builtin:webhook"],
    );
    let v = json(&out);
    let missing: Vec<&str> = v["missing_imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    if out.code == 0 {
        assert!(missing.is_empty(), "{missing:?}");
    } else {
        out.expect(4);
        assert!(
            missing.iter().all(|m| m.starts_with("wasi:http/")),
            "{missing:?}"
        );
        assert!(
            missing.iter().any(|m| m.starts_with("wasi:http/types@")),
            "{missing:?}"
        );
        assert!(
            missing
                .iter()
                .any(|m| m.starts_with("wasi:http/outgoing-handler@")),
            "{missing:?}"
        );
    }
}

#[test]
fn plugin_check_names_an_import_the_host_does_not_provide() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wat(dir.path(), "sockets.wasm", NEEDS_SOCKETS);
    godwit(dir.path(), &["plugin", "check", path.to_str().unwrap()])
        .expect(4)
        .says("NOT compatible")
        .says("- instance acme:net/socket@1.0.0")
        .says("which this host does not provide");
    let out = godwit(
        dir.path(),
        &["plugin", "check", "--json", path.to_str().unwrap()],
    );
    out.expect(4);
    let v = json(&out);
    assert_eq!(v["compatible"], false);
    assert_eq!(v["missing_imports"][0]["name"], "acme:net/socket@1.0.0");
    assert_eq!(v["missing_imports"][0]["status"], "missing");
}

#[test]
fn plugin_check_refuses_a_component_for_the_wrong_world() {
    let dir = tempfile::tempdir().unwrap();
    // Asked to be a backfill, a validator lacks both of the backfill's exports.
    let validator = guest("hello-validator");
    godwit(
        dir.path(),
        &[
            "plugin",
            "check",
            validator.to_str().unwrap(),
            "--world",
            "backfill",
        ],
    )
    .expect(4)
    .says("- func describe  (missing)")
    .says("- func transform  (missing)")
    .says("+ check-migration");

    // Its manifest says backfill; its exports say notifier.
    let path = write_wat(dir.path(), "liar.wasm", NOTIFY_ONLY);
    std::fs::write(
        dir.path().join("liar.toml"),
        "[plugin]\nname = \"liar\"\nversion = \"0.1.0\"\nworld = \"backfill\"\napi = \"0.1\"\n",
    )
    .unwrap();
    godwit(dir.path(), &["plugin", "check", path.to_str().unwrap()])
        .expect(4)
        .says(
            "its manifest says it is a backfill plugin, but its exports make it a notifier plugin",
        );

    // And run refuses to feed rows to something that is not a backfill.
    godwit(
        dir.path(),
        &[
            "plugin",
            "run",
            validator.to_str().unwrap(),
            "--rows",
            "rows.json",
        ],
    )
    .expect(2)
    .says("is a validator plugin")
    .says("--migration DIR");
}

#[test]
fn plugin_check_refuses_another_api_version_and_junk() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wat(dir.path(), "future.wasm", API_1_0);
    godwit(dir.path(), &["plugin", "check", path.to_str().unwrap()])
        .expect(4)
        .says("built against godwit:plugin@1.0.0")
        .says("supports API 0.1 (godwit:plugin@0.1.x), 0.2");

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm not really").unwrap();
    godwit(dir.path(), &["plugin", "check", junk.to_str().unwrap()])
        .expect(4)
        .says("is not a usable WebAssembly component");
}

#[test]
fn plugin_run_feeds_rows_in_batches_and_reports_costs() {
    let dir = tempfile::tempdir().unwrap();
    // JSON lines, with plain and tagged values.
    std::fs::write(
        dir.path().join("rows.jsonl"),
        "{\"id\": 1, \"email\": \"  Ada@Example.COM\"}\n{\"id\": 2, \"email\": {\"text\": \"B@X.io\"}}\n{\"id\": 3, \"email\": null}\n",
    )
    .unwrap();
    let args = [
        "plugin",
        "run",
        "builtin:column-copy",
        "--rows",
        "rows.jsonl",
        "--config",
        "table=users",
        "--config",
        "from=email",
        "--config",
        "to=email_normalized",
        "--config",
        "transform=lower-trim",
        "--batch",
        "2",
    ];
    godwit(dir.path(), &args)
        .expect(0)
        .says("table users, key id, reads [email], writes [email_normalized]")
        .says("transform rows 1-2")
        .says("transform rows 3-3")
        .says("id=1  email_normalized='ada@example.com'")
        .says("id=3  email_normalized=NULL")
        .says("fuel ")
        .says("peak memory ");

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let out = godwit(dir.path(), &with_json);
    out.expect(0);
    let v = json(&out);
    let calls = v["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3, "describe and two transforms");
    assert_eq!(calls[1]["rows_in"], 2);
    assert_eq!(calls[1]["rows"][1]["email_normalized"]["text"], "b@x.io");
    assert_eq!(
        calls[2]["rows"][0]["email_normalized"],
        serde_json::Value::Null
    );
    for call in calls {
        assert!(call["costs"]["fuel_used"].as_u64().unwrap() > 0);
        assert!(call["costs"]["peak_memory"].as_u64().unwrap() > 0);
        assert!(call["costs"]["elapsed_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn plugin_run_reports_traps_and_limits_with_the_plugins_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rows.json"), r#"[{"id": 1, "name": "x"}]"#).unwrap();
    let hostile = guest("hostile");
    let hostile = hostile.to_str().unwrap();
    let run_mode = |mode: &str, extra: &[&str]| {
        let setting = format!("mode={mode}");
        let mut args = vec![
            "plugin",
            "run",
            hostile,
            "--rows",
            "rows.json",
            "--config",
            &setting,
        ];
        args.extend_from_slice(extra);
        godwit(dir.path(), &args)
    };
    // The guest's own backtrace, innermost first, with its demangled function names.
    run_mode("panic", &[])
        .expect(1)
        .says("transform rows 1-1: FAILED")
        .says("hostile plugin panics on purpose")
        .says("plugin backtrace (innermost first):")
        .says("core::panicking::panic_fmt")
        .says("as godwit_sdk::bindings::backfill::Guest>::transform");
    run_mode("loop", &["--timeout", "300ms"])
        .expect(1)
        .says("time limit")
        .says("plugin backtrace");
    run_mode("loop", &["--fuel", "1000000"])
        .expect(1)
        .says("ran out of fuel (budget 1000000)");
    run_mode("memory", &["--memory", "16MiB"])
        .expect(1)
        .says("exceeded its memory limit of 16 MiB");
    // With --json: the failed call, the error and the exit code in one document.
    let out = run_mode("panic", &["--json"]);
    out.expect(1);
    let v = json(&out);
    assert_eq!(v["failed"], "transform rows 1-1");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["calls"][0]["call"], "describe");
    assert!(
        v["error"].as_str().unwrap().contains("panics on purpose"),
        "{v}"
    );
    // The plugin's own Err is a refusal, reported as such.
    run_mode("read-file", &[])
        .expect(1)
        .says("reported: cannot read /etc/passwd");
}

#[test]
fn plugin_run_checks_a_migration_with_a_validator() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("20261121090000_drop_users");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("up.sql"), "DROP TABLE users;\n").unwrap();
    let validator = guest("hello-validator");
    godwit(
        dir.path(),
        &[
            "plugin",
            "run",
            validator.to_str().unwrap(),
            "--migration",
            m.to_str().unwrap(),
        ],
    )
    .expect(4)
    .says("check-migration 20261121090000_drop_users")
    .says("error[hello-no-drop-table] migration 20261121090000_drop_users drops a table")
    .says("1 finding, 1 error");
}

#[test]
fn plugin_run_delivers_an_event_with_the_grants_of_godwit_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("audit")).unwrap();
    std::fs::write(
        dir.path().join("godwit.toml"),
        "[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = \"audit\"\n[plugins.audit.config]\nfile = \"/events.jsonl\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("event.json"),
        r#"{"run-started": {"operation": "deploy", "pending": 2, "database": "sqlite://app.db"}}"#,
    )
    .unwrap();
    godwit(
        dir.path(),
        &["plugin", "run", "audit", "--event", "event.json"],
    )
    .expect(0)
    .says("notify ")
    .says("delivered");
    let written = std::fs::read_to_string(dir.path().join("audit/events.jsonl")).unwrap();
    assert!(
        written.contains("run-started") && written.contains("deploy"),
        "{written}"
    );

    // The same plugin by file, with no godwit.toml grant, gets no directory.
    godwit(
        dir.path(),
        &[
            "plugin",
            "run",
            "builtin:audit-log",
            "--event",
            "event.json",
        ],
    )
    .expect(1)
    .says("reported:");

    godwit(
        dir.path(),
        &[
            "plugin",
            "run",
            "audit",
            "--event",
            "event.json",
            "--rows",
            "x",
        ],
    )
    .expect(2);
}

/// The template of every world builds for wasm32-wasip2 as generated and passes `check`;
/// the backfill runs on the sample rows it ships with.
#[test]
fn plugin_new_builds_and_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    // One target directory for the four builds, kept between runs when cargo gave one.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("plugin-new-template"))
        .unwrap_or_else(|| dir.path().join("target"));
    for (world, name) in [
        ("backfill", "tpl-backfill"),
        ("data-step", "tpl-data-step"),
        ("validator", "tpl-validator"),
        ("notifier", "tpl-notifier"),
    ] {
        godwit(dir.path(), &["plugin", "new", name, "--world", world])
            .expect(0)
            .says("cargo build --release --target wasm32-wasip2");
        let project = dir.path().join(name);
        for file in [
            "Cargo.toml",
            "src/lib.rs",
            "godwit-plugin.toml",
            "README.md",
        ] {
            assert!(project.join(file).is_file(), "{name}: no {file}");
        }
        let status = std::process::Command::new(env!("CARGO"))
            .current_dir(&project)
            .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
            .env("CARGO_TARGET_DIR", &target)
            // Flags meant for the host build (e.g. coverage) must not reach the guest.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "{name} does not build as generated");
        let wasm = target.join(format!(
            "wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ));
        godwit(dir.path(), &["plugin", "check", wasm.to_str().unwrap()])
            .expect(0)
            .says(&format!("world    {world}"))
            .says("compatible");
        if world == "backfill" {
            let rows = project.join("sample-rows.json");
            godwit(
                dir.path(),
                &[
                    "plugin",
                    "run",
                    wasm.to_str().unwrap(),
                    "--rows",
                    rows.to_str().unwrap(),
                ],
            )
            .expect(0)
            .says("id=1  email_normalized='ada@example.com'")
            .says("3 rows in, 3 out");
        }
    }

    // Refuses to write over a project, and languages it has no template for.
    godwit(
        dir.path(),
        &["plugin", "new", "tpl-backfill", "--world", "backfill"],
    )
    .expect(2)
    .says("not empty");
    godwit(
        dir.path(),
        &[
            "plugin",
            "new",
            "ts",
            "--world",
            "backfill",
            "--lang",
            "typescript",
        ],
    )
    .expect(2)
    .says("--lang js");
    godwit(
        dir.path(),
        &[
            "plugin",
            "new",
            "elsewhere",
            "--world",
            "validator",
            "--dir",
            "sub/x",
        ],
    )
    .expect(0);
    assert!(dir.path().join("sub/x/godwit-plugin.toml").is_file());
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `plugin new --lang python|js` for every world: the project builds with its one
/// documented command, from a copy of the project alone (the SDK is vendored), and passes
/// `check`; the backfill runs its sample rows.
fn scripted_templates_build_and_pass_check(lang: crate::scripted::Lang) {
    let dir = tempfile::tempdir().unwrap();
    let (flag, build): (&str, &[&str]) = match lang {
        crate::scripted::Lang::Python => ("python", &["sh", "build.sh"]),
        crate::scripted::Lang::Js => ("js", &["npm", "run", "build", "--silent"]),
    };
    for world in ["backfill", "data-step", "validator", "notifier"] {
        let name = format!("{flag}-{world}");
        godwit(
            dir.path(),
            &["plugin", "new", &name, "--world", world, "--lang", flag],
        )
        .expect(0)
        .says(&build.join(" ").replace(" --silent", ""));
        let project = dir.path().join(&name);
        let mut cmd = std::process::Command::new(build[0]);
        cmd.args(&build[1..]).current_dir(&project);
        crate::scripted::toolchain_env(&mut cmd);
        let out = cmd.output().expect("run the build");
        assert!(
            out.status.success(),
            "{name} does not build as generated:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let wasm = project.join(format!("dist/{name}.wasm"));
        let mut cmd = godwit_cmd();
        cmd.current_dir(dir.path())
            .args(["plugin", "check", wasm.to_str().unwrap()]);
        crate::scripted::toolchain_env(&mut cmd);
        run(cmd)
            .expect(0)
            .says(&format!("world    {world}"))
            .says("compatible");
        let mut cmd = godwit_cmd();
        cmd.current_dir(dir.path())
            .args(["plugin", "inspect", wasm.to_str().unwrap()]);
        crate::scripted::toolchain_env(&mut cmd);
        run(cmd)
            .expect(0)
            .says(&format!("manifest  {name} 0.1.0 ({world}"));
        if world == "backfill" {
            let rows = project.join("sample-rows.json");
            let mut cmd = godwit_cmd();
            cmd.current_dir(dir.path()).args([
                "plugin",
                "run",
                wasm.to_str().unwrap(),
                "--rows",
                rows.to_str().unwrap(),
            ]);
            crate::scripted::toolchain_env(&mut cmd);
            run(cmd)
                .expect(0)
                .says("email_normalized='ada@example.com'")
                .says("3 rows in, 3 out");
        }
    }
}

#[test]
fn plugin_new_python_builds_and_passes_check() {
    scripted_templates_build_and_pass_check(crate::scripted::Lang::Python);
}

#[test]
fn plugin_new_js_builds_and_passes_check() {
    scripted_templates_build_and_pass_check(crate::scripted::Lang::Js);
}

/// A compile cache entry runs only if godwit can prove it wrote it: flipped bytes, the
/// artifact of another plugin under this one's name, a cache written under another
/// user's key, or a key others can read — each is recompiled with a warning, and the
/// plugin still does exactly what it should.
#[test]
fn tampered_or_foreign_compile_cache_entries_are_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let m = dir.path().join("20261121090000_drop_users");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("up.sql"), "DROP TABLE users;\n").unwrap();
    let validator = guest("hello-validator");
    let other = guest("hostile-step");
    let with = |state: &str, args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(dir.path())
            .env("GODWIT_CACHE_DIR", &cache)
            .env("XDG_STATE_HOME", dir.path().join(state))
            .args(args);
        run(cmd)
    };
    let check = |state: &str| {
        let out = with(
            state,
            &[
                "plugin",
                "run",
                validator.to_str().unwrap(),
                "--migration",
                m.to_str().unwrap(),
            ],
        );
        // The validator ran, its own code: the finding it exists to report.
        out.expect(4).says("error[hello-no-drop-table]");
        out
    };
    let warned = |out: &Output| out.stderr.contains("compile cache entry");
    let entry_of = |before: &[PathBuf]| {
        let entries = cache_entries(&cache);
        entries
            .into_iter()
            .find(|e| !before.contains(e))
            .expect("a new cache entry")
    };

    let out = check("alice");
    assert!(!warned(&out), "{}", out.text());
    let entry = entry_of(&[]);
    let key = dir.path().join("alice/godwit/cache-key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key is the user's alone");
        assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    }
    let out = check("alice");
    assert!(
        !warned(&out),
        "a valid entry is used quietly: {}",
        out.text()
    );

    // Flipped bytes: in the header, the tag, the middle and the end of the code.
    let good = std::fs::read(&entry).unwrap();
    for at in [0, 12, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        std::fs::write(&entry, &bad).unwrap();
        let out = check("alice");
        assert!(warned(&out), "byte {at} flipped: {}", out.text());
        // Recompiled and stored again, valid.
        assert_eq!(std::fs::read(&entry).unwrap().len(), good.len());
        assert!(!warned(&check("alice")));
    }

    // Another plugin's artifact, correctly tagged for that plugin, under this name.
    with("alice", &["plugin", "check", other.to_str().unwrap()]).expect(0);
    let foreign = entry_of(std::slice::from_ref(&entry));
    std::fs::copy(&foreign, &entry).unwrap();
    let out = check("alice");
    assert!(warned(&out), "{}", out.text());
    assert!(!warned(&check("alice")));

    // A cache written by another user (another key): refused, and the other way round.
    let out = check("mallory");
    assert!(warned(&out), "{}", out.text());
    let out = check("alice");
    assert!(warned(&out), "{}", out.text());
    assert_ne!(
        std::fs::read(&key).unwrap(),
        std::fs::read(dir.path().join("mallory/godwit/cache-key")).unwrap()
    );

    // A key other users can read is not trusted: the cache is not used at all.
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = check("alice");
    assert!(
        out.stderr.contains("compile cache is not used"),
        "{}",
        out.text()
    );
}

/// A plugin's `dir` grant can never hold godwit's compile cache, its state directory (the
/// cache key) or the project's `.godwit`; a directory of its own is fine.
#[test]
fn a_dir_grant_covering_the_cache_or_the_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cache = dir.path().join("shared-cache");
    std::fs::write(
        dir.path().join("event.json"),
        r#"{"run-started": {"operation": "deploy", "pending": 2, "database": "sqlite://app.db"}}"#,
    )
    .unwrap();
    let grant = |granted: &Path| {
        std::fs::write(
            dir.path().join("godwit.toml"),
            format!(
                "[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = {:?}\n[plugins.audit.config]\nfile = \"/events.jsonl\"\n",
                granted.display().to_string()
            ),
        )
        .unwrap();
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(dir.path())
            .env("GODWIT_CACHE_DIR", &cache)
            .env("XDG_STATE_HOME", &state)
            .current_dir(dir.path())
            .args(["plugin", "run", "audit", "--event", "event.json"]);
        run(cmd)
    };
    for refused in [
        dir.path().to_path_buf(),
        PathBuf::from("."),
        PathBuf::from(".godwit"),
        PathBuf::from(".godwit/cache"),
        cache.clone(),
        cache.join("sub"),
        state.clone(),
        state.join("godwit"),
        dir.path().join("state/../state"),
    ] {
        let out = grant(&refused);
        out.expect(2);
        assert!(
            !dir.path().join(&refused).join("events.jsonl").exists(),
            "{}",
            refused.display()
        );
    }
    // Through a symlink: the link's target is what counts.
    std::os::unix::fs::symlink(&state, dir.path().join("innocent")).unwrap();
    grant(Path::new("innocent")).expect(2);
    grant(Path::new(".godwit/audit")).expect(0);
    assert!(dir.path().join(".godwit/audit/events.jsonl").is_file());
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect()
}
