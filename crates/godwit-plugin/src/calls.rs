//! One typed call per export of each world, on top of [`Runtime::call_with`].
//!
//! Each call checks first that the plugin is of the world asked for, so that a validator
//! configured as a backfill fails with a sentence saying so rather than a missing-export
//! error from the linker; and turns the plugin's own `Err` into [`Error::Refused`].

use crate::runtime::{Call, Error, Limits, Plugin, PluginError, Runtime};
use crate::sandbox::Context;
use crate::text::{sanitize, with_plugin_output};
use crate::wit::latest::types::{BackfillSpec, BatchResult, Event, Finding, Migration, Row};
use crate::wit::latest::{backfill, data_step, notifier, validator};
use crate::wit::{Session, World, since_v0_1_0};

impl Plugin {
    fn expect_world(&self, expected: World) -> Result<(), Error> {
        if self.world == Some(expected) {
            Ok(())
        } else {
            Err(Error::WrongWorld {
                plugin: self.label.clone(),
                expected,
                actual: self.world,
            })
        }
    }
}

impl Plugin {
    /// Unwraps a call whose export returned `result<T, string>`: the plugin's own `Err`
    /// becomes [`Error::Refused`], with what it logged on the way.
    pub fn answer<T>(&self, call: Call<Result<T, String>>) -> Result<Call<T>, Error> {
        let Call {
            value,
            stdout,
            stderr,
            logs,
            logs_dropped,
            elapsed,
            fuel_used,
            peak_memory,
        } = call;
        match value {
            Ok(value) => Ok(Call {
                value,
                stdout,
                stderr,
                logs,
                logs_dropped,
                elapsed,
                fuel_used,
                peak_memory,
            }),
            // The plugin's own answer, with what it logged on the way: the lines that
            // explain an `Err` would otherwise be lost with the call.
            Err(message) => Err(Error::Refused(PluginError {
                plugin: self.label.clone(),
                message: with_plugin_output(sanitize(&message), &logs, &stderr),
            })),
        }
    }
}

impl Runtime {
    /// `backfill.describe`: what the backfill reads and writes.
    pub fn describe(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
    ) -> Result<Call<BackfillSpec>, Error> {
        plugin.expect_world(World::Backfill)?;
        self.call_with(plugin, limits, context, |store, instance| {
            backfill::Backfill::new(&mut *store, instance)?.call_describe(store)
        })
    }

    /// `backfill.transform`: the new values for one batch of rows.
    pub fn transform(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
        rows: &[Row],
    ) -> Result<Call<Vec<Row>>, Error> {
        plugin.expect_world(World::Backfill)?;
        let call = self.call_with(plugin, limits, context, |store, instance| {
            backfill::Backfill::new(&mut *store, instance)?.call_transform(store, rows)
        })?;
        plugin.answer(call)
    }

    /// `data-step.run-batch`, with a read-write session on `context.session`.
    pub fn run_batch(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
        cursor: Option<&str>,
        size: u32,
    ) -> Result<Call<BatchResult>, Error> {
        plugin.expect_world(World::DataStep)?;
        let call = self.call_with(plugin, limits, context, |store, instance| {
            let step = data_step::DataStep::new(&mut *store, instance)?;
            let session = store.data_mut().table.push(Session { read_only: false })?;
            step.call_run_batch(store, session, cursor, size)
        })?;
        plugin.answer(call)
    }

    /// `validator.check-migration`: findings on one migration, no database.
    pub fn check_migration(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
        migration: &Migration,
    ) -> Result<Call<Vec<Finding>>, Error> {
        plugin.expect_world(World::Validator)?;
        self.call_with(plugin, limits, context, |store, instance| {
            validator::Validator::new(&mut *store, instance)?.call_check_migration(store, migration)
        })
    }

    /// `validator.check-database`, with a read-only session on `context.session`.
    pub fn check_database(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
    ) -> Result<Call<Vec<Finding>>, Error> {
        plugin.expect_world(World::Validator)?;
        self.call_with(plugin, limits, context, |store, instance| {
            let validator = validator::Validator::new(&mut *store, instance)?;
            let session = store.data_mut().table.push(Session { read_only: true })?;
            validator.call_check_database(store, session)
        })
    }

    /// `notifier.notify`: deliver one event, about the fleet target named `target` when
    /// there is one. A notifier built against an older version of the API hears the event
    /// as that version has it, without the target; `Ok(None)` when that version has no
    /// such event, and the plugin was not called.
    pub fn notify(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
        event: &Event,
        target: Option<&str>,
    ) -> Result<Option<Call<Result<(), String>>>, Error> {
        plugin.expect_world(World::Notifier)?;
        if plugin.api == since_v0_1_0::VERSION {
            let Some(event) = since_v0_1_0::event(event) else {
                return Ok(None);
            };
            return self
                .call_with(plugin, limits, context, |store, instance| {
                    since_v0_1_0::notifier::Notifier::new(&mut *store, instance)?
                        .call_notify(store, &event)
                })
                .map(Some);
        }
        self.call_with(plugin, limits, context, |store, instance| {
            notifier::Notifier::new(&mut *store, instance)?.call_notify(store, event, target)
        })
        .map(Some)
    }
}
