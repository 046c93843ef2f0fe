// Organisation rules, checked at lint, plan and deploy beside godwit's built-in rules:
// every migration has a non-empty down.sql (an error, which blocks a deploy), and
// up.sql drops no table (a warning).
import { validator, Finding, log } from 'godwit-sdk';

export const { checkMigration, checkDatabase } = validator({
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
    log.debug(`${file}: ${findings.length} findings`);
    return findings;
  },

  checkDatabase(_session) {
    return [];
  },
});
