//! Typed parameters and results for plugin sessions: [`Value`]s in, [`Rows`] out.
//!
//! Plugins write `$1, $2…` on every dialect; [`translate`] rewrites them for the server
//! (`?` in order of occurrence on MySQL and SQLite) with the dialect's own lexical rules,
//! so a `$1` inside a string, comment or quoted identifier is left alone.
//!
//! Results are decoded by column type; a type with no faithful [`Value`] is an error that
//! names the column and suggests a cast, never a silent guess.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgRow, PgTypeInfo, PgTypeKind, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteRow};
use sqlx::{Column, Decode, Encode, Row, Type, TypeInfo, ValueRef};

use godwit_core::Dialect;
use godwit_core::value::{Rows, Value};

/// `sql` with its `$N` rewritten for `dialect`, and which of `params` to bind, in order.
pub(crate) fn translate(
    dialect: Dialect,
    sql: &str,
    params: usize,
) -> Result<(String, Vec<usize>), sqlx::Error> {
    let found =
        godwit_core::split::placeholders(sql, dialect).map_err(sqlx::Error::InvalidArgument)?;
    let mut used = vec![false; params];
    for p in &found {
        match used.get_mut(p.number - 1) {
            Some(u) => *u = true,
            None => {
                return Err(sqlx::Error::InvalidArgument(format!(
                    "the statement uses ${} but {params} parameter(s) were given",
                    p.number
                )));
            }
        }
    }
    if let Some(unused) = used.iter().position(|u| !u) {
        return Err(sqlx::Error::InvalidArgument(format!(
            "parameter ${} was given but the statement does not use it",
            unused + 1
        )));
    }
    if dialect == Dialect::Postgres {
        return Ok((sql.to_string(), (0..params).collect()));
    }
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut last = 0;
    // Anonymous `?` on SQLite too, not `?N`: sqlx looks up every parameter's name when
    // it binds, and SQLite finds a numbered name by a linear scan, so a batch UPDATE with
    // 10,000 `?N` parameters spent 80% of its time binding (measured with perf).
    for p in &found {
        out.push_str(&sql[last..p.span.start]);
        out.push('?');
        order.push(p.number - 1);
        last = p.span.end;
    }
    out.push_str(&sql[last..]);
    Ok((out, order))
}

/// The kinds of `params`, one letter each, to tell prepared statements apart.
pub(crate) fn signature(params: &[Value]) -> String {
    params
        .iter()
        .map(|p| match p {
            Value::Null => 'n',
            Value::Bool(_) => 'b',
            Value::Int(_) => 'i',
            Value::Float(_) => 'f',
            Value::Text(_) => 't',
            Value::Bytes(_) => 'y',
            Value::Json(_) => 'j',
            Value::Timestamp(_) => 's',
        })
        .collect()
}

/// A [`Value`] bound as a statement parameter.
pub(crate) struct Param<'a>(pub &'a Value);

fn rfc3339(text: &str) -> Result<DateTime<Utc>, BoxDynError> {
    Ok(DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("timestamp parameter `{text}` is not RFC 3339: {e}"))?
        .with_timezone(&Utc))
}

// PostgreSQL declares a type for every parameter and takes them in binary. NULL is
// declared with OID 0 ("unspecified"), so the server infers it from the context and a
// NULL fits any column. JSON goes as jsonb, which casts to json on assignment.
const UNSPECIFIED: PgTypeInfo = PgTypeInfo::with_oid(Oid(0));
const JSONB: PgTypeInfo = PgTypeInfo::with_oid(Oid(3802));

impl Type<Postgres> for Param<'_> {
    fn type_info() -> PgTypeInfo {
        UNSPECIFIED
    }
    fn compatible(_: &PgTypeInfo) -> bool {
        true
    }
}

