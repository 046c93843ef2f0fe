//! The step-file model: what a migration directory's `step.toml` says. Running a step
//! (the batches, the checkpoints, the plugin calls) is the host's.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// `step.toml`, as written in a migration directory.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// The `[plugins.NAME]` of godwit.toml that runs this step.
    pub plugin: String,
    /// Settings for the plugin, overriding its `[plugins.NAME.config]` key by key.
    #[serde(default)]
    pub config: toml::Table,
    #[serde(default)]
    pub batch: BatchSettings,
}

/// How big the batches are and how fast they may come.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchSettings {
    /// Rows in the first batch (else the plugin's hint, else 1000); later batches adapt
    /// to `target`.
    pub size: Option<u32>,
    /// The duration a batch should take: long enough to amortise the commit, short
    /// enough that locks and replication lag stay small.
    #[serde(deserialize_with = "duration")]
    pub target: Duration,
    pub min: u32,
    pub max: u32,
    /// Sleep between batches.
    #[serde(deserialize_with = "duration")]
    pub pause: Duration,
    /// A ceiling on throughput; 0 for none.
    pub max_rows_per_second: u64,
    /// The longest one batch's database statements may run, together, enforced by the
    /// server (`statement_timeout`, `max_statement_time`, SQLite's progress handler). They
    /// carry the plugin's `filter`, so without a bound a hostile or careless filter would
    /// hold the batch's transaction and the migration lock forever. Also bounds the
    /// up-front row count, which is only skipped when it runs out.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Hold batches back while a replica lags further behind than this (godwit.toml's
    /// `[throttle] max_replication_lag` when unset; no bound when neither sets it).
    #[serde(deserialize_with = "optional_duration")]
    pub max_replication_lag: Option<Duration>,
    /// Hold batches back while this query, run on the database before a batch, returns
    /// false: one row, one boolean column (godwit.toml's `[throttle] health_query` when
    /// unset).
    pub health_query: Option<String>,
    /// The longest the step waits, in one pause, for the database to be healthy again
    /// before it stops (resumable); godwit.toml's `[throttle] max_pause` when unset.
    #[serde(deserialize_with = "optional_duration")]
    pub max_pause: Option<Duration>,
    /// How many connections run a backfill's batches at once (1..=64). With more than
    /// one, the key range is split into batches up front and each connection leases the
    /// next one; `godwit deploy --workers N` overrides it. SQLite has one writer, so
    /// there it must be 1, as for data steps (whose plugin keeps its own cursor).
    pub workers: u32,
}

/// The most workers one step may have: `[batch] workers` and `deploy --workers`.
pub const MAX_WORKERS: u32 = 64;

/// The default of `[batch] timeout`: far above a batch's target (250 ms by default), so
/// that only a statement gone wrong meets it.
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            size: None,
            target: Duration::from_millis(250),
            min: 1,
            max: 50_000,
            pause: Duration::ZERO,
            max_rows_per_second: 0,
            timeout: DEFAULT_BATCH_TIMEOUT,
            max_replication_lag: None,
            health_query: None,
            max_pause: None,
            workers: 1,
        }
    }
}

impl BatchSettings {
    /// The first batch's size: `size`, else the plugin's hint, else 1000.
    pub fn size_or(&self, hint: Option<u32>) -> u32 {
        self.size.or(hint).unwrap_or(1000)
    }
}

