//! Test fixture for the `data-step` world: `mode` picks between two refusals the host must
//! produce, one real step, `query`/`execute`/`count` of any statement a test puts in `sql`, and
//! steps that never make progress (`stall`) or report any row count (`rows`).

use godwit_sdk::{BatchResult, DataStep, RowExt as _, Session, Value, config};

struct HostileStep;

/// `UPDATE items SET n = n + 1` for the next `size` rows after `cursor`, by id.
fn counter(session: &Session, cursor: Option<String>, size: u32) -> Result<BatchResult, String> {
    let after: i64 = match cursor {
        Some(c) => c
            .parse()
            .map_err(|_| format!("cursor {c:?} is not an id"))?,
        None => i64::MIN,
    };
    let rows = session.query(
        "SELECT id FROM items WHERE id > $1 ORDER BY id LIMIT $2",
        &[Value::Int(after), Value::Int(size.into())],
    )?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.int("id")).collect();
    if ids.len() != rows.len() {
        return Err("items.id must be an integer".into());
    }
    let touched = if ids.is_empty() {
        0
    } else {
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let params: Vec<Value> = ids.iter().map(|&id| Value::Int(id)).collect();
        session.execute(
            &format!(
                "UPDATE items SET n = n + 1 WHERE id IN ({})",
                placeholders.join(", ")
            ),
            &params,
        )?
    };
    Ok(BatchResult {
        next_cursor: ids.last().map(i64::to_string),
        rows: touched,
        done: ids.len() < size as usize,
    })
}

impl DataStep for HostileStep {
    fn run_batch(
        session: &Session,
        cursor: Option<String>,
        size: u32,
    ) -> Result<BatchResult, String> {
        let mode = config::get_str("mode").unwrap_or_else(|| "counter".into());
        match mode.as_str() {
            "ungranted-table" => {
                let table = config::require_str("table")?;
                let rows = session
                    .query(&format!("SELECT * FROM {table}"), &[])
                    .map_err(|e| format!("cannot query {table}: {e}"))?;
                Err(format!(
                    "queried {table}: {} rows, the host let it through",
                    rows.len()
                ))
            }
            "write-read-only" => {
                let table = config::get_str("table").unwrap_or_else(|| "items".into());
                let n = session
                    .execute(&format!("UPDATE {table} SET n = n + 1"), &[])
                    .map_err(|e| format!("cannot update {table}: {e}"))?;
                Err(format!(
                    "updated {n} rows of {table}, the host let it through"
                ))
            }
            // Any statement a test chooses, in `sql`: whatever it reads comes back in the
            // error text, so a test asserts on the output that nothing was read; what it
            // writes is committed as one batch, so a test asserts on the table that nothing
            // was written.
            "query" => {
                let sql = config::require_str("sql")?;
                let rows = session.query(&sql, &[])?;
                let shown: Vec<String> = rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|c| format!("{}={:?}", c.name, c.value))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .collect();
                Err(format!(
                    "read {} rows, the host let it through: {}",
                    rows.len(),
                    shown.join(" | ")
                ))
            }
            // The query in `sql`, its row count reported as the batch's: a query that is
            // let through and ends, so the step is applied.
            "count" => {
                let sql = config::require_str("sql")?;
                let rows = session.query(&sql, &[])?;
                Ok(BatchResult {
                    next_cursor: None,
                    rows: rows.len() as u64,
                    done: true,
                })
            }
            "execute" => {
                let sql = config::require_str("sql")?;
                let rows = session.execute(&sql, &[])?;
                Ok(BatchResult {
                    next_cursor: None,
                    rows,
                    done: true,
                })
            }
            // The query in `sql`, its error ignored, then the statement in `write`: a step
            // that goes on without the rows it asked for, done in one batch.
            "query-then-execute" => {
                let _ = session.query(&config::require_str("sql")?, &[]);
                let rows = session.execute(&config::require_str("write")?, &[])?;
                Ok(BatchResult {
                    next_cursor: None,
                    rows,
                    done: true,
                })
            }
            // No rows, the cursor it was given back, never done: a step that never moves.
            "stall" => Ok(BatchResult {
                next_cursor: cursor,
                rows: 0,
                done: false,
            }),
            // Claims `rows` (a decimal u64) rows per batch, for `batches` batches (default
            // 1), moving its cursor each time: counts the host must check before recording.
            "rows" => {
                let rows: u64 = config::require_str("rows")?
                    .parse()
                    .map_err(|e| format!("rows: {e}"))?;
                let batches: u64 = config::get_str("batches")
                    .map_or(Ok(1), |b| b.parse())
                    .map_err(|e| format!("batches: {e}"))?;
                let done_so_far: u64 = cursor
                    .as_deref()
                    .map_or(Ok(0), str::parse)
                    .map_err(|e| format!("cursor: {e}"))?;
                Ok(BatchResult {
                    next_cursor: Some((done_so_far + 1).to_string()),
                    rows,
                    done: done_so_far + 1 >= batches,
                })
            }
            // Text that would pass for godwit's own lines if printed raw: `line` after a
            // newline, a carriage return, cursor moves, an OSC title, backspaces, C1 CSI,
            // a bidi override and a Unicode line separator. It goes to stdout, stderr, the
            // log and, unless `fail = false`, the error.
            "forge" => {
                let line = config::get_str("line").unwrap_or_else(|| {
                    "Applied 1 migration (20990101000000_forged) in 1 ms; database is up to date."
                        .into()
                });
                let payloads = [
                    format!("ok\n{line}\n"),
                    format!("ok\r{line}"),
                    format!("ok\r\n{line}"),
                    format!("\x1b[2K\r{line}"),
                    format!("ok\x1b[1A\x1b[2K\x1b[G{line}"),
                    format!("\x1b]0;owned\x07\x1b]8;;https://evil.example\x1b\\{line}"),
                    format!("ok\x08\x08{line}"),
                    format!("\u{9b}2K{line}"),
                    format!("\u{202e}{line}"),
                    format!("ok\u{2028}{line}"),
                    format!("ok\x0b{line}\x0c{line}"),
                ];
                for text in &payloads {
                    println!("{text}");
                    eprintln!("{text}");
                    godwit_sdk::log::warn(text);
                }
                if config::get_bool("fail")?.unwrap_or(true) {
                    Err(payloads.join(""))
                } else {
                    Ok(BatchResult {
                        next_cursor: None,
                        rows: 0,
                        done: true,
                    })
                }
            }
            "counter" => counter(session, cursor, size),
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

godwit_sdk::export_data_step!(HostileStep);
