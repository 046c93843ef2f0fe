//! What a plugin's store holds: deny-by-default WASI, captured output, and the memory cap.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Bytes of stdout, and separately of stderr, kept per call. Once a stream is full the
/// plugin sees it closed and further output is dropped; the first bytes are the ones kept
/// because they usually say what went wrong.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// The limit a call ran into, carried through wasmtime's error so the message can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitHit {
    #[error("time limit reached")]
    Time,
    #[error("memory limit reached")]
    Memory,
}

/// The data of one call's store; dropped with the store when the call ends.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl State {
    /// A sandbox with no files, no environment, no arguments, no network, no stdin, and
    /// stdout/stderr going to capped buffers.
    pub(crate) fn new(memory_bytes: usize) -> State {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAP);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAP);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(memory_bytes)
                    .instances(16)
                    .memories(16)
                    .tables(16)
                    .build(),
            },
            stdout,
            stderr,
        }
    }

    /// What the plugin wrote to stdout and stderr so far.
    pub(crate) fn output(&self) -> (String, String) {
        let text = |pipe: &MemoryOutputPipe| String::from_utf8_lossy(&pipe.contents()).into_owned();
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

/// [`StoreLimits`], except that a refused growth traps with [`LimitHit::Memory`] instead of
/// making `memory.grow` return -1: a plugin that asks for more than its cap is stopped and
/// named, rather than left to misreport an allocation failure.
pub(crate) struct Limiter {
    inner: StoreLimits,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.inner.memory_growing(current, desired, maximum)? {
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
        self.inner.table_growing(current, desired, maximum)
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
