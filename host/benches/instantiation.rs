//! What instantiating a plugin from its `InstancePre` costs under each allocator, pooling
//! and on-demand (WASI context and store setup excluded: the clock starts after them).
//! Every plugin call gets a fresh instance, so this is the floor under every call. It needs
//! no database and no wasm32 target: the component is a few lines of WAT.
//!
//! ```sh
//! cargo bench --bench instantiation
//! # optional: GODWIT_BENCH_ROUNDS=N (default 2,000)
//! ```

use std::time::Duration;

use godwit::plugin::{Limits, Runtime, RuntimeConfig};

/// A component that exports nothing and imports nothing: only instantiation is measured.
const EMPTY: &str = r#"(component (core module $m (memory 1)) (core instance (instantiate $m)))"#;

fn main() {
    let rounds: u32 = std::env::var("GODWIT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let bytes = wat::parse_str(EMPTY).expect("the bench component parses");
    for pooling in [true, false] {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: None,
            pooling,
        })
        .expect("the runtime starts");
        let plugin = runtime
            .load_bytes("empty.wasm", &bytes, None)
            .expect("the bench component loads");
        let mut total = Duration::ZERO;
        for _ in 0..rounds {
            let call = runtime
                .call(&plugin, &Limits::default(), |_, _| Ok(()))
                .expect("instantiation succeeds");
            total += call.elapsed;
        }
        println!(
            "instantiation from InstancePre ({:?} allocation): {:.1} µs, mean of {rounds}",
            runtime.allocation(),
            total.as_secs_f64() * 1e6 / f64::from(rounds)
        );
    }
}
