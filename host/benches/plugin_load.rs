//! Loading big guests: the example backfill `normalize-email` in Rust, Python and
//! JavaScript, side by side in one run. For each: its size, the first load (Cranelift
//! compiles it and stores the code in the cache), a cached load (the compiled code read
//! back), a fresh instance, and a `transform` of 1,000 rows.
//!
//! ```sh
//! cargo bench --bench plugin_load
//! ```
//!
//! The Python and JavaScript components are built from `examples/plugins/{python,js}` with
//! the SDKs' own build scripts (which install their pinned toolchains on first use).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use godwit::plugin::{Context, Limits, Runtime, RuntimeConfig, types};

fn main() {
    if let Err(e) = run() {
        eprintln!("plugin_load bench failed: {e}");
        std::process::exit(1);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the repo")
        .to_path_buf()
}

/// Builds `examples/plugins/<lang>/normalize-email` with `sdk/<lang>/build.sh`.
fn build(lang: &str, out: &Path) -> Result<PathBuf, String> {
    let wasm = out.join(format!("normalize-email-{lang}.wasm"));
    let status = Command::new("sh")
        .arg(repo().join("sdk").join(lang).join("build.sh"))
        .arg(
            repo()
                .join("examples/plugins")
                .join(lang)
                .join("normalize-email"),
        )
        .arg(&wasm)
        .env("GODWIT", env!("CARGO_BIN_EXE_godwit"))
        .status()
        .map_err(|e| format!("cannot run build.sh for {lang}: {e}"))?;
    if !status.success() {
        return Err(format!("building the {lang} example failed ({status})"));
    }
    Ok(wasm)
}

fn run() -> Result<(), String> {
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let components = [
        ("rust", godwit_test_guests::wasm("normalize-email")),
        ("python", build("python", out.path())?),
        ("js", build("js", out.path())?),
    ];
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model()
    );
    println!(
        "{:<8} {:>9} {:>14} {:>13} {:>11} {:>16}",
        "plugin", "size", "first load", "cached load", "instance", "transform 1000"
    );
    for (lang, path) in components {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            pooling: true,
        })
        .map_err(|e| e.to_string())?;
        let clear = || -> Result<(), String> {
            for entry in std::fs::read_dir(cache.path()).map_err(|e| e.to_string())? {
                std::fs::remove_file(entry.map_err(|e| e.to_string())?.path())
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        let cold_runs = 3;
        let mut cold = Vec::new();
        for _ in 0..cold_runs {
            clear()?;
            let t = Instant::now();
            runtime
                .load_bytes(lang, &bytes, None)
                .map_err(|e| e.to_string())?;
            cold.push(t.elapsed());
        }
        let mut cached = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            runtime
                .load_bytes(lang, &bytes, None)
                .map_err(|e| e.to_string())?;
            cached.push(t.elapsed());
        }
        let plugin = runtime
            .load_bytes(lang, &bytes, None)
            .map_err(|e| e.to_string())?;
        let limits = Limits {
            memory_bytes: 256 << 20,
            ..Limits::default()
        };
        let mut instance = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            runtime
                .call(&plugin, &limits, |_, _| Ok(()))
                .map_err(|e| e.to_string())?;
            instance.push(t.elapsed());
        }
        let rows: Vec<types::Row> = (0..1000)
            .map(|i| {
                vec![
                    types::Column {
                        name: "id".into(),
                        value: types::Value::Int(i),
                    },
                    types::Column {
                        name: "email".into(),
                        value: types::Value::Text(format!("  User.{i}@Example.COM ")),
                    },
                ]
            })
            .collect();
        let mut transform = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let call = runtime
                .transform(&plugin, &limits, Context::default(), &rows)
                .map_err(|e| e.to_string())?;
            transform.push(t.elapsed());
            assert_eq!(call.value.len(), 1000, "{lang} returned every row");
        }
        println!(
            "{:<8} {:>6.1} MB {:>11.0} ms {:>10.2} ms {:>8.2} ms {:>13.2} ms",
            lang,
            bytes.len() as f64 / 1e6,
            ms(median(&cold)),
            ms(median(&cached)),
            ms(median(&instance)),
            ms(median(&transform)),
        );
    }
    println!(
        "(medians: first load of 3, cached load of 20, instance of 50, transform of 20; pooling allocator)"
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
