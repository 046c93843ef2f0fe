//! `godwit plugin new`: a plugin project that builds and passes `godwit plugin check` as
//! generated, with a small working example of its world.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::NewArgs;
use crate::error::{Error, exit};
use crate::plugin::World;

/// The SDK in the checkout this godwit was built from, when that checkout is still there.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/rust");

/// Languages `plugin new` can write a project in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    /// Parses `--lang`; the error names what is supported.
    pub fn parse(text: &str) -> Result<Lang, String> {
        match text.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Lang::Rust),
            "python" | "py" => Ok(Lang::Python),
            "javascript" | "js" => Ok(Lang::Js),
            "typescript" | "ts" => Err(
                "there is no TypeScript template: use --lang js, whose SDK ships type declarations (godwit.d.ts)".to_owned(),
            ),
            _ => Err(format!(
                "`{text}` is not a language godwit has a template for; use --lang rust, python or js"
            )),
        }
    }

    /// The one command that builds a project of this language.
    pub fn build_command(self) -> &'static str {
        match self {
            Lang::Rust => BUILD,
            Lang::Python => "sh build.sh",
            Lang::Js => "npm run build",
        }
    }

    /// Where [`Lang::build_command`] puts the component, relative to the project.
    pub fn wasm_path(self, name: &str) -> String {
        match self {
            Lang::Rust => wasm_path(name),
            Lang::Python | Lang::Js => format!("dist/{name}.wasm"),
        }
    }
}

/// The Python and JavaScript SDKs and their templates, embedded by build.rs.
mod sdk_files {
    include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));
}

/// The WIT the vendored SDKs build against.
const WIT: &str = include_str!("../../wit/godwit-plugin.wit");

