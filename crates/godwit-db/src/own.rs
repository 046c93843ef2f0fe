//! The objects godwit keeps in a database for itself, which its dumps and restores leave
//! alone.

/// The migration lock's lease table. It is never backed up nor restored: it describes
/// who runs godwit now.
pub const LOCK_TABLE: &str = "godwit_lock";

/// Where PostgreSQL keeps the copies of dropped data: neither dumped nor dropped by a
/// restore, so that what a run copied is still there after the database is put back.
pub const COPIES_SCHEMA: &str = "godwit_copies";

/// Eight hex digits of SHA-256: enough to tell two long names of godwit's own apart when
/// one has to be shortened.
pub(crate) fn short_digest(text: &str) -> String {
    use sha2::Digest as _;
    godwit_core::value::hex(&sha2::Sha256::digest(text.as_bytes()))[..8].to_string()
}
