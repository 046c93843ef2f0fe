//! Durations as godwit.toml, `step.toml` and flags write them.

use std::time::Duration;

/// The longest duration godwit reads anywhere: longer than any wait a deploy needs, and
/// short enough that adding it to a clock or a grace period cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Parses `"5s"`, `"250ms"`, `"2min"`, or `"0"` (no limit), up to [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let duration = humantime::parse_duration(text).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. \"5s\", \"500ms\" or \"2min\"")
    })?;
    if duration > MAX_DURATION {
        return Err(format!(
            "`{text}` is longer than godwit accepts for any setting (a year); write e.g. \"5s\", \"10min\" or \"1h\""
        ));
    }
    Ok(duration)
}
