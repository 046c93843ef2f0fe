//! Small pieces of the text godwit prints, shared by the reports and the plan.

use std::time::Duration;

/// `"s"` unless there is exactly one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `n` with a comma between each group of three digits: `1,234,567`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A statement on one line, its whitespace runs made single spaces, cut after `max`
/// characters with an ellipsis.
pub fn one_line(sql: &str, max: usize) -> String {
    // A `--` comment would swallow the rest of the line it is joined into: it goes.
    let mut code = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        } else if !quoted && c == '-' && chars.peek() == Some(&'-') {
            while chars.next_if(|&n| n != '\n').is_some() {}
            continue;
        }
        code.push(c);
    }
    let one_line = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    } else {
        one_line
    }
}

/// A list of names that may run to hundreds, in a sentence: `a`, `a and b`, or `from a
/// to z` (the caller says how many); `None` when there is none.
pub fn span(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(one.clone()),
        [first, second] => Some(format!("{first} and {second}")),
        [first, .., last] => Some(format!("from {first} to {last}")),
    }
}

/// Names one per line, indented, the first `max` of them and then how many more.
pub fn listed(names: &[String], max: usize) -> String {
    let mut lines: Vec<String> = names.iter().take(max).map(|n| format!("  {n}")).collect();
    if names.len() > max {
        lines.push(format!("  and {} more", names.len() - max));
    }
    lines.join("\n")
}

/// A duration in milliseconds as people read it: `250 ms`, `1.25 s`.
pub fn ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

/// Sizes as people read them: 532 B, 12.4 KiB, 3.1 GiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in milliseconds as people read a lag: `850ms`, `4.6s`, `2m 5s`.
pub fn secs(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        humantime::format_duration(Duration::from_secs(ms / 1000)).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_stops_after_max_and_counts_the_rest() {
        let names = |n: usize| (1..=n).map(|i| format!("m{i}")).collect::<Vec<_>>();
        assert_eq!(listed(&names(2), 10), "  m1\n  m2");
        assert_eq!(listed(&names(12), 10).lines().count(), 11);
        assert!(listed(&names(12), 10).ends_with("  m10\n  and 2 more"));
    }

    #[test]
    fn span_names_the_ends_of_a_long_list() {
        let names = |n: usize| (1..=n).map(|i| format!("m{i}")).collect::<Vec<_>>();
        assert_eq!(span(&names(0)), None);
        assert_eq!(span(&names(1)).unwrap(), "m1");
        assert_eq!(span(&names(2)).unwrap(), "m1 and m2");
        assert_eq!(span(&names(163)).unwrap(), "from m1 to m163");
    }

    #[test]
    fn thousands_groups_digits_of_either_sign() {
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(999i64), "999");
        assert_eq!(thousands(1_000u64), "1,000");
        assert_eq!(thousands(1_234_567i64), "1,234,567");
        assert_eq!(thousands(-1_234i64), "-1,234");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn one_line_squeezes_whitespace_and_cuts_at_max() {
        assert_eq!(one_line("SELECT 1\n  FROM t", 20), "SELECT 1 FROM t");
        assert_eq!(one_line("abcdef", 3), "abc…");
        // lemmy's statement read as if all after its first comment were commented out.
        assert_eq!(
            one_line(
                "SELECT a -- `null = 1` returns null\n  , '--kept' FROM t",
                80
            ),
            "SELECT a , '--kept' FROM t"
        );
        assert_eq!(one_line("héllo", 5), "héllo");
    }

    #[test]
    fn plural_is_empty_for_one_only() {
        assert_eq!(plural(0), "s");
        assert_eq!(plural(1), "");
        assert_eq!(plural(2), "s");
    }
}
