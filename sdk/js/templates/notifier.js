// A notifier: godwit calls it with each event of a run; a thrown error is reported, never
// fatal to the deploy.
import { notifier, log } from 'godwit-sdk';

export const { notify } = notifier({
  // `event.type` is the WIT's name for it (`run-started`, `run-finished`, ...), and the
  // event's fields are beside it, in camelCase. `target` names the database when
  // `godwit deploy --targets FILE` deploys a fleet, and is null otherwise.
  notify(event, target) {
    if (event.type === 'run-started') {
      const on = target === null ? '' : ` (${target})`;
      log.info(`${event.operation}: ${event.pending} pending on ${event.database}${on}`);
    } else if (event.type === 'run-finished') {
      if (event.failed !== null) {
        log.error(`${event.operation} failed at ${event.failed} after ${event.durationMs} ms`);
      } else {
        log.info(`${event.operation} applied ${event.applied} in ${event.durationMs} ms`);
      }
    }
  },
});
