//! Text that crosses from a plugin into what godwit prints, and sizes as limits write them.

use crate::handler::LogLine;

/// Text that came from a plugin — an error, a log line, a finding, a line of its output —
/// made safe to print among godwit's own lines: control characters and escape sequences
/// (ANSI CSI/OSC, carriage return, backspace, every other C0 and C1 code, DEL), bidi
/// overrides and invisible line separators are shown as escapes (`\x1b`, `\u{202e}`), and
/// each newline starts a continuation line marked `  | `, so no line of a plugin's text can
/// pass for one of godwit's. Trailing newlines are dropped.
///
/// Every path that shows plugin text goes through here, once, where the text enters the
/// host: [`PluginError`](crate::PluginError) messages, `host.log` lines, stdout and stderr (line by line), and
/// validator findings.
pub fn sanitize(text: &str) -> String {
    let text = text.trim_end_matches(['\n', '\r']);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\n  | "),
            '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            // Bidi embeddings, overrides and isolates, marks, and Unicode's own line and
            // paragraph separators: each can reorder or break what the terminal shows.
            '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}' => out.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// [`sanitize`] for a stream the printer splits into lines itself (stdout, stderr): each
/// line is cleaned, the newlines between them kept.
pub fn sanitize_lines(text: &str) -> String {
    text.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Adds what the plugin said before it stopped — its last log lines and its stderr — to
/// `message`: often the best clue to why.
pub(crate) fn with_plugin_output(mut message: String, logs: &[LogLine], stderr: &str) -> String {
    for line in logs.iter().rev().take(TRAP_LOG_LINES).rev() {
        message.push_str(&format!(
            "\n  plugin log ({}): {}",
            line.level, line.message
        ));
    }
    let stderr = stderr.trim();
    if stderr.contains('\n') {
        message.push_str("\n  plugin stderr:");
        // Marked, so that no line of a plugin's stderr reads as a line of godwit's.
        for line in stderr.lines() {
            message.push_str(&format!("\n    | {line}"));
        }
    } else if !stderr.is_empty() {
        message.push_str(&format!("\n  plugin stderr: {stderr}"));
    }
    message
}

/// The last log lines a trap's (or refusal's) message repeats.
const TRAP_LOG_LINES: usize = 10;

/// A memory size as limits are written: whole mebibytes as `N MiB`, anything else in bytes.
pub fn mebibytes(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}
