// A validator: godwit runs it at `lint`, `plan` and `deploy`, beside its built-in rules;
// an `error` finding blocks a deploy.
import { validator, Finding } from 'godwit-sdk';

export const { checkMigration, checkDatabase } = validator({
  // Look at one migration before it is applied: { version, name, upSql, downSql }.
  checkMigration(m) {
    const file = `${m.version}_${m.name}`;
    const findings = [];
    if (m.downSql === null || m.downSql.trim() === '') {
      findings.push(
        Finding.error('require-down', `migration ${file} cannot be reverted: it has no down.sql`, {
          location: `${file}/down.sql`,
          help: 'write the down.sql that undoes up.sql, so `godwit down` can revert it',
        }),
      );
    }
    if (/DROP TABLE/i.test(m.upSql)) {
      findings.push(
        Finding.warning('no-drop-table', `migration ${file} drops a table`, {
          location: `${file}/up.sql`,
          help: 'rename the table first and drop it a release later',
        }),
      );
    }
    return findings;
  },

  // Look at the live database through a read-only session.
  checkDatabase(_session) {
    return [];
  },
});
