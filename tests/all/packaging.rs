//! Shipping and installing plugins: `plugin pack` embeds the manifest, `plugin add`
//! installs from a path or from a URL served on 127.0.0.1 (with the right and a wrong
//! SHA-256), pins in godwit.lock, and refuses what this godwit cannot run.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use godwit::plugin::wit::API_VERSION;

use crate::steps::{guest, sha256};
use crate::support::{Dialect, Output, Project, godwit_cmd, run};

fn godwit_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = godwit_cmd();
    cmd.arg("-C").arg(dir).args(args);
    run(cmd)
}

/// Serves `body` for every GET on a fresh port of 127.0.0.1; returns the base URL.
fn serve(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/wasm\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    url
}

fn customers_project(d: Dialect) -> Project {
    let p = Project::empty(d);
    p.write(
        "20260101000000_customers/up.sql",
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email TEXT, email_normalized TEXT);\n\
         INSERT INTO customers (id, email) VALUES (1, ' A@B.COM '), (2, NULL), (3, 'c@d.org');\n",
    );
    p.write(
        "20260102000000_normalize_emails/step.toml",
        "plugin = \"normalize-email\"\n",
    );
    std::fs::write(p.path().join("godwit.toml"), "# customers\n").unwrap();
    p
}

const GRANTS: &str = "\n[plugins.normalize-email.grants]\nread = [\"customers\"]\nwrite = [\"customers.email_normalized\"]\n";

/// Appends `text` to the project's godwit.toml, as an operator writing grants does.
fn append_config(p: &Project, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(p.path().join("godwit.toml"))
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn lock(p: &Project) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(p.path().join("godwit.lock")).unwrap()).unwrap()
}

#[test]
fn plugin_add_from_a_path_copies_pins_and_declares_it() {
    let p = customers_project(Dialect::Sqlite);
    let wasm = guest("normalize_email");
    let out = p.godwit(&["plugin", "add", wasm.to_str().unwrap()]);
    out.expect(0)
        .says("added normalize-email 0.1.0 (backfill)")
        .says("pinned in godwit.lock")
        .says("read = [\"customers\"]");
    let installed = p.path().join("plugins/normalize-email.wasm");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&wasm).unwrap()
    );
    let lock = lock(&p);
    let entry = &lock["plugin"].as_array().unwrap()[0];
    assert_eq!(entry["name"].as_str(), Some("normalize-email"));
    assert_eq!(entry["version"].as_str(), Some("0.1.0"));
    assert_eq!(entry["world"].as_str(), Some("backfill"));
    assert_eq!(entry["api"].as_str(), Some(&*API_VERSION.api()));
    assert_eq!(entry["sha256"].as_str(), Some(sha256(&wasm).as_str()));
    let config = std::fs::read_to_string(p.path().join("godwit.toml")).unwrap();
    assert!(config.starts_with("# customers\n"), "{config}");
    assert!(
        config.contains("[plugins.normalize-email]\npath = \"plugins/normalize-email.wasm\""),
        "{config}"
    );
    assert!(
        !config.contains("sha256"),
        "the pin lives in the lock: {config}"
    );

    // Granted, it runs, pinned by the lock alone.
    append_config(&p, GRANTS);
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.rows("SELECT id, email_normalized FROM customers ORDER BY id"),
        vec![
            vec!["1".to_owned(), "a@b.com".to_owned()],
            vec!["2".to_owned(), "NULL".to_owned()],
            vec!["3".to_owned(), "c@d.org".to_owned()],
        ]
    );

    // Adding the same file again changes nothing; a swapped file is refused.
    p.godwit(&["plugin", "add", wasm.to_str().unwrap()])
        .expect(0)
        .says("already installed");
    std::fs::copy(guest("hostile"), &installed).unwrap();
    p.godwit(&["plugin", "inspect", "normalize-email"])
        .expect(0)
        .says("MISMATCH");
    p.write(
        "20260103000000_again/step.toml",
        "plugin = \"normalize-email\"\n",
    );
    p.godwit(&["deploy"])
        .expect(4)
        .says("normalize-email")
        .says("pinned to")
        .says("godwit plugin add");
}

