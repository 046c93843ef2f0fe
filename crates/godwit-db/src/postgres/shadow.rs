//! A scratch database on a PostgreSQL server (see [`crate::shadow`]).

use crate::error::SqlError;
use crate::traits::Session;

pub(crate) async fn create(
    session: &mut dyn Session,
    name: &str,
) -> Result<Option<String>, SqlError> {
    let setup = schema_setup(session).await;
    session
        .execute(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    Ok(setup)
}

pub(crate) async fn drop(session: &mut dyn Session, name: &str) -> Result<(), SqlError> {
    // FORCE ends the shadow's own connections should any linger; PostgreSQL before 13
    // does not know it.
    let forced = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    match session.execute(&forced).await {
        Err(e) if e.code().as_deref() == Some("42601") => session
            .execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .await
            .map(|_| ()),
        other => other.map(|_| ()),
    }
}

/// A target that migrates another schema than `public` (through `search_path` in the URL)
/// needs that schema in the fresh database too, or the migrations would have nowhere to go.
async fn schema_setup(session: &mut dyn Session) -> Option<String> {
    let rows = session
        .query_text("SELECT current_schema()::text")
        .await
        .ok()?;
    match rows.first().map(|r| r.as_slice()) {
        Some([Some(schema)]) if schema != "public" => Some(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{}\"",
            schema.replace('"', "\"\"")
        )),
        _ => None,
    }
}
