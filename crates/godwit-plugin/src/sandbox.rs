//! What a plugin's store holds: deny-by-default WASI, captured output, and the memory cap.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::handler::{LogLine, SessionHandler};
use crate::text::sanitize_lines;
use crate::wit::latest::types::Value;

/// Bytes of stdout, and separately of stderr, kept per call. Once a stream is full the
/// plugin sees it closed and further output is dropped; the first bytes are the ones kept
/// because they usually say what went wrong.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// Table elements a call may hold, summed over all of its component's tables: a table
/// lives in host memory, outside the linear-memory cap.
pub const TABLE_ELEMENTS: usize = 100_000;

/// The limit a call ran into, carried through wasmtime's error so the message can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitHit {
    #[error("time limit reached")]
    Time,
    #[error("memory limit reached")]
    Memory,
    #[error("table limit reached")]
    Table,
}

/// What one call may see and use beyond its arguments: the plugin's settings, a database
/// session, and the environment variables, directory and hosts it was granted.
///
/// The default is the empty sandbox: no settings, no database, no environment, no files,
/// no network.
#[derive(Default)]
pub struct Context {
    /// What `host.config()` returns.
    pub settings: Vec<(String, Value)>,
    /// Where `session.query`/`execute` go; `None` for calls that have no database.
    pub session: Option<Box<dyn SessionHandler>>,
    /// Environment variables the plugin sees, already filtered by its grants.
    pub env: Vec<(String, String)>,
    /// The one directory it was granted, mounted at `/` in the guest.
    pub dir: Option<PathBuf>,
    /// Files it may read and append to (absolute paths), each seen at the same path in
    /// the guest through a private copy; see [`crate::append`].
    pub append: Vec<PathBuf>,
    /// Authorities (`host` or `host:port`) outbound HTTP may reach; see
    /// [`authority_allowed`]. Empty means no network at all.
    pub hosts: Vec<String>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings.len())
            .field("session", &self.session.is_some())
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("dir", &self.dir)
            .field("append", &self.append)
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// The data of one call's store; dropped with the store when the call ends.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) outbound: Outbound,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) context: Context,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) log_bytes: usize,
    pub(crate) logs_dropped: usize,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl State {
    /// A sandbox with no arguments, no network sockets, no stdin, stdout/stderr going to
    /// capped buffers, and only the environment and directory `context` grants, plus the
    /// private directories of its `append` files (`mounts`: host directory, guest path).
    pub(crate) fn new(
        memory_bytes: usize,
        context: Context,
        mounts: &[(PathBuf, String)],
    ) -> Result<State, String> {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAP);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAP);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        for (key, value) in &context.env {
            wasi.env(key, value);
        }
        if let Some(dir) = &context.dir {
            wasi.preopened_dir(dir, "/", FsPerms::ReadWrite)
                .map_err(|e| {
                    format!("cannot open its granted directory {}: {e:#}", dir.display())
                })?;
        }
        for (private, guest) in mounts {
            wasi.preopened_dir(private, guest, FsPerms::ReadWrite)
                .map_err(|e| format!("cannot mount the copy of its files in {guest}: {e:#}"))?;
        }
        Ok(State {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: Outbound {
                hosts: context.hosts.clone(),
                timeout: Duration::from_secs(2),
                denied: Vec::new(),
            },
            table: ResourceTable::new(),
            limiter: Limiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(memory_bytes)
                    .table_elements(TABLE_ELEMENTS)
                    .instances(16)
                    .memories(16)
                    .tables(16)
                    .build(),
                memory_cap: memory_bytes,
                memory_total: 0,
                table_total: 0,
                peak: 0,
            },
            context,
            logs: Vec::new(),
            log_bytes: 0,
            logs_dropped: 0,
            stdout,
            stderr,
        })
    }

    /// What the plugin wrote to stdout and stderr so far.
    pub(crate) fn output(&self) -> (String, String) {
        let text =
            |pipe: &MemoryOutputPipe| sanitize_lines(&String::from_utf8_lossy(&pipe.contents()));
        (text(&self.stdout), text(&self.stderr))
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The `wasi:http` outgoing handler's gate: a request leaves only for an authority the
/// call's [`Context::hosts`] names; anything else fails with `HttpRequestDenied` before a
/// socket is opened, and is remembered so the host can say which host was refused.
pub(crate) struct Outbound {
    hosts: Vec<String>,
    /// Caps every connect, first-byte and between-bytes wait: a host blocked on the
    /// network is not running Wasm, so the epoch deadline alone would not stop it.
    pub(crate) timeout: Duration,
    /// Authorities refused during the call, in order.
    pub(crate) denied: Vec<String>,
}

/// Whether `authority` (`host` or `host:port`, as the request names it) is one of `hosts`:
/// exact match, ignoring ASCII case; `example.com` does not let `example.com:8443` through,
/// nor the other way round. An entry `*` lets every authority through, as the grant
/// documents (the capability check already kept it; here it used to match nothing).
pub fn authority_allowed(hosts: &[String], authority: &str) -> bool {
    hosts
        .iter()
        .any(|h| h.trim() == "*" || h.trim().eq_ignore_ascii_case(authority))
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl wasmtime_wasi_http::WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn std::future::Future<Output = SendResult> + Send> {
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        if !authority_allowed(&self.hosts, &authority) {
            self.denied.push(authority);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let cap =
            |asked: Option<Duration>| Some(asked.map_or(self.timeout, |t| t.min(self.timeout)));
        let options = options.unwrap_or_default();
        let options = wasmtime_wasi_http::RequestOptions {
            connect_timeout: cap(options.connect_timeout),
            first_byte_timeout: cap(options.first_byte_timeout),
            between_bytes_timeout: cap(options.between_bytes_timeout),
        };
        let _ = fut;
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}

/// [`StoreLimits`], except that a refused growth traps with [`LimitHit::Memory`] instead of
/// making `memory.grow` return -1: a plugin that asks for more than its cap is stopped and
/// named, rather than left to misreport an allocation failure.
///
/// The memory cap holds for the instance as a whole: the sizes of all of a component's
/// linear memories (every core instance's, created or grown) are summed, under the
/// pooling allocator and on-demand alike (wasmtime asks the limiter for each new memory
/// and table with `current = 0`). Table elements are summed the same way.
pub(crate) struct Limiter {
    inner: StoreLimits,
    memory_cap: usize,
    /// Bytes of all linear memories together.
    memory_total: usize,
    /// Elements of all tables together.
    table_total: usize,
    /// The most linear memory the call held at once, all memories together, in bytes.
    pub(crate) peak: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.memory_total - current.min(self.memory_total)).saturating_add(desired);
        if total <= self.memory_cap && self.inner.memory_growing(current, desired, maximum)? {
            self.memory_total = total;
            self.peak = self.peak.max(total);
            Ok(true)
        } else {
            Err(wasmtime::Error::new(LimitHit::Memory))
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.table_total - current.min(self.table_total)).saturating_add(desired);
        if total <= TABLE_ELEMENTS && self.inner.table_growing(current, desired, maximum)? {
            self.table_total = total;
            Ok(true)
        } else {
            Err(wasmtime::Error::new(LimitHit::Table))
        }
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::authority_allowed;

    #[test]
    fn a_star_allows_every_authority_and_nothing_else_does() {
        let star = vec!["*".to_owned()];
        for authority in ["hooks.slack.com", "example.com:8443", "[::1]:80"] {
            assert!(authority_allowed(&star, authority), "{authority}");
        }
        let one = vec!["Hooks.Slack.com".to_owned()];
        assert!(authority_allowed(&one, "hooks.slack.com"));
        assert!(!authority_allowed(&one, "hooks.slack.com:8443"));
        assert!(!authority_allowed(&one, "evil.example"));
        assert!(!authority_allowed(&[], "hooks.slack.com"));
    }
}
