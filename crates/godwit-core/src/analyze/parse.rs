//! The analyser's one reading of a statement as a syntax tree: each database's sqlparser
//! dialect, chosen in one place for lint, plan and the plugin capability checker alike.

use sqlparser::ast::Statement;
use sqlparser::dialect as sqldialect;
use sqlparser::parser::{Parser, ParserError};

use crate::Dialect;

/// sqlparser's dialect for a database.
pub fn sqlparser_dialect(dialect: Dialect) -> Box<dyn sqldialect::Dialect> {
    match dialect {
        Dialect::Postgres => Box::new(sqldialect::PostgreSqlDialect {}),
        Dialect::MySql => Box::new(sqldialect::MySqlDialect {}),
        Dialect::Sqlite => Box::new(sqldialect::SQLiteDialect {}),
    }
}

/// The statements of `sql`, as `dialect`'s sqlparser reads them.
pub fn parse(sql: &str, dialect: Dialect) -> Result<Vec<Statement>, ParserError> {
    Parser::parse_sql(sqlparser_dialect(dialect).as_ref(), sql)
}
