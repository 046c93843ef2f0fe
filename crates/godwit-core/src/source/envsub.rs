//! goose's `-- +goose ENVSUB ON`: environment variables put into the SQL, line by line, as
//! goose does it (github.com/mfridman/interpolate, which goose calls with the process
//! environment).
//!
//! The grammar, as that package has it:
//!
//! - `$NAME` and `${NAME}`: the variable's value, empty when it is unset; a name starts
//!   with a letter and goes on with letters, digits and `_`;
//! - `${NAME:-default}`: the default when the variable is unset or empty;
//!   `${NAME-default}`: only when it is unset; defaults may hold expansions;
//! - `${NAME?message}`: an error when it is unset (`${NAME:?…}` is a malformed slice);
//! - `${NAME:offset}` and `${NAME:offset:length}`: a slice (of bytes; negative counts
//!   from the end);
//! - `$$` and `\$` give `$`, `\\` stays `\\`, `$(` stays as written, and a `$` that ends
//!   the line is kept.
//!
//! Anything else after a `$` is an error, as in goose: a PostgreSQL `$1` or a `$$` dollar
//! quote inside an ENVSUB ON section does not survive goose either, which is why files
//! turn it off around function bodies.

/// Fills the expansions in `line` from `env`.
pub(crate) fn interpolate(
    line: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut parser = Parser {
        input: line,
        pos: 0,
    };
    let expr = parser.expression(None)?;
    expand(&expr, env)
}

enum Item {
    Text(String),
    Expansion(Expansion),
}

enum Expansion {
    Variable(String),
    /// `:-` (unset or empty) when `or_empty`, else `-` (unset).
    Default {
        name: String,
        or_empty: bool,
        content: Vec<Item>,
    },
    Substring {
        name: String,
        offset: i64,
        length: Option<i64>,
    },
    Required {
        name: String,
        message: Vec<Item>,
    },
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn scan_until(&mut self, stop: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if stop(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.input[start..self.pos]
    }

    fn expression(&mut self, stop: Option<char>) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                break;
            }
            let rest = self.rest();
            if rest.starts_with("\\\\") {
                self.pos += 2;
                items.push(Item::Text("\\\\".into()));
                continue;
            }
            if rest.starts_with("\\$") || rest.starts_with("$$") {
                self.pos += 2;
                items.push(Item::Text("$".into()));
                continue;
            }
            if rest.starts_with("$(") {
                self.pos += 2;
                items.push(Item::Text("$(".into()));
                continue;
            }
            if c == '$' && self.pos < self.input.len() - 1 {
                items.push(Item::Expansion(self.expansion()?));
                continue;
            }
            let first = self.next().expect("peeked");
            let text = self.scan_until(|r| r == '$' || r == '\\' || Some(r) == stop);
            items.push(Item::Text(format!("{first}{text}")));
        }
        Ok(items)
    }

    fn identifier(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(c) if c.is_alphabetic() => {}
            Some(c) => return Err(format!("expected a variable name after `$`, found `{c}`")),
            None => return Err("expected a variable name after `$`".into()),
        }
        Ok(self
            .scan_until(|r| !r.is_alphanumeric() && r != '_')
            .to_string())
    }

    fn expansion(&mut self) -> Result<Expansion, String> {
        self.next(); // `$`
        if self.peek() != Some('{') {
            return Ok(Expansion::Variable(self.identifier()?));
        }
        self.next(); // `{`
        let name = self.identifier()?;
        let expansion = match self.next() {
            Some('}') => return Ok(Expansion::Variable(name)),
            Some(':') if self.peek() == Some('-') => {
                self.next();
                Expansion::Default {
                    name,
                    or_empty: true,
                    content: self.expression(Some('}'))?,
                }
            }
            Some(':') => {
                let number = |text: &str| {
                    text.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("`{}` is not a number", text.trim()))
                };
                let offset = number(self.scan_until(|r| r == ':' || r == '}'))?;
                let length = if self.peek() == Some(':') {
                    self.next();
                    Some(number(self.scan_until(|r| r == '}'))?)
                } else {
                    None
                };
                Expansion::Substring {
                    name,
                    offset,
                    length,
                }
            }
            Some('-') => Expansion::Default {
                name,
                or_empty: false,
                content: self.expression(Some('}'))?,
            },
            Some('?') => Expansion::Required {
                name,
                message: self.expression(Some('}'))?,
            },
            Some(c) => {
                return Err(format!(
                    "expected `}}` or an operator after `${{{name}`, found `{c}`"
                ));
            }
            None => return Err(format!("`${{{name}` is not closed")),
        };
        match self.next() {
            Some('}') => Ok(expansion),
            _ => Err("an expansion `${…}` is not closed".into()),
        }
    }
}