impl Encode<'_, Postgres> for Param<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => <bool as Encode<Postgres>>::encode_by_ref(b, buf),
            Value::Int(i) => <i64 as Encode<Postgres>>::encode_by_ref(i, buf),
            Value::Float(x) => <f64 as Encode<Postgres>>::encode_by_ref(x, buf),
            Value::Text(s) => <&str as Encode<Postgres>>::encode(s.as_str(), buf),
            Value::Bytes(b) => <&[u8] as Encode<Postgres>>::encode(b.as_slice(), buf),
            Value::Json(s) => {
                // jsonb's binary form: a version byte, then the text.
                buf.push(1);
                buf.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            Value::Timestamp(t) => <DateTime<Utc> as Encode<Postgres>>::encode(rfc3339(t)?, buf),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self.0 {
            Value::Null => UNSPECIFIED,
            Value::Bool(_) => <bool as Type<Postgres>>::type_info(),
            Value::Int(_) => <i64 as Type<Postgres>>::type_info(),
            Value::Float(_) => <f64 as Type<Postgres>>::type_info(),
            Value::Text(_) => <String as Type<Postgres>>::type_info(),
            Value::Bytes(_) => <Vec<u8> as Type<Postgres>>::type_info(),
            Value::Json(_) => JSONB,
            Value::Timestamp(_) => <DateTime<Utc> as Type<Postgres>>::type_info(),
        })
    }
}

impl Type<MySql> for Param<'_> {
    fn type_info() -> sqlx::mysql::MySqlTypeInfo {
        <String as Type<MySql>>::type_info()
    }
    fn compatible(_: &sqlx::mysql::MySqlTypeInfo) -> bool {
        true
    }
}

impl Encode<'_, MySql> for Param<'_> {
    fn encode_by_ref(&self, buf: &mut Vec<u8>) -> Result<IsNull, BoxDynError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => <bool as Encode<MySql>>::encode_by_ref(b, buf),
            Value::Int(i) => <i64 as Encode<MySql>>::encode_by_ref(i, buf),
            Value::Float(x) => <f64 as Encode<MySql>>::encode_by_ref(x, buf),
            Value::Text(s) | Value::Json(s) => <&str as Encode<MySql>>::encode(s.as_str(), buf),
            Value::Bytes(b) => <&[u8] as Encode<MySql>>::encode(b.as_slice(), buf),
            // DATETIME has no zone: the instant is written in UTC.
            Value::Timestamp(t) => {
                <NaiveDateTime as Encode<MySql>>::encode(rfc3339(t)?.naive_utc(), buf)
            }
        }
    }

    fn produces(&self) -> Option<sqlx::mysql::MySqlTypeInfo> {
        Some(match self.0 {
            Value::Null | Value::Text(_) | Value::Json(_) => <String as Type<MySql>>::type_info(),
            Value::Bool(_) => <bool as Type<MySql>>::type_info(),
            Value::Int(_) => <i64 as Type<MySql>>::type_info(),
            Value::Float(_) => <f64 as Type<MySql>>::type_info(),
            Value::Bytes(_) => <Vec<u8> as Type<MySql>>::type_info(),
            Value::Timestamp(_) => <NaiveDateTime as Type<MySql>>::type_info(),
        })
    }
}

impl Type<Sqlite> for Param<'_> {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(_: &sqlx::sqlite::SqliteTypeInfo) -> bool {
        true
    }
}

impl<'q> Encode<'q, Sqlite> for Param<'q> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => <bool as Encode<Sqlite>>::encode_by_ref(b, buf),
            Value::Int(i) => <i64 as Encode<Sqlite>>::encode_by_ref(i, buf),
            Value::Float(x) => <f64 as Encode<Sqlite>>::encode_by_ref(x, buf),
            Value::Text(s) | Value::Json(s) => <&str as Encode<Sqlite>>::encode(s.as_str(), buf),
            Value::Bytes(b) => <&[u8] as Encode<Sqlite>>::encode(b.as_slice(), buf),
            // Stored as the RFC 3339 text SQLite's date functions read.
            Value::Timestamp(t) => {
                rfc3339(t)?;
                <&str as Encode<Sqlite>>::encode(t.as_str(), buf)
            }
        }
    }
}

