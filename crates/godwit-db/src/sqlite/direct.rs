//! A migration's whole transaction run on SQLite's handle directly, on the calling thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own, and every command it
//! sends there (a statement, BEGIN, COMMIT, each result coming back) wakes one thread from
//! the other. For a migration that was four trips or more; locking the handle out from
//! the worker is one, and then BEGIN, the statements, the history row and COMMIT run here
//! in turn (issue 12). Errors are sqlx's own [`sqlx::sqlite::SqliteError`], read from the
//! handle as sqlx reads them, so they print and match exactly as on sqlx's path.

use std::ffi::{c_char, c_int};
use std::time::Duration;

use libsqlite3_sys::{
    SQLITE_DONE, SQLITE_OK, SQLITE_ROW, sqlite3_busy_timeout, sqlite3_changes64, sqlite3_finalize,
    sqlite3_prepare_v2, sqlite3_step, sqlite3_stmt,
};
use sqlx::sqlite::LockedSqliteHandle;

use crate::traits::{MakeRow, TransactionError};
use godwit_core::history::HistoryRow;

/// BEGIN IMMEDIATE, `statements`, the row `finish` makes of their counts (as `insert`
/// writes it in SQL), COMMIT, all on `handle`, with `busy` as SQLite's busy timeout.
/// After an error the transaction may still be open.
pub(super) fn apply(
    handle: &mut LockedSqliteHandle<'_>,
    busy: Duration,
    statements: &[&str],
    finish: &mut MakeRow<'_>,
    insert: impl FnOnce(&HistoryRow) -> String,
) -> Result<Vec<u64>, TransactionError> {
    let around = |error: sqlx::Error| TransactionError::around(error.into());
    let ms = c_int::try_from(busy.as_millis()).unwrap_or(c_int::MAX);
    // SAFETY: the handle is locked out from sqlx's worker for as long as `handle` lives,
    // so nothing else uses the connection meanwhile.
    let rc = unsafe { sqlite3_busy_timeout(handle.as_raw_handle().as_ptr(), ms) };
    if rc != SQLITE_OK {
        return Err(around(last_error(handle)));
    }
    // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading.
    run(handle, "BEGIN IMMEDIATE").map_err(around)?;
    let mut affected = Vec::with_capacity(statements.len());
    for (index, sql) in statements.iter().enumerate() {
        let n = run(handle, sql).map_err(|error| TransactionError::Sql {
            statement: Some(index),
            error: error.into(),
        })?;
        affected.push(n);
    }
    let row = finish(&affected);
    // The COMMIT does not run if the INSERT fails.
    run(handle, &format!("{};\nCOMMIT", insert(&row))).map_err(around)?;
    Ok(affected)
}

/// The error SQLite holds on the handle for the call that just failed.
fn last_error(handle: &mut LockedSqliteHandle<'_>) -> sqlx::Error {
    match handle.last_error() {
        Some(e) => sqlx::Error::Database(Box::new(e)),
        None => sqlx::Error::Protocol("SQLite reported a failure but holds no error for it".into()),
    }
}

/// Runs every statement in `sql` in turn, reading past any rows they return, and stops at
/// the first that fails. Returns the changes SQLite counted for the last one, as sqlx
/// does for each statement.
fn run(handle: &mut LockedSqliteHandle<'_>, sql: &str) -> Result<u64, sqlx::Error> {
    let db = handle.as_raw_handle().as_ptr();
    let mut rest = sql.as_bytes();
    let mut changes = 0;
    while !rest.is_empty() {
        let len = c_int::try_from(rest.len()).map_err(|_| {
            sqlx::Error::Protocol(format!(
                "a statement of {} bytes is more than SQLite takes in one piece ({} bytes)",
                rest.len(),
                c_int::MAX
            ))
        })?;
        let mut statement: *mut sqlite3_stmt = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        // SAFETY: the handle is ours (see `apply`); `rest` is valid for `len` bytes, and
        // SQLite reads no further, so it needs no NUL; `tail` comes back pointing into it.
        let rc =
            unsafe { sqlite3_prepare_v2(db, rest.as_ptr().cast(), len, &mut statement, &mut tail) };
        if rc != SQLITE_OK {
            let error = last_error(handle);
            // SAFETY: after a failed prepare `statement` is NULL, which finalize ignores.
            unsafe { sqlite3_finalize(statement) };
            return Err(error);
        }
        let consumed = if tail.is_null() {
            rest.len()
        } else {
            // SAFETY: `tail` points into `rest`, at or after its start.
            usize::try_from(unsafe { tail.cast::<u8>().offset_from(rest.as_ptr()) })
                .unwrap_or(rest.len())
        };
        rest = &rest[consumed.min(rest.len())..];
        if statement.is_null() {
            // Only whitespace or a comment was there.
            if consumed == 0 {
                break;
            }
            continue;
        }
        let outcome = loop {
            // SAFETY: `statement` was prepared on `db` and is not finalized yet.
            match unsafe { sqlite3_step(statement) } {
                SQLITE_ROW => continue,
                // SAFETY: `db` is the open handle.
                SQLITE_DONE => break Ok(unsafe { sqlite3_changes64(db) }.max(0) as u64),
                // sqlite3_prepare_v2's statements report the error from step itself.
                _ => break Err(last_error(handle)),
            }
        };
        // SAFETY: `statement` is finalized once, here, after its last step.
        unsafe { sqlite3_finalize(statement) };
        changes = outcome?;
    }
    Ok(changes)
}