fn expand(items: &[Item], env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    for item in items {
        match item {
            Item::Text(text) => out.push_str(text),
            Item::Expansion(e) => out.push_str(&expand_one(e, env)?),
        }
    }
    Ok(out)
}

fn expand_one(e: &Expansion, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    Ok(match e {
        Expansion::Variable(name) => env(name).unwrap_or_default(),
        Expansion::Default {
            name,
            or_empty,
            content,
        } => match env(name) {
            Some(value) if !(*or_empty && value.is_empty()) => value,
            _ => expand(content, env)?,
        },
        Expansion::Substring {
            name,
            offset,
            length,
        } => {
            let value = env(name).unwrap_or_default();
            let bytes = value.as_bytes();
            let len = bytes.len() as i64;
            let mut from = *offset;
            if from < 0 {
                from += len;
            }
            let from = from.clamp(0, len);
            let to = match length {
                None => len,
                Some(l) if *l >= 0 => (from + l).min(len),
                Some(l) => (len + l).max(from).min(len),
            };
            String::from_utf8_lossy(&bytes[from as usize..to as usize]).into_owned()
        }
        Expansion::Required { name, message } => match env(name) {
            Some(value) => value,
            None => {
                let message = expand(message, env)?;
                let message = if message.is_empty() {
                    "not set".to_string()
                } else {
                    message
                };
                return Err(format!("${name}: {message}"));
            }
        },
    })
}

/// Whether goose would take `line` as the end of a statement outside a
/// StatementBegin/End block: its last word before a `--` comment ends with `;`.
pub(crate) fn ends_statement(line: &str) -> bool {
    line.split_whitespace()
        .take_while(|w| !w.starts_with("--"))
        .last()
        .is_some_and(|w| w.ends_with(';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "REGION" => Some("eu-west".into()),
            "EMPTY" => Some(String::new()),
            "ROLE" => Some("app_user".into()),
            _ => None,
        }
    }

    fn fill(line: &str) -> Result<String, String> {
        interpolate(line, &env)
    }

    #[test]
    fn expansions_as_goose_fills_them() {
        for (line, want) in [
            ("VALUES ('${REGION}')", "VALUES ('eu-west')"),
            (
                "GRANT SELECT ON t TO $ROLE;",
                "GRANT SELECT ON t TO app_user;",
            ),
            ("'${UNSET}'", "''"),
            (
                "'${UNSET:-us}' '${EMPTY:-us}' '${EMPTY-us}'",
                "'us' 'us' ''",
            ),
            ("'${UNSET:-${ROLE}}'", "'app_user'"),
            (
                "'${REGION:3}' '${REGION:0:2}' '${REGION: -4}'",
                "'west' 'eu' 'west'",
            ),
            (
                "'${REGION:1:-2}' '${REGION: -100}' '${REGION:-x}'",
                "'u-we' 'eu-west' 'eu-west'",
            ),
            (
                "'costs $$5' 'or \\$5' 'a \\\\ b'",
                "'costs $5' 'or $5' 'a \\\\ b'",
            ),
            ("SELECT $(date)", "SELECT $(date)"),
            ("ends with $", "ends with $"),
            ("ünïcode ${REGION}", "ünïcode eu-west"),
        ] {
            assert_eq!(fill(line).as_deref(), Ok(want), "{line}");
        }
    }

    #[test]
    fn what_goose_refuses_is_refused() {
        for line in [
            "'${ROLE:?}'",
            "'${UNSET?set it}'",
            "SELECT $1",
            "AS $$ BEGIN",
            "'${REGION'",
            "'${REGION!x}'",
            "'${REGION:x}'",
        ] {
            // `AS $$ BEGIN` is `AS $ BEGIN` to goose, not an error: check the two apart.
            if line == "AS $$ BEGIN" {
                assert_eq!(fill(line).as_deref(), Ok("AS $ BEGIN"));
                continue;
            }
            assert!(fill(line).is_err(), "{line}: {:?}", fill(line));
        }
        assert_eq!(
            fill("'${UNSET?set it}'").unwrap_err(),
            "$UNSET: set it",
            "the message names the variable"
        );
        assert_eq!(fill("'${UNSET?}'").unwrap_err(), "$UNSET: not set");
        assert_eq!(fill("'${ROLE?}'").as_deref(), Ok("'app_user'"));
    }

    #[test]
    fn statement_ends_where_goose_sees_them() {
        assert!(ends_statement("INSERT INTO t VALUES (1);"));
        assert!(ends_statement("  x; -- trailing comment"));
        assert!(!ends_statement("INSERT INTO t -- a; comment"));
        assert!(!ends_statement("VALUES (1),"));
    }
}