fn undecodable(column: &str, type_name: &str, cast: &str) -> sqlx::Error {
    sqlx::Error::Decode(
        format!(
            "column `{column}` has type {type_name}, which godwit cannot pass to a plugin; cast it in the query, e.g. {cast}"
        )
        .into(),
    )
}

fn decode_err(column: &str, source: BoxDynError) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: format!("`{column}`"),
        source,
    }
}

fn utc_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The column names of a result, in order.
fn column_names<R: Row>(row: &R) -> Vec<String> {
    row.columns().iter().map(|c| c.name().to_string()).collect()
}

pub(crate) fn pg_rows(rows: &[PgRow]) -> Result<Rows, sqlx::Error> {
    let mut out = Rows::default();
    let Some(first) = rows.first() else {
        return Ok(out);
    };
    out.columns = column_names(first);
    for row in rows {
        let mut values = Vec::with_capacity(row.len());
        for (i, column) in row.columns().iter().enumerate() {
            values.push(pg_value(row, i, column.name(), column.type_info())?);
        }
        out.rows.push(values);
    }
    Ok(out)
}

fn pg_value(row: &PgRow, i: usize, name: &str, ty: &PgTypeInfo) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let err = |e| decode_err(name, e);
    macro_rules! get {
        ($t:ty) => {
            <$t as Decode<Postgres>>::decode(raw).map_err(err)?
        };
    }
    let type_name = ty.name();
    Ok(match type_name {
        "BOOL" => Value::Bool(get!(bool)),
        "INT2" => Value::Int(get!(i16).into()),
        "INT4" => Value::Int(get!(i32).into()),
        "INT8" => Value::Int(get!(i64)),
        "OID" => Value::Int(get!(Oid).0.into()),
        "FLOAT4" => Value::Float(get!(f32).into()),
        "FLOAT8" => Value::Float(get!(f64)),
        "NUMERIC" => Value::Text(pg_numeric(get!(&[u8])).map_err(err)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" | "CITEXT" | "XML" => {
            Value::Text(get!(String))
        }
        "BYTEA" => Value::Bytes(get!(Vec<u8>)),
        "JSON" => Value::Json(get!(String)),
        "JSONB" => {
            let bytes = get!(&[u8]);
            match bytes.split_first() {
                Some((1, text)) => {
                    Value::Json(String::from_utf8(text.to_vec()).map_err(|e| err(e.into()))?)
                }
                _ => return Err(err("unsupported jsonb version".into())),
            }
        }
        "TIMESTAMPTZ" => Value::Timestamp(utc_text(get!(DateTime<Utc>))),
        // No zone on record: read as UTC, the only reading that round-trips.
        "TIMESTAMP" => Value::Timestamp(utc_text(get!(NaiveDateTime).and_utc())),
        "DATE" => Value::Text(get!(NaiveDate).format("%Y-%m-%d").to_string()),
        "TIME" => Value::Text(get!(NaiveTime).format("%H:%M:%S%.f").to_string()),
        "UUID" => Value::Text(uuid_text(get!(&[u8])).map_err(err)?),
        _ if matches!(ty.kind(), PgTypeKind::Enum(_)) => Value::Text(get!(String)),
        _ => return Err(undecodable(name, type_name, &format!("{name}::text"))),
    })
}