pub fn new(args: &NewArgs, json: bool) -> Result<u8, Error> {
    let lang = args.lang;
    let name = &args.name;
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(Error::Config(format!(
            "`{name}` cannot name a plugin: use lowercase letters, digits and dashes, starting with a letter, e.g. normalize-email"
        )));
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Config(format!(
            "{} already exists and is not empty; choose another --dir",
            dir.display()
        )));
    }
    let world = World::from(args.world);
    let files = files(name, world, lang)?;
    for (file, content) in &files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
    }
    let wasm = lang.wasm_path(name);
    let build = lang.build_command();
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "created": dir,
                "world": world.name(),
                "files": files.iter().map(|(f, _)| f).collect::<Vec<_>>(),
                "build": build,
                "wasm": wasm,
            }))
            .expect("serializable")
        );
    } else {
        outln!(
            "Created {} plugin {name} in {}/\n  build it:  cd {} && {build}\n  check it:  godwit plugin check {}/{wasm}",
            world.name(),
            dir.display(),
            dir.display(),
            dir.display(),
        );
        if world == World::Backfill {
            outln!(
                "  try it:    godwit plugin run {}/{wasm} --rows {}/sample-rows.json",
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(exit::OK)
}

/// The one command that builds a plugin.
pub const BUILD: &str = "cargo build --release --target wasm32-wasip2";

/// Where [`BUILD`] puts the component, relative to the project.
pub fn wasm_path(name: &str) -> String {
    format!(
        "target/wasm32-wasip2/release/{}.wasm",
        name.replace('-', "_")
    )
}

/// Where the generated project gets godwit-sdk from.
fn sdk_dependency() -> String {
    let sdk = Path::new(SDK_DIR);
    match sdk.join("Cargo.toml").is_file().then(|| sdk.canonicalize()) {
        Some(Ok(path)) => format!(
            "# The SDK from the godwit checkout that generated this project. To build it elsewhere,\n\
             # use the released crate instead: godwit-sdk = \"{}\"\n\
             godwit-sdk = {{ path = {:?} }}",
            sdk_version(),
            path.display().to_string()
        ),
        _ => format!("godwit-sdk = \"{}\"", sdk_version()),
    }
}

/// `major.minor` of this godwit, which the SDK shares.
fn sdk_version() -> String {
    let mut parts = crate::VERSION.split('.');
    format!(
        "{}.{}",
        parts.next().unwrap_or("0"),
        parts.next().unwrap_or("1")
    )
}

/// The files of a new project: (path relative to the project, content).
type Files = Vec<(String, Vec<u8>)>;

fn files(name: &str, world: World, lang: Lang) -> Result<Files, Error> {
    let world_name = world.name();
    let (description, requests) = match world {
        World::Backfill => (
            "Fill users.email_normalized from users.email, trimmed and lowercased.",
            "read = [\"users\"]\nwrite = [\"users.email_normalized\"]",
        ),
        World::DataStep => (
            "Lowercase users.email batch by batch, with its own queries.",
            "read = [\"users\"]\nwrite = [\"users.email\"]",
        ),
        World::Validator => (
            "Organisation rules: every migration has a down.sql; no DROP TABLE.",
            "read = []\nwrite = []",
        ),
        World::Notifier => (
            "Write each deploy's start and end to godwit's log.",
            "read = []\nwrite = []",
        ),
    };
    let (embedded_by, memory) = match lang {
        Lang::Rust => (
            "The SDK's export macro embeds this file in\n# the component",
            "64MiB",
        ),
        // An interpreter and its standard library live in the component's memory.
        Lang::Python | Lang::Js => (
            "`godwit plugin pack` (run by the build) embeds\n# this file in the component",
            "256MiB",
        ),
    };
    let api = crate::plugin::wit::API_VERSION.api();
    let manifest = format!(
        r#"# What this plugin is and what it asks for. {embedded_by}; the operator's
# [plugins.{name}.grants] in godwit.toml decide what it gets.
[plugin]
name = "{name}"
version = "0.1.0"
world = "{world_name}"
api = "{api}"
description = "{description}"

[requests]
{requests}
env = []
dir = false
hosts = []

[limits]
memory = "{memory}"
timeout = "5s"
"#
    );
    let wasm = lang.wasm_path(name);
    let build = lang.build_command();
    let try_it = match world {
        World::Backfill => {
            format!("godwit plugin run {wasm} --rows sample-rows.json --config table=users\n")
        }
        World::Validator => format!(
            "godwit plugin run {wasm} --migration path/to/migrations/20261121090000_create_users\n"
        ),
        World::Notifier => format!(
            "echo '{{\"run-started\": {{\"operation\": \"deploy\", \"pending\": 2, \"database\": \"sqlite://app.db\"}}}}' > event.json\ngodwit plugin run {wasm} --event event.json\n"
        ),
        World::DataStep => String::new(),
    };
    let config_example = match world {
        World::Backfill | World::DataStep => "\n[plugins.{name}.config]\ntable = \"users\"\n",
        _ => "",
    }
    .replace("{name}", name);
    let grants = match world {
        World::Backfill => "read = [\"users\"]\nwrite = [\"users.email_normalized\"]",
        World::DataStep => "read = [\"users\"]\nwrite = [\"users.email\"]",
        _ => "read = []",
    };
    let (toolchain, source) = match lang {
        Lang::Rust => (
            "It needs Rust with the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`).",
            "src/lib.rs",
        ),
        Lang::Python => (
            "It needs Python 3.9 or later; the first build installs the pinned componentize-py \
             into `.godwit-sdk/.venv` (set `GODWIT_PYTHON_VENV` to share one). The SDK is vendored \
             in `.godwit-sdk/`.",
            "app.py",
        ),
        Lang::Js => (
            "It needs Node.js 20 or later; the first build installs the pinned componentize-js \
             and esbuild into `.godwit-sdk/.toolchain` (set `GODWIT_JS_TOOLCHAIN` to share one). The SDK is vendored in `.godwit-sdk/` \
             (types in `.godwit-sdk/godwit.d.ts`).",
            "app.js",
        ),
    };
    let readme = format!(
        r#"# {name}

A godwit {world_name} plugin: {description}

The code is in `{source}`; what it asks for is in `godwit-plugin.toml`.

## Build

```sh
{build}
```

{toolchain} The component is `{wasm}`, with `godwit-plugin.toml` embedded in it. Check that
this godwit can run it, and look inside:

```sh
godwit plugin check {wasm}
godwit plugin inspect {wasm}
{try_it}```

## Use it in a project

From the project's directory:

```sh
godwit plugin add path/to/{name}/{wasm}
```

copies it to `plugins/{name}.wasm`, pins its SHA-256 in `godwit.lock` (godwit refuses a
file whose digest differs) and declares it in `godwit.toml`. Then grant it what it may
touch:

```toml
[plugins.{name}.grants]
{grants}
{config_example}```

`godwit-plugin.toml` is what the plugin asks for; `[plugins.{name}.grants]` is what the
operator allows. It gets only what both say.
"#
    );
    let mut files: Files = vec![
        ("godwit-plugin.toml".into(), manifest.into_bytes()),
        ("README.md".into(), readme.into_bytes()),
    ];
    if world == World::Backfill {
        files.push((
            "sample-rows.json".into(),
            b"[\n  {\"id\": 1, \"email\": \"  Ada@Example.COM \"},\n  {\"id\": 2, \"email\": \"grace@example.com\"},\n  {\"id\": 3, \"email\": null}\n]\n".to_vec(),
        ));
    }
    match lang {
        Lang::Rust => {
            let cargo = format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# A WebAssembly component: `{BUILD}`.
crate-type = ["cdylib"]

[dependencies]
{sdk}

# A workspace of its own, so that the plugin builds alone even inside another project.
[workspace]
"#,
                sdk = sdk_dependency()
            );
            let lib = match world {
                World::Backfill => BACKFILL,
                World::DataStep => DATA_STEP,
                World::Validator => VALIDATOR,
                World::Notifier => NOTIFIER,
            };
            files.push(("Cargo.toml".into(), cargo.into_bytes()));
            files.push(("src/lib.rs".into(), lib.as_bytes().to_vec()));
            files.push((".gitignore".into(), b"/target\n".to_vec()));
        }
        Lang::Python | Lang::Js => {
            let (sdk, templates, ext) = match lang {
                Lang::Python => (sdk_files::PYTHON_SDK, sdk_files::PYTHON_TEMPLATES, "py"),
                _ => (sdk_files::JS_SDK, sdk_files::JS_TEMPLATES, "js"),
            };
            let template = |file: &str| {
                templates
                    .iter()
                    .find(|(f, _)| *f == file)
                    .map(|(_, bytes)| *bytes)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "this godwit was built without the {file} template of sdk/{}",
                            if lang == Lang::Python { "python" } else { "js" }
                        ))
                    })
            };
            files.push((
                format!("app.{ext}"),
                template(&format!("{world_name}.{ext}"))?.to_vec(),
            ));
            for (file, bytes) in sdk {
                files.push((format!(".godwit-sdk/{file}"), bytes.to_vec()));
            }
            files.push((
                ".godwit-sdk/wit/godwit-plugin.wit".into(),
                WIT.as_bytes().to_vec(),
            ));
            files.push((
                ".gitignore".into(),
                b"/dist\n__pycache__/\nnode_modules/\n".to_vec(),
            ));
            if lang == Lang::Python {
                files.push((
                    "build.sh".into(),
                    format!(
                        "#!/bin/sh\n# Builds dist/{name}.wasm from app.py with the vendored SDK in .godwit-sdk/.\ncd \"$(dirname \"$0\")\" && exec sh .godwit-sdk/build.sh . dist/{name}.wasm\n"
                    )
                    .into_bytes(),
                ));
            } else {
                let package =
                    String::from_utf8_lossy(template("package.json")?).replace("{{name}}", name);
                files.push(("package.json".into(), package.into_bytes()));
            }
        }
    }
    Ok(files)
}

