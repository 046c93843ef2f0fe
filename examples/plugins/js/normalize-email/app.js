// customers.email_normalized = lower(trim(email)); NULL stays NULL, and an email that is
// empty once trimmed becomes NULL. godwit reads the rows by key, batch by batch, calls
// `transform`, and writes what it returns; the plugin needs no SQL.
import { backfill, config } from 'godwit-sdk';

export const { describe, transform } = backfill({
  describe() {
    return {
      table: config.string('table', 'customers'),
      key: 'id',
      reads: ['email'],
      writes: ['email_normalized'],
      filter: 'email_normalized IS NULL',
      batchSizeHint: 1000,
    };
  },

  transform(rows) {
    return rows.map((row) => {
      const email = row.text('email')?.trim().toLowerCase();
      return { id: row.require('id'), email_normalized: email ? email : null };
    });
  },
});
