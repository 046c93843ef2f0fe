// A backfill: godwit reads the rows by key, batch by batch, calls `transform`, and writes
// what it returns in one statement per batch, committing and checkpointing in between.
// The plugin needs no SQL.
import { backfill, config } from 'godwit-sdk';

export const { describe, transform } = backfill({
  // What to read and write; called once before the first batch.
  describe() {
    // Settings come from [plugins.NAME.config] in godwit.toml, or a step.toml's [config].
    const table = config.string('table', 'users');
    return {
      table,
      key: 'id',
      reads: ['email'],
      writes: ['email_normalized'],
      filter: 'email_normalized IS NULL',
      batchSizeHint: 1000,
    };
  },

  // The new values of the `writes` columns for each row, each with its key. Throw to fail
  // the batch: godwit rolls it back and reports the error's message.
  transform(rows) {
    return rows.map((row) => ({
      id: row.require('id'),
      // text() is null for SQL NULL, and NULL stays NULL.
      email_normalized: row.text('email')?.trim().toLowerCase() ?? null,
    }));
  },
});