#[test]
fn a_pin_in_godwit_toml_must_agree_with_the_lock() {
    let p = customers_project(Dialect::Sqlite);
    let wasm = guest("normalize_email");
    p.godwit(&["plugin", "add", wasm.to_str().unwrap()])
        .expect(0);
    let config = std::fs::read_to_string(p.path().join("godwit.toml")).unwrap();
    let config = config.replace(
        "path = \"plugins/normalize-email.wasm\"",
        &format!(
            "path = \"plugins/normalize-email.wasm\"\nsha256 = \"{}\"",
            "0".repeat(64)
        ),
    );
    std::fs::write(p.path().join("godwit.toml"), config).unwrap();
    p.godwit(&["deploy"])
        .expect(2)
        .says("godwit.lock pins")
        .says("remove the `sha256` line");
}

#[test]
fn plugin_add_from_a_url_needs_the_right_sha256() {
    let wasm = guest("normalize_email");
    let digest = sha256(&wasm);
    let base = serve(std::fs::read(&wasm).unwrap());
    let url = format!("{base}/plugins/normalize-email-0.1.0.wasm");
    let p = customers_project(Dialect::Sqlite);

    p.godwit(&["plugin", "add", &url])
        .expect(2)
        .says("needs --sha256");
    let wrong = format!(
        "{}{}",
        &digest[..63],
        if digest.ends_with('0') { "1" } else { "0" }
    );
    p.godwit(&["plugin", "add", &url, "--sha256", &wrong])
        .expect(4)
        .says(&digest)
        .says("nothing was installed");
    assert!(!p.path().join("plugins").exists());
    assert!(!p.path().join("godwit.lock").exists());
    assert_eq!(
        std::fs::read_to_string(p.path().join("godwit.toml")).unwrap(),
        "# customers\n"
    );

    p.godwit(&["plugin", "add", &url, "--sha256", &digest])
        .expect(0)
        .says("added normalize-email");
    let lock = lock(&p);
    let entry = &lock["plugin"].as_array().unwrap()[0];
    assert_eq!(entry["source"].as_str(), Some(url.as_str()));
    assert_eq!(entry["sha256"].as_str(), Some(digest.as_str()));
    append_config(&p, GRANTS);
    p.godwit(&["deploy"]).expect(0);
}

