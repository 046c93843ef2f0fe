"""A data step: it runs its own queries through the session godwit lends it, inside
godwit's transaction; godwit commits and checkpoints `next_cursor` after each batch.
"""

from typing import Optional

import godwit
from godwit import BatchResult, Session


class LowercaseEmails(godwit.DataStep):
    def run_batch(self, session: Session, cursor: Optional[str], size: int) -> BatchResult:
        after = int(cursor) if cursor is not None else 0
        ids = session.query(
            "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2", [after, size]
        )
        if not ids:
            return BatchResult(next_cursor=None, rows=0, done=True)
        last = ids[-1].int("id")
        # A refused or failed statement raises godwit.SessionError: the batch is rolled back.
        rows = session.execute(
            "UPDATE users SET email = lower(email) WHERE id > $1 AND id <= $2", [after, last]
        )
        return BatchResult(next_cursor=str(last), rows=rows, done=len(ids) < size)


WitWorld = godwit.export(LowercaseEmails)
