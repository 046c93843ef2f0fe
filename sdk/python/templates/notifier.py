"""A notifier: godwit calls it with each event of a run; an exception is reported, never
fatal to the deploy.
"""

import godwit
from typing import Optional

from godwit import Event, RunFinished, RunStarted, log


class LogRuns(godwit.Notifier):
    # `target` names the database when `godwit deploy --targets FILE` deploys a fleet.
    def notify(self, event: Event, target: Optional[str]) -> None:
        if isinstance(event, RunStarted):
            on = f" ({target})" if target is not None else ""
            log.info(f"{event.operation}: {event.pending} pending on {event.database}{on}")
        elif isinstance(event, RunFinished):
            if event.failed is not None:
                log.error(f"{event.operation} failed at {event.failed} after {event.duration_ms} ms")
            else:
                log.info(f"{event.operation} applied {event.applied} in {event.duration_ms} ms")


WitWorld = godwit.export(LogRuns)