/// A notifier built against a godwit:plugin API this host does not speak.
fn future_component(dir: &Path) -> PathBuf {
    let path = dir.join("future.wasm");
    std::fs::write(
        &path,
        wat::parse_str(
            r#"(component
                 (import "godwit:plugin/host@1.0.0" (instance
                   (export "log" (func (param "message" string)))))
                 (core module $m (func (export "n")))
                 (core instance $i (instantiate $m))
                 (func (export "notify") (canon lift (core func $i "n"))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn plugin_add_refuses_an_unsupported_api_and_junk() {
    let p = customers_project(Dialect::Sqlite);
    let future = future_component(p.path());
    p.godwit(&[
        "plugin",
        "add",
        future.to_str().unwrap(),
        "--name",
        "future",
    ])
    .expect(4)
    .says("not installed")
    .says("supports API 0.1");
    let junk = p.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm junk").unwrap();
    p.godwit(&["plugin", "add", junk.to_str().unwrap(), "--name", "junk"])
        .expect(4)
        .says("not installed");
    assert!(!p.path().join("plugins").exists());
    assert!(!p.path().join("godwit.lock").exists());
}

#[test]
fn deploy_refuses_a_plugin_built_for_another_api_naming_the_supported_one() {
    let p = customers_project(Dialect::Sqlite);
    let future = future_component(p.path());
    std::fs::write(
        p.path().join("godwit.toml"),
        format!(
            "[plugins.future]\npath = \"future.wasm\"\nsha256 = \"{}\"\n",
            sha256(&future)
        ),
    )
    .unwrap();
    p.godwit(&["deploy"])
        .expect(2)
        .says("future")
        .says("godwit:plugin@1.0.0")
        .says("supports API 0.1");
    assert!(!p.db.table_exists("customers"));
}

#[test]
fn plugin_pack_embeds_the_manifest_once() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw.wasm");
    std::fs::write(
        &raw,
        wat::parse_str(
            r#"(component
                 (core module $m (func (export "n")))
                 (core instance $i (instantiate $m))
                 (func (export "notify") (canon lift (core func $i "n"))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let manifest = dir.path().join("godwit-plugin.toml");
    std::fs::write(
        &manifest,
        "[plugin]\nname = \"pinger\"\nversion = \"1.2.0\"\nworld = \"notifier\"\napi = \"0.1\"\n[requests]\nhosts = [\"hooks.example.com\"]\n",
    )
    .unwrap();
    let packed: PathBuf = dir.path().join("dist/pinger.wasm");
    std::fs::create_dir_all(packed.parent().unwrap()).unwrap();
    let pack = |wasm: &Path, extra: &[&str]| {
        let mut args = vec![
            "plugin",
            "pack",
            wasm.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        godwit_in(dir.path(), &args)
    };
    pack(&raw, &["-o", packed.to_str().unwrap()])
        .expect(0)
        .says("packed pinger 1.2.0 (notifier)");
    godwit_in(dir.path(), &["plugin", "inspect", packed.to_str().unwrap()])
        .expect(0)
        .says("manifest  pinger 1.2.0 (notifier, api 0.1)")
        .says("hosts hooks.example.com");
    pack(&packed, &[]).expect(2).says("already carries");
    std::fs::write(&manifest, "[plugin]\nname = \"pinger\"\n").unwrap();
    pack(&raw, &[]).expect(2).says("godwit-plugin.toml");
}

#[test]
fn plugin_add_of_the_installed_file_changes_nothing() {
    let p = customers_project(Dialect::Sqlite);
    let installed = p.path().join("plugins/normalize-email.wasm");
    p.godwit(&["plugin", "add", guest("normalize_email").to_str().unwrap()])
        .expect(0);
    let lock = std::fs::read_to_string(p.path().join("godwit.lock")).unwrap();
    let config = std::fs::read_to_string(p.path().join("godwit.toml")).unwrap();
    p.godwit(&["plugin", "add", installed.to_str().unwrap()])
        .expect(0)
        .says("already installed");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(guest("normalize_email")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(p.path().join("godwit.toml")).unwrap(),
        config
    );
    // The lock still says where the file first came from.
    assert_eq!(
        std::fs::read_to_string(p.path().join("godwit.lock")).unwrap(),
        lock
    );
}

#[test]
fn a_built_in_plugin_can_be_pinned_in_the_lock_too() {
    let p = customers_project(Dialect::Sqlite);
    p.godwit(&[
        "plugin",
        "add",
        "builtin:column-copy",
        "--name",
        "normalize-email",
    ])
    .expect(0)
    .says("added normalize-email 0.1.0 (backfill) as builtin:column-copy");
    assert!(
        !p.path().join("plugins").exists(),
        "a built-in is not copied"
    );
    let config = std::fs::read_to_string(p.path().join("godwit.toml")).unwrap();
    assert!(
        config.contains("[plugins.normalize-email]\nbuiltin = \"column-copy\""),
        "{config}"
    );
    let lock = lock(&p);
    let entry = &lock["plugin"].as_array().unwrap()[0];
    assert_eq!(entry["source"].as_str(), Some("builtin:column-copy"));
    assert_eq!(entry["world"].as_str(), Some("backfill"));
    append_config(
        &p,
        &format!(
            "{GRANTS}[plugins.normalize-email.config]\nfrom = \"email\"\nto = \"email_normalized\"\ntransform = \"lower-trim\"\ntable = \"customers\"\n"
        ),
    );
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.rows("SELECT email_normalized FROM customers WHERE id = 1"),
        vec![vec!["a@b.com".to_owned()]]
    );

    // A godwit whose built-in differs from the locked one refuses it: here, the lock is
    // edited to pin other bytes.
    let text = std::fs::read_to_string(p.path().join("godwit.lock")).unwrap();
    let pinned = entry["sha256"].as_str().unwrap();
    std::fs::write(
        p.path().join("godwit.lock"),
        text.replace(pinned, &"0".repeat(64)),
    )
    .unwrap();
    p.write(
        "20260103000000_again/step.toml",
        "plugin = \"normalize-email\"\n",
    );
    p.godwit(&["deploy"])
        .expect(4)
        .says("pinned to")
        .says("godwit plugin add");
}
