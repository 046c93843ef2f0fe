"""A backfill: godwit reads the rows by key, batch by batch, calls `transform`, and writes
what it returns in one statement per batch, committing and checkpointing in between.
The plugin needs no SQL.
"""

import godwit
from godwit import Row, Spec, config


class NormalizeEmail(godwit.Backfill):
    def describe(self) -> Spec:
        # Settings come from [plugins.NAME.config] in godwit.toml, or a step.toml's [config].
        table = config.get_str("table", "users")
        return Spec(
            table,
            key="id",
            reads=["email"],
            writes=["email_normalized"],
            filter="email_normalized IS NULL",
            batch_size_hint=1000,
        )

    def transform(self, rows: list[Row]) -> list[dict]:
        # Each row goes back with its key and the `writes` columns. An exception here
        # fails the batch: godwit rolls it back and shows the error.
        out = []
        for row in rows:
            email = row.text("email")  # None for NULL
            normalized = email.strip().lower() if email is not None else None
            out.append({"id": row.require("id"), "email_normalized": normalized})
        return out


# componentize-py calls the class called WitWorld; export() adapts the plugin to it.
WitWorld = godwit.export(NormalizeEmail)