const BACKFILL: &str = r#"//! A backfill: godwit reads the rows by key, batch by batch, calls `transform`, and writes
//! what it returns in one statement per batch, committing and checkpointing in between.
//! The plugin needs no SQL.

use godwit_sdk::{Backfill, BackfillSpec, Row, RowExt as _, config, row};

struct NormalizeEmail;

impl Backfill for NormalizeEmail {
    fn describe() -> BackfillSpec {
        // Settings come from [plugins.NAME.config] in godwit.toml, or a step.toml's [config].
        let table = config::get_str("table").unwrap_or_else(|| "users".into());
        BackfillSpec::new(&table, "id", ["email"], ["email_normalized"])
            .filter("email_normalized IS NULL")
            .batch_size_hint(1000)
    }

    fn transform(rows: Vec<Row>) -> Result<Vec<Row>, String> {
        rows.iter()
            .map(|r| {
                // Each row comes back with its key and the `writes` columns.
                let email = r.text("email").map(|e| e.trim().to_lowercase());
                Ok(row! { "id" => r.require("id")?, "email_normalized" => email })
            })
            .collect()
    }
}

godwit_sdk::export_backfill!(NormalizeEmail);
"#;

const DATA_STEP: &str = r#"//! A data step: it runs its own queries through the session godwit lends it, inside
//! godwit's transaction; godwit commits and checkpoints `next_cursor` after each batch.