fn uuid_text(b: &[u8]) -> Result<String, BoxDynError> {
    if b.len() != 16 {
        return Err(format!("a uuid has 16 bytes, got {}", b.len()).into());
    }
    let h = godwit_core::value::hex(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// PostgreSQL's binary `numeric`: base-10000 digits with a weight and a display scale.
fn pg_numeric(b: &[u8]) -> Result<String, BoxDynError> {
    let word = |i: usize| -> Result<i16, BoxDynError> {
        b.get(i * 2..i * 2 + 2)
            .map(|w| i16::from_be_bytes([w[0], w[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let (ndigits, weight, sign, dscale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..ndigits as usize)
        .map(|i| word(4 + i))
        .collect::<Result<_, _>>()?;
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            if d != 0 {
                int_part = d.to_string();
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut idx = weight as i32 + 1;
    while (frac.len() as i32) < dscale as i32 {
        let d = if idx < 0 {
            0
        } else {
            digits.get(idx as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        idx += 1;
    }
    frac.truncate(dscale.max(0) as usize);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    })
}

pub(crate) fn mysql_rows(rows: &[MySqlRow]) -> Result<Rows, sqlx::Error> {
    let mut out = Rows::default();
    let Some(first) = rows.first() else {
        return Ok(out);
    };
    out.columns = column_names(first);
    for row in rows {
        let mut values = Vec::with_capacity(row.len());
        for (i, column) in row.columns().iter().enumerate() {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let name = column.name();
            let err = |e| decode_err(name, e);
            macro_rules! get {
                ($t:ty) => {
                    <$t as Decode<MySql>>::decode(raw).map_err(err)?
                };
            }
            let type_name = column.type_info().name();
            values.push(match type_name {
                "BOOLEAN" => Value::Bool(get!(bool)),
                "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                    Value::Int(get!(i64))
                }
                "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED"
                | "INT UNSIGNED" | "BIGINT UNSIGNED" => {
                    Value::Int(i64::try_from(get!(u64)).map_err(|_| {
                        err(
                            format!("value of `{name}` does not fit in a signed 64-bit integer")
                                .into(),
                        )
                    })?)
                }
                "FLOAT" => Value::Float(get!(f32).into()),
                "DOUBLE" => Value::Float(get!(f64)),
                "DECIMAL" | "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT"
                | "LONGTEXT" | "ENUM" | "SET" => Value::Text(get!(String)),
                // The protocol flags `_bin`-collated text (MariaDB's JSON among it) exactly
                // like true binary, and sqlx does not expose the column's character set:
                // bytes that are valid UTF-8 are taken for text.
                "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                    match String::from_utf8(get!(Vec<u8>)) {
                        Ok(text) => Value::Text(text),
                        Err(e) => Value::Bytes(e.into_bytes()),
                    }
                }
                "JSON" => Value::Json(get!(String)),
                "DATE" => Value::Text(get!(NaiveDate).format("%Y-%m-%d").to_string()),
                "TIME" => Value::Text(get!(NaiveTime).format("%H:%M:%S%.f").to_string()),
                // The server sends both in the session's zone, without one: read as UTC.
                "DATETIME" | "TIMESTAMP" => {
                    Value::Timestamp(utc_text(get!(NaiveDateTime).and_utc()))
                }
                _ => {
                    return Err(undecodable(
                        name,
                        type_name,
                        &format!("CAST({name} AS CHAR)"),
                    ));
                }
            });
        }
        out.rows.push(values);
    }
    Ok(out)
}

pub(crate) fn sqlite_rows(rows: &[SqliteRow]) -> Result<Rows, sqlx::Error> {
    let mut out = Rows::default();
    let Some(first) = rows.first() else {
        return Ok(out);
    };
    out.columns = column_names(first);
    for row in rows {
        let mut values = Vec::with_capacity(row.len());
        for (i, column) in row.columns().iter().enumerate() {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let name = column.name();
            let err = |e| decode_err(name, e);
            // SQLite types values, not columns: the declared type only refines booleans
            // and timestamps; otherwise the value's storage class decides.
            let declared = column.type_info().name().to_string();
            let storage = raw.type_info().name().to_string();
            macro_rules! get {
                ($t:ty) => {
                    <$t as Decode<Sqlite>>::decode(raw).map_err(err)?
                };
            }
            values.push(match (declared.as_str(), storage.as_str()) {
                ("BOOLEAN", "INTEGER") => Value::Bool(get!(i64) != 0),
                ("DATETIME", "TEXT") => {
                    let text = get!(String);
                    match sqlite_timestamp(&text) {
                        Some(t) => Value::Timestamp(t),
                        None => Value::Text(text),
                    }
                }
                (_, "INTEGER") => Value::Int(get!(i64)),
                (_, "REAL") => Value::Float(get!(f64)),
                (_, "TEXT") => Value::Text(get!(String)),
                (_, "BLOB") => Value::Bytes(get!(Vec<u8>)),
                (_, other) => {
                    return Err(undecodable(name, other, &format!("CAST({name} AS TEXT)")));
                }
            });
        }
        out.rows.push(values);
    }
    Ok(out)
}

/// SQLite keeps timestamps as text in a few shapes; RFC 3339 and `datetime()`'s own
/// `YYYY-MM-DD HH:MM:SS` (UTC) are read as timestamps.
fn sqlite_timestamp(text: &str) -> Option<String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(utc_text(t.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| utc_text(t.and_utc()))
}

/// Roughly what a decoded row occupies: a fixed cost per value plus its text or bytes.
pub(crate) fn size(row: &[Value]) -> usize {
    row.iter()
        .map(|value| {
            24 + match value {
                Value::Text(t) | Value::Json(t) | Value::Timestamp(t) => t.len(),
                Value::Bytes(b) => b.len(),
                _ => 0,
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_translated_outside_quoted_text() {
        let sql = "SELECT $2, '$1', \"$1\", $1 -- $3\n, $2";
        let (pg, order) = translate(Dialect::Postgres, sql, 2).unwrap();
        assert_eq!((pg.as_str(), order), (sql, vec![0, 1]));
        let sql = "SELECT $2, '$1', `$1`, $1 -- $3\n, $2";
        let (my, order) = translate(Dialect::MySql, sql, 2).unwrap();
        assert_eq!(my, "SELECT ?, '$1', `$1`, ? -- $3\n, ?");
        assert_eq!(order, vec![1, 0, 1]);
        let sql = "SELECT $2, '$1', [$1], $1 /* $3 */";
        let (lite, order) = translate(Dialect::Sqlite, sql, 2).unwrap();
        assert_eq!(lite, "SELECT ?, '$1', [$1], ? /* $3 */");
        assert_eq!(order, vec![1, 0]);
        let (pg, _) = translate(Dialect::Postgres, "SELECT $q$ $1 $q$ || $1", 1).unwrap();
        assert_eq!(pg, "SELECT $q$ $1 $q$ || $1");
    }

    #[test]
    fn placeholder_mistakes_are_refused() {
        for (d, sql, n, needle) in [
            (Dialect::MySql, "SELECT $2", 1, "uses $2 but 1 parameter"),
            (Dialect::Sqlite, "SELECT $1", 2, "$2 was given"),
            (Dialect::MySql, "SELECT ?", 0, "`?`"),
            (Dialect::Sqlite, "SELECT $0", 0, "numbered from $1"),
            (Dialect::Postgres, "SELECT $1x", 1, "not a parameter"),
            (Dialect::MySql, "SELECT 'open", 0, "unterminated"),
        ] {
            let err = translate(d, sql, n).unwrap_err().to_string();
            assert!(err.contains(needle), "{d} {sql}: {err}");
        }
        // `?` is an operator on PostgreSQL (jsonb), and quoted `?` is just text.
        assert!(translate(Dialect::Postgres, "SELECT '{}'::jsonb ? 'a'", 0).is_ok());
        assert!(translate(Dialect::MySql, "SELECT '?'", 0).is_ok());
    }

    #[test]
    fn numeric_binary_form() {
        let enc = |ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]| {
            let mut b = Vec::new();
            for w in [ndigits, weight, sign as i16, dscale].iter().chain(digits) {
                b.extend_from_slice(&w.to_be_bytes());
            }
            pg_numeric(&b).unwrap()
        };
        assert_eq!(enc(2, 0, 0, 2, &[12, 3400]), "12.34");
        assert_eq!(enc(2, 1, 0x4000, 0, &[1, 2]), "-10002");
        assert_eq!(enc(1, -1, 0, 5, &[500]), "0.05000");
        assert_eq!(enc(0, 0, 0, 0, &[]), "0");
        assert_eq!(enc(0, 0, 0xC000, 0, &[]), "NaN");
    }
}
