//! Python and JavaScript plugins built from source with the SDKs' own `build.sh`, once per
//! test run: nextest runs every test in a process of its own, so the build is keyed by a
//! hash of everything it reads and serialized across processes with a file lock.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The languages whose plugins are built by a script rather than by cargo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Python,
    Js,
}

impl Lang {
    pub fn sdk(self) -> PathBuf {
        repo().join(match self {
            Lang::Python => "sdk/python",
            Lang::Js => "sdk/js",
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the repo")
        .to_path_buf()
}

/// A compile cache every test shares, so that each big component is compiled by
/// Cranelift once per run rather than once per test.
pub fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

/// `examples/plugins/<lang>/<name>` built, packed with its manifest.
pub fn example(lang: Lang, name: &str) -> PathBuf {
    build(
        lang,
        &repo().join("examples/plugins").join(lang.name()).join(name),
    )
}

/// The toolchain environment a test hands to build scripts and guides: the SDK's own
/// toolchain directories, installed once per checkout.
pub fn toolchain_env(cmd: &mut Command) {
    cmd.env("GODWIT", env!("CARGO_BIN_EXE_godwit"))
        .env("GODWIT_PYTHON_VENV", Lang::Python.sdk().join(".venv"))
        .env("GODWIT_JS_TOOLCHAIN", Lang::Js.sdk().join(".toolchain"))
        .env("GODWIT_CACHE_DIR", shared_cache());
}

/// Builds the plugin project at `project` with `sdk/<lang>/build.sh`, or returns the
/// component an earlier test of this run (or an earlier run) built from the same sources.
pub fn build(lang: Lang, project: &Path) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    for dir in [project.to_path_buf(), lang.sdk(), repo().join("wit")] {
        hash_dir(&dir, &mut hasher);
    }
    std::fs::read(env!("CARGO_BIN_EXE_godwit"))
        .map(|_| ())
        .expect("the godwit binary exists");
    let name = project.file_name().unwrap().to_string_lossy().into_owned();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scripted-plugins");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!(
        "{}-{name}-{:016x}.wasm",
        lang.name(),
        hasher.finish()
    ));
    let lock = std::fs::File::create(out_dir.join(format!("{}-{name}.lock", lang.name()))).unwrap();
    lock.lock().expect("lock the build");
    if out.is_file() {
        return out;
    }
    let tmp = out.with_extension("partial.wasm");
    let mut cmd = Command::new("sh");
    cmd.arg(lang.sdk().join("build.sh")).arg(project).arg(&tmp);
    toolchain_env(&mut cmd);
    let output = cmd.output().expect("run build.sh");
    assert!(
        output.status.success(),
        "building {} with {} failed:\n--- stdout\n{}\n--- stderr\n{}",
        project.display(),
        lang.sdk().join("build.sh").display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Hashes the names and contents of the source files under `dir`, skipping toolchains,
/// caches and build output.
fn hash_dir(dir: &Path, hasher: &mut DefaultHasher) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') && name != ".gitignore"
            || matches!(name.as_str(), "node_modules" | "__pycache__" | "dist")
        {
            continue;
        }
        if path.is_dir() {
            hash_dir(&path, hasher);
        } else {
            name.hash(hasher);
            std::fs::read(&path).unwrap().hash(hasher);
        }
    }
}
