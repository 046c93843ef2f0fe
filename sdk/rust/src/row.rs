//! Reading columns of a [`Row`](crate::Row) by name, and building rows.

use crate::{Column, Value};

/// Column access by name on a row (`Vec<Column>` or `[Column]`).
pub trait RowExt {
    /// The value of the column called `name`, if the row has one.
    /// (Not `get`, which slices already have for indices.)
    fn value(&self, name: &str) -> Option<&Value>;

    /// The column's text, if it is present and `text`, `json` or `timestamp`.
    fn text(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }

    /// The column's integer, if it is present and an `int`.
    fn int(&self, name: &str) -> Option<i64> {
        self.value(name).and_then(Value::as_i64)
    }

    /// The column's value, or an error naming the missing column, for `?` in `transform`.
    fn require(&self, name: &str) -> Result<&Value, String> {
        self.value(name)
            .ok_or_else(|| format!("the host sent a row without column `{name}`"))
    }
}

impl RowExt for [Column] {
    fn value(&self, name: &str) -> Option<&Value> {
        self.iter().find(|c| c.name == name).map(|c| &c.value)
    }
}

impl Column {
    /// A column called `name` holding `value`.
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Column {
        Column {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Builds a [`Row`](crate::Row): `row! { "id" => 7, "email" => "a@example.com" }`.
///
/// Values go through `Into<Value>`, so `&str`, integers, `bool`, `Option<T>` (`None` is
/// `NULL`) and `&Value` all work.
#[macro_export]
macro_rules! row {
    ($($name:expr => $value:expr),* $(,)?) => {
        ::std::vec![$($crate::Column::new($name, $value)),*]
    };
}
