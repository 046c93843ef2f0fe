//! Test fixture for the `backfill` world that misbehaves on request: the `mode` setting
//! picks what `transform` does. A mode the sandbox denies returns an `Err` naming what was
//! denied, so tests can tell a refusal from a plugin that never tried. `table`, `key`,
//! `reads`, `writes`, `filter` and `batch_size` shape what `describe` returns.

use godwit_sdk::{Backfill, BackfillSpec, Column, Row, RowExt as _, Value, config};

struct Hostile;

fn mode() -> String {
    config::get_str("mode").unwrap_or_else(|| "ok".into())
}

fn key() -> String {
    config::get_str("key").unwrap_or_else(|| "id".into())
}

/// Each row keyed as given, with `to` set by `f`.
fn map_rows(
    rows: &[Row],
    mut f: impl FnMut(&Row) -> Result<Column, String>,
) -> Result<Vec<Row>, String> {
    let key = key();
    rows.iter()
        .map(|row| Ok(vec![Column::new(key.as_str(), row.require(&key)?), f(row)?]))
        .collect()
}

#[allow(unconditional_recursion)]
fn dive(depth: u64) -> u64 {
    // black_box keeps the optimiser from turning the recursion into a loop.
    std::hint::black_box(dive(std::hint::black_box(depth + 1))) + 1
}

/// `symlink(2)` as wasi-libc provides it (std's `symlink_path` is unstable): the link path
/// resolved against the preopens, the target stored as written.
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    use std::ffi::{CString, c_char, c_int};
    unsafe extern "C" {
        fn symlink(target: *const c_char, link: *const c_char) -> c_int;
    }
    let (target, link) = (
        CString::new(target).map_err(std::io::Error::other)?,
        CString::new(link).map_err(std::io::Error::other)?,
    );
    // SAFETY: both are NUL-terminated strings that outlive the call.
    match unsafe { symlink(target.as_ptr(), link.as_ptr()) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// One filesystem operation: `symlink TARGET LINK`, `link OLD NEW` (a hard link),
/// `mkdir DIR`, `write FILE TEXT`, `append FILE TEXT`, `rename FROM TO`, `remove FILE`.
fn fs_op(op: &str) -> std::io::Result<()> {
    let words: Vec<&str> = op.splitn(3, ' ').collect();
    match words.as_slice() {
        ["symlink", target, link] => symlink(target, link),
        ["link", old, new] => std::fs::hard_link(old, new),
        ["mkdir", dir] => std::fs::create_dir_all(dir),
        ["write", file, text] => std::fs::write(file, text),
        ["append", file, text] => {
            use std::io::Write as _;
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(file)?
                .write_all(text.as_bytes())
        }
        ["rename", from, to] => std::fs::rename(from, to),
        ["remove", file] => std::fs::remove_file(file),
        _ => Err(std::io::Error::other(format!("unknown fs op {op:?}"))),
    }
}

impl Backfill for Hostile {
    fn describe() -> BackfillSpec {
        let table = config::get_str("table").unwrap_or_else(|| "items".into());
        let (reads, writes) = match mode().as_str() {
            "bump" => (vec!["n".to_owned()], vec!["n".to_owned()]),
            _ => (config::get_list("reads"), config::get_list("writes")),
        };
        let spec = BackfillSpec::new(&table, &key(), reads, writes);
        let spec = match config::get_str("filter") {
            Some(filter) => spec.filter(filter),
            None => spec,
        };
        spec.batch_size_hint(
            config::get_i64("batch_size")
                .ok()
                .flatten()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(100),
        )
    }

    fn transform(rows: Vec<Row>) -> Result<Vec<Row>, String> {
        match mode().as_str() {
            "ok" => {
                let from = config::require_str("from")?;
                let to = config::require_str("to")?;
                map_rows(&rows, |row| {
                    let value = row.require(&from)?;
                    Ok(Column::new(
                        to.as_str(),
                        value
                            .as_str()
                            .map_or(Value::Null, |s| s.to_uppercase().into()),
                    ))
                })
            }
            "bump" => map_rows(&rows, |row| {
                let n = row.int("n").unwrap_or(0);
                Ok(Column::new("n", n + 1))
            }),
            "loop" => loop {
                std::hint::black_box(&rows);
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recursion" => Err(format!("unreachable: {}", dive(0))),
            "panic" => panic!("hostile plugin panics on purpose"),
            "read-file" => match std::fs::read("/etc/passwd") {
                Ok(bytes) => Err(format!(
                    "read /etc/passwd: {} bytes, the sandbox let it through",
                    bytes.len()
                )),
                Err(e) => Err(format!("cannot read /etc/passwd: {e}")),
            },
            "env" => match std::env::var("HOME") {
                // Granted: behave, writing HOME into `to`, so a test sees the grant work.
                Ok(home) => {
                    let to = config::require_str("to")?;
                    map_rows(&rows, |_| Ok(Column::new(to.as_str(), home.as_str())))
                }
                Err(e) => Err(format!("cannot read env var HOME: {e}")),
            },
            "socket" => match std::net::TcpStream::connect("127.0.0.1:5432") {
                Ok(_) => Err("connected to 127.0.0.1:5432, the sandbox let it through".into()),
                Err(e) => Err(format!("cannot connect to 127.0.0.1:5432: {e}")),
            },
            "bad-column" => {
                let column = config::get_str("column").unwrap_or_else(|| "secret".into());
                map_rows(&rows, |_| Ok(Column::new(column.as_str(), "pwned")))
            }
            // Filesystem attacks in the granted directory, `;`-separated in the `fs` setting
            // (`symlink ../../etc/passwd /l; write /f text`); each may fail, and then the
            // rows are transformed as in `ok`, so only the host can make the call fail.
            "fs" => {
                let ops = config::get_str("fs").unwrap_or_default();
                for op in ops.split(';').map(str::trim).filter(|o| !o.is_empty()) {
                    eprintln!("{op}: {:?}", fs_op(op));
                }
                let from = config::require_str("from")?;
                let to = config::require_str("to")?;
                map_rows(&rows, |row| {
                    Ok(Column::new(to.as_str(), row.require(&from)?))
                })
            }
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

godwit_sdk::export_backfill!(Hostile);