use godwit_sdk::{BatchResult, DataStep, RowExt as _, Session, Value};

struct LowercaseEmails;

impl DataStep for LowercaseEmails {
    fn run_batch(session: &Session, cursor: Option<String>, size: u32) -> Result<BatchResult, String> {
        let after: i64 = match cursor {
            Some(c) => c.parse().map_err(|e| format!("cursor {c:?} is not an id: {e}"))?,
            None => 0,
        };
        let ids = session.query(
            "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2",
            &[Value::Int(after), Value::Int(size.into())],
        )?;
        let Some(last) = ids.last().and_then(|r| r.int("id")) else {
            return Ok(BatchResult { next_cursor: None, rows: 0, done: true });
        };
        let rows = session.execute(
            "UPDATE users SET email = lower(email) WHERE id > $1 AND id <= $2",
            &[Value::Int(after), Value::Int(last)],
        )?;
        Ok(BatchResult {
            next_cursor: Some(last.to_string()),
            rows,
            done: ids.len() < size as usize,
        })
    }
}

godwit_sdk::export_data_step!(LowercaseEmails);
"#;

const VALIDATOR: &str = r#"//! A validator: godwit runs it at `lint`, `plan` and `deploy`, beside its built-in rules;
//! an `error` finding blocks a deploy.

use godwit_sdk::{Finding, Migration, Session, Severity, Validator};

struct OrgRules;

impl Validator for OrgRules {
    fn check_migration(m: Migration) -> Vec<Finding> {
        let file = format!("{}_{}", m.version, m.name);
        let mut findings = Vec::new();
        if m.down_sql.as_deref().is_none_or(|s| s.trim().is_empty()) {
            findings.push(
                Finding::new("require-down", Severity::Error, format!("migration {file} cannot be reverted: it has no down.sql"))
                    .at(format!("{file}/down.sql"))
                    .help("write the down.sql that undoes up.sql, so `godwit down` can revert it"),
            );
        }
        if m.up_sql.to_ascii_uppercase().contains("DROP TABLE") {
            findings.push(
                Finding::new("no-drop-table", Severity::Warning, format!("migration {file} drops a table"))
                    .at(format!("{file}/up.sql"))
                    .help("rename the table first and drop it a release later"),
            );
        }
        findings
    }

    fn check_database(_session: &Session) -> Vec<Finding> {
        Vec::new()
    }
}

godwit_sdk::export_validator!(OrgRules);
"#;

const NOTIFIER: &str = r#"//! A notifier: godwit calls it with each event of a run; an `Err` is reported, never fatal.

use godwit_sdk::{Event, Notifier, log};

struct LogRuns;

impl Notifier for LogRuns {
    // `target` names the database when `godwit deploy --targets FILE` deploys a fleet.
    fn notify(event: Event, target: Option<String>) -> Result<(), String> {
        let on = target.map(|t| format!(" ({t})")).unwrap_or_default();
        match event {
            Event::RunStarted(e) => log::info(format!("{}: {} pending on {}{on}", e.operation, e.pending, e.database)),
            Event::RunFinished(e) => match e.failed {
                Some(version) => log::error(format!("{} failed at {version} after {} ms", e.operation, e.duration_ms)),
                None => log::info(format!("{} applied {} in {} ms", e.operation, e.applied, e.duration_ms)),
            },
            _ => {}
        }
        Ok(())
    }
}

godwit_sdk::export_notifier!(LogRuns);
"#;
