//! Keeping secrets out of what godwit prints: every password godwit has seen (in a URL it
//! resolved), and the password of any URL or `password=…` setting in a message, seen or
//! not. Config registers what it reads; the drivers, the errors and the reports clean
//! their text here. Nothing here knows godwit.toml.

use std::sync::{LazyLock, Mutex};

/// Every secret godwit has read, as written and percent-decoded.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let decoded = percent_decode(secret);
    for s in [secret.to_string(), decoded] {
        if !secrets.contains(&s) {
            secrets.push(s);
        }
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether a URL query parameter (`password`, `sslpassword`, `pwd`…) carries a secret.
pub fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password")
        || key.contains("passwd")
        || key.contains("secret")
        || key.contains("token")
        || matches!(key.as_str(), "pass" | "pwd" | "apikey" | "api_key")
}

/// A URL as godwit shows it: the password of its user info and every secret query
/// parameter (`?password=`, `sslpassword=`…) replaced by `***`. Every URL godwit prints
/// goes through here or through [`redact`].
pub fn redact_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    if let Some(query) = url.query() {
        shown.set_query(Some(&redact_query(query)));
    }
    shown.to_string()
}

/// `a=1&password=x` → `a=1&password=***`, on the raw (still percent-encoded) text.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_param(&percent_decode(key)) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Removes every password godwit has seen from a message, and masks the password of
/// any URL or `password=…` setting in it, seen or not (a URL from a targets file, a
/// plugin's config or a driver's message). The one place output is cleaned of secrets.
pub fn redact(text: &str) -> String {
    static USERINFO: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/?#@:]*):[^\s/?#@]*@")
            .expect("a valid regex")
    });
    static PARAM: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)\b([a-z_\-]*(?:password|passwd|secret|token)|pwd|pass|api_?key)(\s*=\s*)('[^']*'|\x22[^\x22]*\x22|[^\s&;,'\x22)]+)",
        )
        .expect("a valid regex")
    });
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in secrets.iter() {
        out = out.replace(secret.as_str(), "***");
    }
    drop(secrets);
    let out = USERINFO.replace_all(&out, "$1:***@");
    PARAM.replace_all(&out, "$1$2***").into_owned()
}

/// Best-effort redaction for a URL we could not parse: hide what sits between `:` and
/// the last `@` (a password with a space in it does not stop at the first one), then
/// whatever [`redact`] finds.
pub fn redact_url_text(text: &str) -> String {
    let masked = match (text.find("://"), text.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let creds = &text[start + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &text[..start + 3], &text[at..]),
                None => text.to_string(),
            }
        }
        _ => text.to_string(),
    };
    redact(&masked)
}
