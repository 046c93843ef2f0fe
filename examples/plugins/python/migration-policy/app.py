"""migration-policy: organisation rules for migrations.

- `require-down` (error): a migration has no down.sql, or an empty one (only whitespace).
- `no-drop-table` (warning): up.sql contains DROP TABLE, in any case.

check_database reports nothing.
"""

import godwit
from godwit import Finding, Migration, Session, log


class MigrationPolicy(godwit.Validator):
    def check_migration(self, m: Migration) -> list[Finding]:
        findings = []
        if m.down_sql is None or not m.down_sql.strip():
            findings.append(
                Finding.error(
                    "require-down",
                    f"migration {m.file} cannot be reverted: it has no down.sql",
                    location=f"{m.file}/down.sql",
                    help="write the down.sql that undoes up.sql, so `godwit down` can revert it",
                )
            )
        if "DROP TABLE" in m.up_sql.upper():
            findings.append(
                Finding.warning(
                    "no-drop-table",
                    f"migration {m.file} drops a table",
                    location=f"{m.file}/up.sql",
                    help="rename the table first and drop it a release later",
                )
            )
        log.debug(f"{m.file}: {len(findings)} findings")
        return findings

    def check_database(self, session: Session) -> list[Finding]:
        return []


WitWorld = godwit.export(MigrationPolicy)
