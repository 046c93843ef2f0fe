//! The plugin sandbox: limits stop misbehaving components and name them, bad files are
//! refused, and the compile cache is used when it can be and ignored when it is damaged.
//! The components are written in the component text format so each test shows exactly
//! what the guest does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use godwit::plugin::{Allocation, Error, Limits, Origin, Plugin, Runtime, RuntimeConfig};

/// A component with well-behaved and misbehaving exports, one per limit.
const SANDBOX: &str = r#"
(component
  (core module $m
    (memory 1)
    (func (export "answer") (result i32) i32.const 42)
    (func (export "spin") (loop $l (br $l)))
    (func (export "hoard")
      (loop $l
        (drop (memory.grow (i32.const 16)))
        (br $l)))
    (func $dive (export "dive") (call $dive)))
  (core instance $i (instantiate $m))
  (func (export "answer") (result u32) (canon lift (core func $i "answer")))
  (func (export "spin") (canon lift (core func $i "spin")))
  (func (export "hoard") (canon lift (core func $i "hoard")))
  (func (export "dive") (canon lift (core func $i "dive"))))
"#;

fn write_component(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).expect("test component parses")).unwrap();
    path
}

fn runtime(cache_dir: Option<PathBuf>) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn sandbox() -> (tempfile::TempDir, Runtime, Plugin) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_component(dir.path(), "sandbox.wasm", SANDBOX);
    let runtime = runtime(None);
    let plugin = runtime.load(&path, None).unwrap();
    (dir, runtime, plugin)
}

fn answer(runtime: &Runtime, plugin: &Plugin) -> Result<u32, Error> {
    runtime
        .call(plugin, &Limits::default(), |store, instance| {
            let f = instance.get_typed_func::<(), (u32,)>(&mut *store, "answer")?;
            Ok(f.call(&mut *store, ())?.0)
        })
        .map(|call| call.value)
}

fn call_unit(runtime: &Runtime, plugin: &Plugin, limits: &Limits, export: &str) -> Error {
    runtime
        .call(plugin, limits, |store, instance| {
            let f = instance.get_typed_func::<(), ()>(&mut *store, export)?;
            f.call(&mut *store, ())
        })
        .expect_err("the call must be stopped")
}

