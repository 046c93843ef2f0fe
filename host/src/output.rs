//! Command output: written to stdout without panicking when it cannot be, for the
//! crate's `outln!` and `out!` macros.

/// The first error writing the command's output, other than a reader that went away.
static OUTPUT_FAILED: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);

/// Writes command output to stdout without panicking when it cannot be written, as
/// `println!` does. A reader that went away (`godwit lint | head`) ends the output, not
/// the command: a deploy whose output is no longer read still finishes and releases its
/// lock. Any other failure (a full disk under `> file`) is kept for [`output_failed`].
pub fn write_out(args: std::fmt::Arguments) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.flush())
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        let mut failed = OUTPUT_FAILED.lock().unwrap_or_else(|e| e.into_inner());
        failed.get_or_insert(err);
    }
}

/// The first error [`write_out`] met, if any, other than a closed pipe.
pub fn output_failed() -> Option<std::io::Error> {
    OUTPUT_FAILED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
}
