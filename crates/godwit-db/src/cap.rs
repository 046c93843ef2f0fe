//! Results held to a plugin's cap: how much the host reads of one, and the typed error a
//! result that passes it becomes.

use godwit_core::value::{Rows, Value};

use crate::{meter, values};

/// How much of a query's result the host holds for a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultCap {
    pub rows: usize,
    /// Decoded size: each value a fixed overhead plus its text or bytes.
    pub bytes: usize,
}

impl ResultCap {
    /// The cap for a plugin with `memory_bytes` of linear memory: a result larger than its
    /// whole memory could not be handed to it anyway, and each row costs the plugin at
    /// least [`ResultCap::ROW_COST`] bytes.
    pub fn for_memory(memory_bytes: usize) -> ResultCap {
        ResultCap {
            rows: (memory_bytes / ResultCap::ROW_COST).max(1),
            bytes: memory_bytes,
        }
    }

    /// The least a row costs a plugin: its list and one column's name and value.
    pub const ROW_COST: usize = 64;
}

/// A result that passed its [`ResultCap`]; carried inside a [`sqlx::Error::Decode`] so
/// that it travels the drivers' error type, and found again with [`SqlError::too_large`](crate::SqlError::too_large).
#[derive(Debug, thiserror::Error)]
#[error(
    "the result passed the host's cap of {} rows or {} bytes (from the plugin's memory limit) at {rows} rows and at least {bytes} bytes; the rest was not read",
    cap.rows,
    cap.bytes
)]
pub struct ResultTooLarge {
    pub cap: ResultCap,
    pub rows: usize,
    /// What the rows read so far and the row that passed the cap add up to: exact where
    /// the host or the server measured that row, a lower bound where the database refused
    /// to build one of its values (SQLite's `SQLITE_LIMIT_LENGTH`).
    pub bytes: usize,
}

impl ResultTooLarge {
    /// The [`ResultTooLarge`] inside `e`, if that is what `e` is; callers outside the
    /// crate ask [`SqlError::too_large`].
    pub(crate) fn of(e: &sqlx::Error) -> Option<&ResultTooLarge> {
        match e {
            sqlx::Error::Decode(inner) => inner.downcast_ref::<ResultTooLarge>(),
            _ => None,
        }
    }
}

/// How a capped read keeps a single row from being larger than the cap by the time the
/// host holds it. Counting after decoding bounds the number of rows, but a row arrives
/// whole: one value of half a gigabyte would be in memory before any check could run.
#[derive(Clone, Copy)]
pub(crate) enum Guard {
    /// Nothing keeps a row from the host before it arrives whole; only the rows after it
    /// are not read (MySQL/MariaDB: the server builds no value over its global
    /// `max_allowed_packet`, but a row of many columns can hold many such values).
    OnArrival,
    /// The statement was wrapped so that the server measures each row before sending it
    /// (PostgreSQL: [`postgres`]'s `sized`): the last column is the row's size as the
    /// server measured it, and a row over the cap arrives with every other column NULL.
    SizeColumn,
    /// The database itself refuses to build a value over `limit` bytes (SQLite's
    /// `SQLITE_LIMIT_LENGTH`, set for the statement), failing it with an error `refused`
    /// recognises.
    ValueLimit {
        limit: usize,
        refused: fn(&sqlx::Error) -> bool,
    },
}

/// Adds `row` to `out` and says whether `out` is still within `cap`.
fn push_capped(
    out: &mut Rows,
    bytes: &mut usize,
    decoded: Rows,
    cap: ResultCap,
) -> Result<(), sqlx::Error> {
    if out.columns.is_empty() {
        out.columns = decoded.columns;
    }
    for row in decoded.rows {
        *bytes = bytes.saturating_add(values::size(&row));
        out.rows.push(row);
    }
    if out.rows.len() > cap.rows || *bytes > cap.bytes {
        return Err(too_large(cap, out.rows.len(), *bytes));
    }
    Ok(())
}

pub(crate) fn too_large(cap: ResultCap, rows: usize, bytes: usize) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(ResultTooLarge { cap, rows, bytes }))
}

