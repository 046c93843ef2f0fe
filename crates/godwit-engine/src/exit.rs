//! Process exit codes, as DESIGN.md promises them; scripts depend on them, so they never
//! change meaning. [`crate::error::Error::exit_code`] says which one each failure gets.

pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONNECT: u8 = 3;
pub const BLOCKED: u8 = 4;
pub const PENDING: u8 = 5;
