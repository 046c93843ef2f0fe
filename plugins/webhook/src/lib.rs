//! `webhook`: POST a Slack-compatible JSON payload for each event to the `url` setting,
//! through `wasi:http` — the host lets it reach only allow-listed authorities.

use godwit_sdk::{Event, Notifier, config};
use serde_json::json;

struct Webhook;

/// What the plugin sends unless `events` says otherwise: everything but the chatty
/// per-batch progress.
fn wanted(kind: &str) -> Result<bool, String> {
    let list = config::get_list("events");
    if list.is_empty() {
        return Ok(kind != "batch-progress");
    }
    if let Some(bad) = list
        .iter()
        .find(|k| *k != "all" && !Event::KINDS.contains(&k.as_str()))
    {
        return Err(format!(
            "setting `events` names {bad:?}, which is not an event; expected `all` or some of {}",
            Event::KINDS.join(", ")
        ));
    }
    Ok(list.iter().any(|k| k == "all" || k == kind))
}

/// One line a person reads in a chat channel.
fn text(event: &Event) -> String {
    match event {
        Event::RunStarted(e) => format!(
            "godwit {}: {} pending migration(s) on {}",
            e.operation, e.pending, e.database
        ),
        Event::RunFinished(e) => match &e.failed {
            None => format!(
                "godwit {} finished: {} migration(s) in {} ms",
                e.operation, e.applied, e.duration_ms
            ),
            Some(failed) => format!(
                "godwit {} FAILED at {failed} after {} migration(s), {} ms",
                e.operation, e.applied, e.duration_ms
            ),
        },
        Event::MigrationStarted(e) => {
            format!(
                "{} {}_{} ({}) started",
                e.operation, e.version, e.name, e.kind
            )
        }
        Event::MigrationApplied(e) => format!(
            "{} {}_{}: done in {} ms, {} row(s)",
            e.operation, e.version, e.name, e.duration_ms, e.rows_affected
        ),
        Event::MigrationFailed(e) => format!("{}_{} FAILED: {}", e.version, e.name, e.error),
        Event::BatchProgress(e) => format!(
            "{}: {} batch(es), {}{} rows, {:.0} rows/s",
            e.version,
            e.batches,
            e.rows,
            e.total.map(|t| format!(" of {t}")).unwrap_or_default(),
            e.rate
        ),
        Event::FindingsReported(e) => format!(
            "{} reported {} finding(s){}",
            e.source,
            e.findings.len(),
            if e.blocking {
                ", blocking the deploy"
            } else {
                ""
            }
        ),
        Event::BackupTaken(e) => format!("backup {} taken ({} bytes)", e.id, e.size),
        Event::RolledBack(e) => match &e.version {
            Some(v) => format!("rolled back {v}: {}", e.reason),
            None => format!("rolled back: {}", e.reason),
        },
        Event::StepPaused(e) => format!(
            "{} paused ({} ms so far, stops at {} ms): {}",
            e.version, e.paused_ms, e.max_pause_ms, e.message
        ),
        Event::StepResumed(e) => {
            format!("{} resumed after {} ms paused", e.version, e.paused_ms)
        }
    }
}

impl Notifier for Webhook {
    fn notify(event: Event, target: Option<String>) -> Result<(), String> {
        if !wanted(event.kind())? {
            return Ok(());
        }
        let url = config::require_str("url")?;
        let mut godwit = godwit_sdk::json::event(&event);
        godwit["target"] = target.clone().into();
        let text = match &target {
            Some(target) => format!("[{target}] {}", text(&event)),
            None => text(&event),
        };
        let payload = json!({ "text": text, "godwit": godwit });
        http::post_json(&url, payload.to_string().as_bytes())
    }
}

godwit_sdk::export_notifier!(Webhook);

/// A blocking JSON POST over `wasi:http/outgoing-handler`.
mod http {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

    /// Splits `http(s)://authority/path` into its parts.
    pub fn parse(url: &str) -> Result<(Scheme, &str, &str), String> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(format!(
                "setting `url` = {url:?} must start with http:// or https://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("setting `url` = {url:?} has no host"));
        }
        Ok((scheme, authority, path))
    }

    pub fn post_json(url: &str, body: &[u8]) -> Result<(), String> {
        let (scheme, authority, path) = parse(url)?;
        let fail = |what: &str, e: &dyn std::fmt::Debug| format!("POST {url}: {what}: {e:?}");
        let headers =
            Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())])
                .map_err(|e| fail("bad header", &e))?;
        let request = OutgoingRequest::new(headers);
        request
            .set_method(&Method::Post)
            .and_then(|()| request.set_scheme(Some(&scheme)))
            .and_then(|()| request.set_authority(Some(authority)))
            .and_then(|()| request.set_path_with_query(Some(path)))
            .map_err(|()| format!("POST {url}: the host refused the request's URL"))?;
        let outgoing = request.body().map_err(|()| fail("no request body", &()))?;
        let response = outgoing_handler::handle(request, None)
            .map_err(|e| fail("the host refused the request", &e))?;
        {
            let stream = outgoing.write().map_err(|()| fail("no body stream", &()))?;
            // blocking-write-and-flush takes at most 4096 bytes at a time.
            for chunk in body.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| fail("sending the body", &e))?;
            }
        }
        OutgoingBody::finish(outgoing, None).map_err(|e| fail("finishing the body", &e))?;
        response.subscribe().block();
        let response = response
            .get()
            .ok_or_else(|| fail("no response", &()))?
            .map_err(|()| fail("response taken twice", &()))?
            .map_err(|e| fail("no response", &e))?;
        let status = response.status();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("POST {url} answered HTTP {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let (_, authority, path) = super::http::parse("http://127.0.0.1:8080/hooks/x?a=1").unwrap();
        assert_eq!((authority, path), ("127.0.0.1:8080", "/hooks/x?a=1"));
        let (_, authority, path) = super::http::parse("https://hooks.slack.com").unwrap();
        assert_eq!((authority, path), ("hooks.slack.com", "/"));
        assert!(super::http::parse("ftp://x").is_err());
        assert!(super::http::parse("http:///x").is_err());
    }
}
