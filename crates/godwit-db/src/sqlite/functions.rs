//! SQL functions newer SQLite releases have and the SQLite godwit links may lack.
//!
//! godwit links SQLite through libsqlite3-sys (3.46.0 today). Projects whose own driver
//! bundles a newer SQLite write migrations with its functions: ory/hydra's use `IF()` in
//! generated columns, which SQLite added in 3.48.0 together with a two-argument and
//! many-argument `iif()`. Against an older library those migrations fail with "no such
//! function: if". Where the linked SQLite is older than 3.48.0, the work connection gets
//! `if()` and the `iif()` forms the library lacks, with 3.48's meaning: `if(B1, V1, B2,
//! V2, …[, ELSE])` is the first `Vi` whose `Bi` is true, else `ELSE`, else NULL. They are
//! deterministic and innocuous, as SQLite's own are, so generated columns, indexes and
//! views may use them.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

use libsqlite3_sys as ffi;

/// The release that added `if()` and the new forms of `iif()`.
const ADDED_IN: c_int = 3_048_000;

/// Adds the functions to the connection `db` when the linked SQLite lacks them.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses during the call.
pub(super) unsafe fn install(db: NonNull<ffi::sqlite3>) -> Result<(), String> {
    // SAFETY: reads a constant of the linked library.
    if unsafe { ffi::sqlite3_libversion_number() } >= ADDED_IN {
        return Ok(());
    }
    // `if` with any number of arguments (the library has no `if` at all); `iif` only
    // with the argument counts the library's own three-argument `iif` does not take.
    let forms = std::iter::once((c"if", -1))
        .chain(std::iter::once((c"iif", 2)))
        .chain((4..=32).map(|n| (c"iif", n)));
    for (name, args) in forms {
        // SAFETY: `db` is open and ours for the call (the caller's promise); the name is
        // a NUL-terminated constant; the callback only reads its arguments and sets the
        // result; there is no user data to free.
        let rc = unsafe {
            ffi::sqlite3_create_function_v2(
                db.as_ptr(),
                name.as_ptr(),
                args,
                ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
                std::ptr::null_mut::<c_void>(),
                Some(choose),
                None,
                None,
                None,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(format!(
                "cannot add SQLite's {}() to the connection (code {rc})",
                name.to_string_lossy()
            ));
        }
    }
    Ok(())
}

/// `if(B1, V1, …[, ELSE])` / `iif(…)`.
unsafe extern "C" fn choose(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    let argc = usize::try_from(argc).unwrap_or(0);
    if argc < 2 {
        // SAFETY: `ctx` is the call's context; the message is NUL-terminated.
        unsafe {
            ffi::sqlite3_result_error(ctx, c"if() needs at least two arguments".as_ptr(), -1);
        }
        return;
    }
    // SAFETY: SQLite passes `argc` valid values in `argv` for the duration of the call.
    let args = unsafe { std::slice::from_raw_parts(argv, argc) };
    let mut pairs = args.chunks_exact(2);
    for pair in pairs.by_ref() {
        // SAFETY: each value is valid for the call.
        if unsafe { truthy(pair[0]) } {
            // SAFETY: as above; SQLite copies the value into the result.
            unsafe { ffi::sqlite3_result_value(ctx, pair[1]) };
            return;
        }
    }
    match pairs.remainder() {
        // SAFETY: as above.
        [otherwise] => unsafe { ffi::sqlite3_result_value(ctx, *otherwise) },
        // SAFETY: `ctx` is the call's context.
        _ => unsafe { ffi::sqlite3_result_null(ctx) },
    }
}

/// SQLite's truth of a value, as its `CASE WHEN` and `WHERE` take it: NULL is false, a
/// number is true when it is not zero, text and blobs by the number they start with.
unsafe fn truthy(value: *mut ffi::sqlite3_value) -> bool {
    // SAFETY: `value` is valid for the call (the caller's promise).
    unsafe {
        match ffi::sqlite3_value_type(value) {
            ffi::SQLITE_NULL => false,
            ffi::SQLITE_INTEGER => ffi::sqlite3_value_int64(value) != 0,
            _ => ffi::sqlite3_value_double(value) != 0.0,
        }
    }
}
