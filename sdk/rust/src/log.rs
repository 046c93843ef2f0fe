//! Write to godwit's log under the plugin's name; the host caps each message.

use crate::bindings::backfill::godwit::plugin::host::{self, Level};

/// Logs `message` at `trace` level.
pub fn trace(message: impl AsRef<str>) {
    host::log(Level::Trace, message.as_ref());
}

/// Logs `message` at `debug` level.
pub fn debug(message: impl AsRef<str>) {
    host::log(Level::Debug, message.as_ref());
}

/// Logs `message` at `info` level.
pub fn info(message: impl AsRef<str>) {
    host::log(Level::Info, message.as_ref());
}

/// Logs `message` at `warn` level.
pub fn warn(message: impl AsRef<str>) {
    host::log(Level::Warn, message.as_ref());
}

/// Logs `message` at `error` level.
pub fn error(message: impl AsRef<str>) {
    host::log(Level::Error, message.as_ref());
}
