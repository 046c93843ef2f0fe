//! Durations and sizes as godwit.toml, `step.toml`, plugin manifests and flags write them.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

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

/// `deserialize_with` for an optional duration written as text (`timeout = "5s"`).
pub fn deserialize_duration<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<Duration>, D::Error> {
    let text: Option<String> = Option::deserialize(de)?;
    text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
        .transpose()
}

/// `deserialize_with` for an optional size, written as a number of bytes or as text
/// (`memory = "128MiB"`).
pub fn deserialize_size<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(de)? {
        None => Ok(None),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(t)) => parse_size(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Parses `"128MiB"`, `"64MB"`, `"1GiB"`, `"512KiB"` or a plain number of bytes. Both
/// spellings of each unit are binary (`MB` = `MiB`), as memory limits always are.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => u32::MAX,
    };
    let n: Option<u64> = digits.parse().ok();
    match n {
        Some(n) if shift != u32::MAX => n
            .checked_mul(1u64 << shift)
            .ok_or_else(|| format!("`{t}` is too large")),
        _ => Err(format!(
            "`{t}` is not a size; write e.g. \"128MiB\", \"512KiB\" or \"1GiB\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size("64 MB"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
