//! A step's pause while the database is unhealthy: [`crate::health`] measures, this
//! waits, tells, and keeps the connections alive meanwhile.

use std::time::Instant;

use crate::error::Error;
use crate::event::{Event, PauseReason};
use crate::health::{HealthError, TELL_EVERY, TOUCH_EVERY, Throttle};

/// Waits until the database is healthy: returns at once when it is, else tells `emit`
/// about the pause and measures again every `check_every`, for at most `max_pause`.
/// Every connection that takes batches calls it first, the deploying process's one and
/// each worker's alike (see [`crate::step::workers`]).
pub(crate) async fn wait_until_healthy(
    driver: &mut dyn godwit_db::Driver,
    throttle: &mut Throttle,
    step: &str,
    version: &str,
    emit: &mut dyn FnMut(Event),
) -> Result<(), Error> {
    let mut pause: Option<(Instant, Instant)> = None;
    let mut last: Option<PauseReason> = None;
    loop {
        let reason = throttle.check(driver).await?;
        let max_pause = throttle.settings().max_pause;
        let Some(reason) = reason else {
            if let (Some((since, _)), Some(reason)) = (pause, last) {
                throttle.paused += since.elapsed();
                emit(Event::StepResumed {
                    version: version.to_owned(),
                    paused_ms: since.elapsed().as_millis() as u64,
                    reason,
                });
            }
            return Ok(());
        };
        let now = Instant::now();
        let (since, told) = pause.get_or_insert((now, now));
        let waited = since.elapsed();
        if waited >= max_pause {
            return Err(HealthError::PausedTooLong {
                step: step.to_owned(),
                waited,
                max_pause,
                reason,
            }
            .into());
        }
        let changed = last
            .as_ref()
            .is_none_or(|l| std::mem::discriminant(l) != std::mem::discriminant(&reason));
        if changed || told.elapsed() >= TELL_EVERY {
            *told = now;
            emit(Event::StepPaused {
                version: version.to_owned(),
                reason: reason.clone(),
                paused_ms: waited.as_millis() as u64,
                max_pause_ms: max_pause.as_millis() as u64,
            });
        }
        last = Some(reason);
        let left = max_pause.saturating_sub(since.elapsed());
        let next_check = Instant::now() + throttle.settings().check_every.min(left);
        loop {
            // However long the pause, neither connection sits idle through it: a lease-
            // based migration lock must stay ours, and a server closes a session idle
            // longer than its timeout (MySQL's and MariaDB's `wait_timeout`, PostgreSQL's
            // `idle_session_timeout`), which the next batch would find gone.
            driver.keep_alive().await?;
            driver.execute("SELECT 1").await.map_err(|e| {
                Error::db(
                    format!("step {step}: the connection did not answer while the step was paused"),
                    &e,
                )
            })?;
            let now = Instant::now();
            if now >= next_check {
                break;
            }
            tokio::time::sleep((next_check - now).min(TOUCH_EVERY)).await;
        }
    }
}
