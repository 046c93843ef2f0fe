//! `column-copy`: copy one column into another, optionally transformed, batch by batch.
//!
//! The expand/contract helper: after adding `email_normalized`, fill it from `email`
//! lowercased, without a long `UPDATE` holding locks on the whole table.

use godwit_sdk::{Backfill, BackfillSpec, Row, RowExt as _, Value, config};

struct ColumnCopy;

/// What `transform` does to each value.
#[derive(Clone, Copy)]
enum Transform {
    Copy,
    Lower,
    Upper,
    Trim,
    LowerTrim,
}

impl Transform {
    fn from_config() -> Result<Transform, String> {
        let name = config::get_str("transform").unwrap_or_else(|| "copy".into());
        Ok(match name.as_str() {
            "copy" => Transform::Copy,
            "lower" => Transform::Lower,
            "upper" => Transform::Upper,
            "trim" => Transform::Trim,
            "lower-trim" => Transform::LowerTrim,
            other => {
                return Err(format!(
                    "setting `transform` is {other:?}; expected copy, lower, upper, trim or lower-trim"
                ));
            }
        })
    }

    fn apply(self, value: &Value) -> Value {
        let Some(text) = value.as_str().filter(|_| matches!(value, Value::Text(_))) else {
            // Only text has a case or padding; everything else is copied as it is.
            return value.clone();
        };
        Value::Text(match self {
            Transform::Copy => text.to_owned(),
            Transform::Lower => text.to_lowercase(),
            Transform::Upper => text.to_uppercase(),
            Transform::Trim => text.trim().to_owned(),
            Transform::LowerTrim => text.trim().to_lowercase(),
        })
    }
}

struct Settings {
    table: String,
    key: Vec<String>,
    from: String,
    to: String,
    only_missing: bool,
    batch_size: u32,
}

impl Settings {
    fn load() -> Result<Settings, String> {
        let key = config::get_str("key").unwrap_or_else(|| "id".into());
        let batch_size = config::get_i64("batch_size")?.unwrap_or(1000);
        Ok(Settings {
            table: config::require_str("table")?,
            key: key.split(',').map(|k| k.trim().to_owned()).collect(),
            from: config::require_str("from")?,
            to: config::require_str("to")?,
            only_missing: config::get_bool("only_missing")?.unwrap_or(true),
            batch_size: u32::try_from(batch_size.max(1)).unwrap_or(u32::MAX),
        })
    }
}

impl Backfill for ColumnCopy {
    fn describe() -> BackfillSpec {
        // `describe` cannot fail: log what is wrong and return a spec with no table,
        // which the host refuses before reading anything.
        let s = match Settings::load() {
            Ok(s) => s,
            Err(e) => {
                godwit_sdk::log::error(e);
                return BackfillSpec::new("", "", [""; 0], [""; 0]);
            }
        };
        let spec = BackfillSpec::new(&s.table, &s.key.join(","), [&s.from], [&s.to])
            .batch_size_hint(s.batch_size);
        if s.only_missing {
            spec.filter(format!("{} IS NULL", s.to))
        } else {
            spec
        }
    }

    fn transform(rows: Vec<Row>) -> Result<Vec<Row>, String> {
        let s = Settings::load()?;
        let transform = Transform::from_config()?;
        rows.iter()
            .map(|row| {
                let mut out: Row = Vec::with_capacity(s.key.len() + 1);
                for key in &s.key {
                    out.push(godwit_sdk::Column::new(key.as_str(), row.require(key)?));
                }
                let value = transform.apply(row.require(&s.from)?);
                out.push(godwit_sdk::Column::new(s.to.as_str(), value));
                Ok(out)
            })
            .collect()
    }
}

godwit_sdk::export_backfill!(ColumnCopy);