/// Takes the size column of [`Guard::SizeColumn`] off `decoded` (one row), and refuses the
/// row when the server found it over the cap (its other columns are NULL then).
fn strip_size(
    decoded: &mut Rows,
    cap: ResultCap,
    rows: usize,
    bytes: usize,
) -> Result<(), sqlx::Error> {
    decoded.columns.pop();
    for row in &mut decoded.rows {
        let size = match row.pop() {
            Some(Value::Int(size)) => usize::try_from(size).unwrap_or(usize::MAX),
            other => {
                return Err(sqlx::Error::Protocol(format!(
                    "the size the server measured for a result row is missing (found {other:?})"
                )));
            }
        };
        if size > cap.bytes {
            return Err(too_large(cap, rows + 1, bytes.saturating_add(size)));
        }
    }
    Ok(())
}

/// Decodes `rows` one at a time with `decode`, stopping (and dropping the rest unread)
/// past `cap`; `guard` says how a single row was kept within the cap before it arrived.
pub(crate) async fn read_capped<R>(
    mut rows: futures_core::stream::BoxStream<'_, Result<R, sqlx::Error>>,
    cap: ResultCap,
    decode: fn(&[R]) -> Result<Rows, sqlx::Error>,
    guard: Guard,
    meter: Option<&meter::Armed>,
) -> Result<Rows, sqlx::Error> {
    let mut out = Rows::default();
    let mut bytes: usize = 0;
    while let Some(row) = next(&mut rows).await {
        let row = match row {
            Ok(row) => row,
            // The database refused to build a value, or the meter held a row back: the
            // result passed the cap, by at least that much.
            Err(e) => {
                let held = match guard {
                    Guard::ValueLimit { limit, refused } if refused(&e) => {
                        Some(limit.saturating_add(1))
                    }
                    _ => meter.and_then(meter::Armed::held),
                };
                return Err(match held {
                    Some(held) => too_large(cap, out.rows.len() + 1, bytes.saturating_add(held)),
                    None => e,
                });
            }
        };
        let mut decoded = decode(std::slice::from_ref(&row))?;
        drop(row);
        if let Guard::SizeColumn = guard {
            strip_size(&mut decoded, cap, out.rows.len(), bytes)?;
        }
        push_capped(&mut out, &mut bytes, decoded, cap)?;
    }
    Ok(out)
}

/// The next item of a sqlx stream.
pub(crate) async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_row(text: &str) -> Rows {
        Rows {
            columns: vec!["x".into()],
            rows: vec![vec![Value::Text(text.into())]],
        }
    }

    #[test]
    fn a_result_stops_at_the_first_row_past_either_cap() {
        let by_bytes = ResultCap {
            rows: 1000,
            bytes: 100,
        };
        let (mut out, mut bytes) = (Rows::default(), 0);
        push_capped(&mut out, &mut bytes, one_row(&"x".repeat(50)), by_bytes).unwrap();
        let err =
            push_capped(&mut out, &mut bytes, one_row(&"x".repeat(50)), by_bytes).unwrap_err();
        let too_large = ResultTooLarge::of(&err).expect("a typed too-large error");
        assert_eq!((too_large.rows, too_large.cap), (2, by_bytes));
        assert_eq!(out.columns, ["x"]);

        let by_rows = ResultCap {
            rows: 2,
            bytes: usize::MAX,
        };
        let (mut out, mut bytes) = (Rows::default(), 0);
        for _ in 0..2 {
            push_capped(&mut out, &mut bytes, one_row(""), by_rows).unwrap();
        }
        let err = push_capped(&mut out, &mut bytes, one_row(""), by_rows).unwrap_err();
        assert_eq!(ResultTooLarge::of(&err).map(|t| t.rows), Some(3));
        // Other errors are not mistaken for it.
        assert!(ResultTooLarge::of(&sqlx::Error::RowNotFound).is_none());
        assert!(ResultTooLarge::of(&sqlx::Error::Decode("bad".into())).is_none());
    }

    #[test]
    fn the_cap_follows_the_memory_limit() {
        assert_eq!(
            ResultCap::for_memory(64 << 20),
            ResultCap {
                rows: 1 << 20,
                bytes: 64 << 20
            }
        );
        assert_eq!(ResultCap::for_memory(0).rows, 1);
    }
}
