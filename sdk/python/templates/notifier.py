"""A notifier: godwit calls it with each event of a run; an exception is reported, never
fatal to the deploy.
"""

import godwit
from godwit import Event, RunFinished, RunStarted, log


class LogRuns(godwit.Notifier):
    def notify(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            log.info(f"{event.operation}: {event.pending} pending on {event.database}")
        elif isinstance(event, RunFinished):
            if event.failed is not None:
                log.error(f"{event.operation} failed at {event.failed} after {event.duration_ms} ms")
            else:
                log.info(f"{event.operation} applied {event.applied} in {event.duration_ms} ms")


WitWorld = godwit.export(LogRuns)
