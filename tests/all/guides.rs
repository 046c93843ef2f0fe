//! The plugin authoring guides in docs/plugins, followed literally: every ```` ```sh ````
//! block runs, in order, in one scratch directory, with godwit on PATH; a block whose info
//! string is `LANG file=PATH` writes PATH first. Other blocks are only shown. A guide whose
//! steps no longer work fails here, naming the block.

use std::path::Path;
use std::process::Command;

use crate::scripted;

/// A step of a guide.
#[derive(Debug, PartialEq)]
enum Step {
    Run {
        line: usize,
        script: String,
    },
    Write {
        line: usize,
        path: String,
        content: String,
    },
}

/// The runnable steps of a Markdown guide.
fn steps(markdown: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let fence_indent = line.len() - trimmed.len();
        let mut body = String::new();
        for (_, line) in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                break;
            }
            body.push_str(line.get(fence_indent..).unwrap_or(line.trim_start()));
            body.push('\n');
        }
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("");
        let file = words.find_map(|w| w.strip_prefix("file="));
        match (lang, file) {
            (_, Some(path)) => steps.push(Step::Write {
                line: i + 1,
                path: path.to_owned(),
                content: body,
            }),
            ("sh", None) => steps.push(Step::Run {
                line: i + 1,
                script: body,
            }),
            _ => {}
        }
    }
    steps
}

/// Follows `docs/plugins/<guide>` in a fresh directory.
fn follow(guide: &str) {
    let path = scripted::repo().join("docs/plugins").join(guide);
    let markdown =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let steps = steps(&markdown);
    assert!(
        steps.iter().any(|s| matches!(s, Step::Run { .. })),
        "{guide} has no ```sh steps"
    );
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_godwit")).parent().unwrap();
    let path_var = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in steps {
        match step {
            Step::Write {
                line,
                path,
                content,
            } => {
                let target = dir.path().join(&path);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(&target, content)
                    .unwrap_or_else(|e| panic!("{guide}:{line}: write {path}: {e}"));
            }
            Step::Run { line, script } => {
                let mut cmd = Command::new("bash");
                cmd.arg("-euo")
                    .arg("pipefail")
                    .arg("-c")
                    .arg(&script)
                    .current_dir(dir.path())
                    .env("PATH", &path_var)
                    .env_remove("DATABASE_URL");
                scripted::toolchain_env(&mut cmd);
                // The guide's reader has no cargo target dir of ours.
                cmd.env_remove("CARGO_TARGET_DIR");
                let out = cmd.output().expect("run bash");
                assert!(
                    out.status.success(),
                    "{guide}:{line}: this step failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

#[test]
fn steps_are_read_from_sh_and_file_blocks_only() {
    let md = "# Guide\n\n```sh\ngodwit init\n```\n\n```toml file=godwit.toml\n[plugins.x]\n```\n\n```text\nshown only\n```\n\n- list:\n\n  ```sh\n  echo indented\n  ```\n";
    assert_eq!(
        steps(md),
        vec![
            Step::Run {
                line: 3,
                script: "godwit init\n".into()
            },
            Step::Write {
                line: 7,
                path: "godwit.toml".into(),
                content: "[plugins.x]\n".into()
            },
            Step::Run {
                line: 17,
                script: "echo indented\n".into()
            },
        ]
    );
}

#[test]
fn the_rust_guide_works_as_written() {
    follow("rust.md");
}

#[test]
fn the_python_guide_works_as_written() {
    follow("python.md");
}

#[test]
fn the_js_guide_works_as_written() {
    follow("js.md");
}
