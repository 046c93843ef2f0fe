// A data step: it runs its own queries through the session godwit lends it, inside
// godwit's transaction; godwit commits and checkpoints `nextCursor` after each batch.
import { dataStep } from 'godwit-sdk';

export const { runBatch } = dataStep({
  // Do at most `size` rows' worth of work from `cursor` (null on the first call).
  runBatch(session, cursor, size) {
    const after = cursor === null ? 0 : Number(cursor);
    if (!Number.isInteger(after)) throw new Error(`cursor ${JSON.stringify(cursor)} is not an id`);
    const ids = session.query('SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2', [after, size]);
    if (ids.length === 0) return { nextCursor: null, rows: 0, done: true };
    const last = ids[ids.length - 1].int('id');
    const rows = session.execute('UPDATE users SET email = lower(email) WHERE id > $1 AND id <= $2', [
      after,
      last,
    ]);
    return { nextCursor: String(last), rows, done: ids.length < size };
  },
});