fn trap_message(error: Error) -> String {
    match &error {
        Error::Trap { plugin, .. } => {
            assert!(plugin.starts_with("sandbox.wasm (sha256:"), "{error}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    error.to_string()
}

#[test]
fn plugin_infinite_loop_is_stopped_by_its_time_limit() {
    let (_dir, runtime, plugin) = sandbox();
    let limits = Limits {
        timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    let message = trap_message(call_unit(&runtime, &plugin, &limits, "spin"));
    assert!(
        message.contains("ran past its 100ms time limit"),
        "{message}"
    );
}

#[test]
fn plugin_memory_bomb_is_stopped_by_its_memory_limit() {
    let (_dir, runtime, plugin) = sandbox();
    let message = trap_message(call_unit(&runtime, &plugin, &Limits::default(), "hoard"));
    assert!(
        message.contains("exceeded its memory limit of 64 MiB"),
        "{message}"
    );
}

#[test]
fn plugin_deep_recursion_traps_with_stack_overflow() {
    let (_dir, runtime, plugin) = sandbox();
    let message = trap_message(call_unit(&runtime, &plugin, &Limits::default(), "dive"));
    assert!(message.contains("stack overflow"), "{message}");
}

#[test]
fn plugin_with_fuel_budget_runs_out_of_fuel() {
    let (_dir, runtime, plugin) = sandbox();
    let limits = Limits {
        fuel: Some(100_000),
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let message = trap_message(call_unit(&runtime, &plugin, &limits, "spin"));
    assert!(message.contains("ran out of fuel"), "{message}");
}

#[test]
fn plugin_works_again_after_a_trapped_call() {
    let (_dir, runtime, plugin) = sandbox();
    let limits = Limits {
        timeout: Duration::from_millis(50),
        ..Limits::default()
    };
    call_unit(&runtime, &plugin, &limits, "spin");
    call_unit(&runtime, &plugin, &Limits::default(), "hoard");
    assert_eq!(answer(&runtime, &plugin).unwrap(), 42);
}

#[test]
fn plugin_file_of_random_bytes_is_malformed() {
    let runtime = runtime(None);
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let error = runtime.load_bytes("noise.wasm", &noise, None).unwrap_err();
    assert!(
        matches!(&error, Error::Malformed { plugin, .. } if plugin.starts_with("noise.wasm")),
        "{error:?}"
    );
}

#[test]
fn plugin_core_module_is_malformed_not_a_component() {
    let runtime = runtime(None);
    let module = wat::parse_str(r#"(module (func (export "run")))"#).unwrap();
    let error = runtime.load_bytes("core.wasm", &module, None).unwrap_err();
    assert!(
        matches!(&error, Error::Malformed { plugin, .. } if plugin.starts_with("core.wasm")),
        "{error:?}"
    );
}

#[test]
fn plugin_with_wrong_sha256_pin_is_refused() {
    let (dir, runtime, plugin) = sandbox();
    let path = dir.path().join("sandbox.wasm");
    let wrong = "0".repeat(64);
    let error = runtime.load(&path, Some(&wrong)).unwrap_err();
    match &error {
        Error::Digest { expected, actual } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, plugin.digest());
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    let pinned = format!("sha256:{}", plugin.digest().to_ascii_uppercase());
    assert!(runtime.load(&path, Some(&pinned)).is_ok());
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect()
}

#[test]
fn plugin_second_load_comes_from_the_compile_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join(".godwit/cache");
    let path = write_component(dir.path(), "sandbox.wasm", SANDBOX);

    let first = runtime(Some(cache.clone())).load(&path, None).unwrap();
    assert_eq!(first.origin(), Origin::Compiled);
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = entries[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(entry.starts_with(first.digest()), "{entry}");

    let runtime = runtime(Some(cache.clone()));
    let second = runtime.load(&path, None).unwrap();
    assert_eq!(second.origin(), Origin::Cache);
    assert_eq!(answer(&runtime, &second).unwrap(), 42);
}

#[test]
fn plugin_corrupted_cache_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = write_component(dir.path(), "sandbox.wasm", SANDBOX);
    let runtime = runtime(Some(cache.clone()));
    runtime.load(&path, None).unwrap();
    let entry = cache_entries(&cache).pop().unwrap();
    std::fs::write(&entry, b"\x7fELF but not really").unwrap();

    let reloaded = runtime.load(&path, None).unwrap();
    assert_eq!(reloaded.origin(), Origin::Compiled);
    assert_eq!(answer(&runtime, &reloaded).unwrap(), 42);
    assert_eq!(runtime.load(&path, None).unwrap().origin(), Origin::Cache);
}

#[test]
fn plugin_runtime_starts_with_pooling_or_on_demand_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_component(dir.path(), "sandbox.wasm", SANDBOX);
    for pooling in [true, false] {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: None,
            pooling,
        })
        .unwrap();
        if !pooling {
            assert_eq!(runtime.allocation(), Allocation::OnDemand);
        }
        let plugin = runtime.load(&path, None).unwrap();
        assert_eq!(
            answer(&runtime, &plugin).unwrap(),
            42,
            "{:?}",
            runtime.allocation()
        );
    }
}

#[test]
fn plugin_importing_what_the_host_does_not_link_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_component(
        dir.path(),
        "needs-session.wasm",
        r#"(component
             (import "godwit:plugin/host@0.1.0" (instance
               (export "log" (func (param "message" string))))))"#,
    );
    let error = runtime(None).load(&path, None).unwrap_err();
    match &error {
        Error::Link { plugin, message } => {
            assert!(plugin.starts_with("needs-session.wasm (sha256:"), "{error}");
            assert!(message.contains("godwit:plugin/host"), "{error}");
        }
        other => panic!("expected a link failure, got {other:?}"),
    }
}

/// Writes `len` bytes from offset 16 to stdout `times` times, through WASI p2 directly.
fn printer(times: u32, len: u32) -> String {
    format!(
        r#"(component
  (import "wasi:io/error@0.2.0" (instance $io-error
    (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error (type $error-outer))
    (export "error" (type $e (eq $error-outer)))
    (export "output-stream" (type $os (sub resource)))
    (type $stream-error (variant (case "last-operation-failed" (own $e)) (case "closed")))
    (export "stream-error" (type $se (eq $stream-error)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $os)) (param "contents" (list u8)) (result (result (error $se)))))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type $os-outer))
    (export "output-stream" (type $os (eq $os-outer)))
    (export "get-stdout" (func (result (own $os))))))
  (core module $libc (memory (export "mem") 1))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "mem" (core memory $mem))
  (core func $get-stdout (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower (func $streams "[method]output-stream.blocking-write-and-flush") (memory $mem)))
  (core module $m
    (import "libc" "mem" (memory 1))
    (import "host" "get-stdout" (func $get-stdout (result i32)))
    (import "host" "write" (func $write (param i32 i32 i32 i32)))
    (data (i32.const 16) "hello from the sandbox")
    (func (export "run") (local $out i32) (local $n i32)
      (local.set $out (call $get-stdout))
      (loop $l
        (call $write (local.get $out) (i32.const 16) (i32.const {len}) (i32.const 8192))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $n) (i32.const {times}))))))
  (core instance $i (instantiate $m
    (with "libc" (instance $libc))
    (with "host" (instance (export "get-stdout" (func $get-stdout)) (export "write" (func $write))))))
  (func (export "run") (canon lift (core func $i "run"))))"#
    )
}