impl StepFile {
    /// Parses a `step.toml`; errors say which key is wrong.
    pub fn parse(text: &str) -> Result<StepFile, String> {
        let step: StepFile = toml::from_str(text).map_err(|e| e.to_string())?;
        if step.plugin.trim().is_empty() {
            return Err("`plugin` is empty; name a [plugins.NAME] of godwit.toml".into());
        }
        let b = &step.batch;
        if b.min == 0 || b.min > b.max || b.size == Some(0) {
            return Err(format!(
                "[batch] needs 1 <= min <= max and size >= 1 (min = {}, max = {}, size = {:?})",
                b.min, b.max, b.size
            ));
        }
        if b.workers == 0 || b.workers > MAX_WORKERS {
            return Err(format!(
                "[batch] workers must be between 1 and {MAX_WORKERS} (workers = {}): it is how many connections run the step's batches at once",
                b.workers
            ));
        }
        if b.timeout.is_zero() {
            return Err(
                "[batch] timeout must be more than 0s: it bounds each batch's statements".into(),
            );
        }
        if b.target.is_zero() {
            return Err("[batch] target must be more than 0ms".into());
        }
        if b.max_replication_lag.is_some_and(|d| d.is_zero()) {
            return Err(
                "[batch] max_replication_lag must be more than 0s: no replica is ever 0s behind, so every batch would wait; remove the key for no bound".into(),
            );
        }
        if b.max_pause.is_some_and(|d| d.is_zero()) {
            return Err("[batch] max_pause must be more than 0s: it is how long a pause may last before the step stops".into());
        }
        if b.health_query
            .as_deref()
            .is_some_and(|q| q.trim().is_empty())
        {
            return Err("[batch] health_query is empty; give a query returning one boolean, e.g. \"SELECT count(*) < 50 FROM pg_stat_activity WHERE state = 'active'\", or remove the key".into());
        }
        Ok(step)
    }

    /// Reads `dir/step.toml`.
    pub fn read(path: &Path) -> Result<StepFile, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read step.toml: {e}"))?;
        StepFile::parse(&text)
    }
}

fn duration<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(de)?;
    crate::duration::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<Duration>, D::Error> {
    duration(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_file_refuses_unknown_keys_and_bad_batches() {
        let ok = StepFile::parse(
            "plugin = \"copy\"\n[config]\ntable = \"users\"\n[batch]\nsize = 10\ntarget = \"1s\"\n",
        )
        .unwrap();
        assert_eq!(ok.batch.size, Some(10));
        assert_eq!(ok.batch.target, Duration::from_secs(1));
        let err = StepFile::parse("plugin = \"copy\"\nbatchsize = 3\n").unwrap_err();
        assert!(err.contains("batchsize"), "{err}");
        let err = StepFile::parse("plugin = \"copy\"\n[batch]\nmin = 5\nmax = 2\n").unwrap_err();
        assert!(err.contains("min <= max"), "{err}");
        assert_eq!(ok.batch.workers, 1);
        let four = StepFile::parse("plugin = \"copy\"\n[batch]\nworkers = 4\n").unwrap();
        assert_eq!(four.batch.workers, 4);
        for bad in ["0", "65"] {
            let err = StepFile::parse(&format!("plugin = \"copy\"\n[batch]\nworkers = {bad}\n"))
                .unwrap_err();
            assert!(err.contains("workers must be between 1 and 64"), "{err}");
        }
        let err = StepFile::parse("[config]\n").unwrap_err();
        assert!(err.contains("plugin"), "{err}");
    }

    #[test]
    fn step_file_reads_the_health_settings() {
        let step = StepFile::parse(
            "plugin = \"copy\"\n[batch]\nmax_replication_lag = \"5s\"\nmax_pause = \"10m\"\nhealth_query = \"SELECT true\"\n",
        )
        .unwrap();
        assert_eq!(step.batch.max_replication_lag, Some(Duration::from_secs(5)));
        assert_eq!(step.batch.max_pause, Some(Duration::from_secs(600)));
        assert_eq!(step.batch.health_query.as_deref(), Some("SELECT true"));
        let none = StepFile::parse("plugin = \"copy\"\n").unwrap();
        assert_eq!(none.batch.max_replication_lag, None);
        for (text, needle) in [
            (
                "max_replication_lag = \"0s\"",
                "max_replication_lag must be more than 0s",
            ),
            ("max_replication_lag = \"soon\"", "soon"),
            ("max_pause = \"0s\"", "max_pause must be more than 0s"),
            ("health_query = \" \"", "health_query is empty"),
        ] {
            let err =
                StepFile::parse(&format!("plugin = \"copy\"\n[batch]\n{text}\n")).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
