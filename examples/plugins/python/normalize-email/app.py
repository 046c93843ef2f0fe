"""normalize-email: fill customers.email_normalized with lower(trim(email)).

NULL stays NULL, and an email that is empty once trimmed becomes NULL. The table comes
from the `table` setting (default `customers`); the key is `id`, and only rows whose
email_normalized is still NULL are read, so a rerun resumes where the last one stopped.
"""

from typing import Optional

import godwit
from godwit import Row, Spec, config


def normalize(email: Optional[str]) -> Optional[str]:
    """lower(trim(email)); None for NULL and for an email that is only whitespace."""
    if email is None:
        return None
    return email.strip().lower() or None


class NormalizeEmail(godwit.Backfill):
    def describe(self) -> Spec:
        return Spec(
            table=config.get_str("table", "customers"),
            key="id",
            reads=["email"],
            writes=["email_normalized"],
            filter="email_normalized IS NULL",
            batch_size_hint=1000,
        )

    def transform(self, rows: list[Row]) -> list[dict]:
        return [
            {"id": row.require("id"), "email_normalized": normalize(row.text("email"))}
            for row in rows
        ]


WitWorld = godwit.export(NormalizeEmail)