fn print(times: u32, len: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_component(dir.path(), "printer.wasm", &printer(times, len));
    let runtime = runtime(None);
    let plugin = runtime.load(&path, None).unwrap();
    runtime
        .call(&plugin, &Limits::default(), |store, instance| {
            let f = instance.get_typed_func::<(), ()>(&mut *store, "run")?;
            f.call(&mut *store, ())
        })
        .unwrap()
        .stdout
}

#[test]
fn plugin_stdout_is_captured_for_the_host() {
    assert_eq!(print(2, 22), "hello from the sandboxhello from the sandbox");
}

#[test]
fn plugin_stdout_is_capped() {
    // Each write is the greeting and 1002 NUL bytes; the host keeps OUTPUT_CAP bytes of
    // them, then shows each NUL escaped (`\x00`) so it cannot reach the terminal.
    let stdout = print(100, 1024);
    assert_eq!(
        stdout.matches("hello from the sandbox").count(),
        godwit::plugin::OUTPUT_CAP / 1024
    );
    assert_eq!(
        stdout.len(),
        godwit::plugin::OUTPUT_CAP + 3 * stdout.matches("\\x00").count()
    );
    assert!(!stdout.contains('\0'));
}

/// A component of `n` core instances, each with its own memory (or table) that its
/// `grow` export enlarges by `by` pages (or elements) from `initial`; `run` grows them all.
fn many(n: usize, kind: &str, initial: u32, by: u32) -> String {
    let (decl, grow) = match kind {
        "memory" => (
            format!("(memory {initial})"),
            format!("(memory.grow (i32.const {by}))"),
        ),
        _ => (
            format!("(table {initial} funcref)"),
            format!("(table.grow (ref.null func) (i32.const {by}))"),
        ),
    };
    let mut wat = String::from("(component\n");
    for i in 0..n {
        wat += &format!(
            "  (core module $m{i} {decl} (func (export \"grow\") (result i32) {grow}))\n  (core instance $i{i} (instantiate $m{i}))\n"
        );
    }
    wat += "  (core module $main\n";
    for i in 0..n {
        wat += &format!("    (import \"m{i}\" \"grow\" (func $g{i} (result i32)))\n");
    }
    wat += "    (func (export \"run\")";
    for i in 0..n {
        wat += &format!(" (drop (call $g{i}))");
    }
    wat += "))\n  (core instance $main (instantiate $main";
    for i in 0..n {
        wat += &format!(" (with \"m{i}\" (instance $i{i}))");
    }
    wat += "))\n  (func (export \"run\") (canon lift (core func $main \"run\"))))\n";
    wat
}

/// The memory cap is for the whole instance: four memories of 24 MiB each stay under a
/// 64 MiB cap one by one but not together, whether they are grown or declared that
/// large, under the pooling allocator and on-demand alike; table elements are capped
/// across tables the same way. Below the caps the same shapes run.
#[test]
fn memory_and_table_caps_hold_across_all_of_a_components_memories_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let cases = [
        ("grown", many(4, "memory", 1, 383), false),
        ("declared", many(4, "memory", 384, 0), false),
        ("small", many(4, "memory", 1, 100), true),
        ("tables", many(8, "table", 1, 15_000), false),
        ("few tables", many(4, "table", 1, 15_000), true),
    ];
    for pooling in [true, false] {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: None,
            pooling,
        })
        .unwrap();
        for (name, wat, fits) in &cases {
            let path = write_component(dir.path(), "sandbox.wasm", wat);
            let plugin = runtime.load(&path, None).unwrap();
            let result = runtime.call(&plugin, &limits, |store, instance| {
                let f = instance.get_typed_func::<(), ()>(&mut *store, "run")?;
                f.call(&mut *store, ())
            });
            match (fits, result) {
                (true, Ok(call)) => assert!(call.peak_memory <= 64 << 20),
                (false, Err(e)) => {
                    let message = trap_message(e);
                    assert!(
                        message.contains("limit"),
                        "{name}, pooling {pooling}: {message}"
                    );
                }
                (fits, other) => panic!("{name}, pooling {pooling}, fits {fits}: {other:?}"),
            }
        }
    }
}
