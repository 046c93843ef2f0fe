//! A scratch database on a MySQL or MariaDB server (see [`crate::shadow`]).

use crate::error::SqlError;
use crate::traits::Session;

pub(crate) async fn create(
    session: &mut dyn Session,
    name: &str,
) -> Result<Option<String>, SqlError> {
    let charset = charset(session).await;
    session
        .execute(&format!("CREATE DATABASE `{name}`{charset}"))
        .await?;
    Ok(None)
}

pub(crate) async fn drop(session: &mut dyn Session, name: &str) -> Result<(), SqlError> {
    session
        .execute(&format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .map(|_| ())
}

/// The connected database's character set and collation, so that the new database's
/// columns match.
async fn charset(session: &mut dyn Session) -> String {
    let rows = session
        .query_text(
            "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR), CAST(DEFAULT_COLLATION_NAME AS CHAR) \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
        )
        .await
        .unwrap_or_default();
    let safe = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match rows.first().map(|r| r.as_slice()) {
        Some([Some(charset), Some(collation)]) if safe(charset) && safe(collation) => {
            format!(" CHARACTER SET {charset} COLLATE {collation}")
        }
        _ => String::new(),
    }
}
