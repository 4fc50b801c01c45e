"""Group commit: many chargers' writes share one database transaction.

A consumer hands the recorder a unit of work (a function run in the database thread that returns
an answer and the element writes and meter samples it made). While one flush runs, new work
queues; when it ends, everything queued is flushed together in one transaction. So under light
load a message is committed at once, and under heavy load hundreds share a commit. Each unit's
future resolves only after the commit: a charger is answered only when its data is stored.

If a batch fails at the database level, its units are retried one by one, so one bad unit
cannot take the others' data with it.

Each flush also stores the OCPP frames logged since the last one (messagelog.py) in the same
transaction (on PostgreSQL in the element writes' statement); after a failed batch they go in a
transaction of their own.
"""
import functools
import logging
import time

from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from . import messagelog
from .batching import GroupRunner
from .protocol.session import create_needed_connectors
from .writes import sample_rows, write_elements

log = logging.getLogger(__name__)
CONNECTION_CHECK_SECONDS = 30


class Work:
    """One unit: `run(work)` is called in the database thread inside the batch transaction."""

    __slots__ = ("run", "session", "connectors", "writes", "samples", "now")

    def __init__(self, run, session=None, connectors=()):
        self.run = run
        self.session = session  # the charger session it works for, if any (see _commit)
        self.connectors = connectors  # connector ids of `session` it will write to, if known
        self.writes = []
        self.samples = []
        self.now = None

    def set(self, dp, path, value):
        self.writes.append((dp, path, value))

    def sample(self, **fields):
        """A MeterSample row, as its fields (every column: see writes.sample_rows); a model
        instance per sampledValue cost more than the rest of storing it."""
        self.samples.append(fields)

    def reset(self):
        self.writes.clear()
        self.samples.clear()


class Recorder(GroupRunner):
    def __init__(self):
        super().__init__()
        self._last_connection_check = 0.0

    async def submit(self, run, session=None, connectors=()):
        """Run `run(work)` in the next batch; return its result once committed. `session`: the
        charger session `run` works for; `connectors`: ids of its connectors `run` will write to
        (created with the batch's others before the units run, when new)."""
        return await super().submit(Work(run, session, connectors))

    def submit_nowait(self, run, what, session=None):
        """Run `run(work)` in the next batch without waiting for the commit; a failure is logged
        (`what` names it). Later submissions are committed in the same batch or after it."""
        future = self.enqueue(Work(run, session))
        future.add_done_callback(functools.partial(_log_failure, what))
        return future

    # --- database thread ------------------------------------------------------------------------
    def _flush(self, batch):
        self._check_connection()
        now = timezone.now()
        frames = messagelog.take() if messagelog.ENABLED else None
        try:
            return self._commit(batch, now, frames)
        except DatabaseError:
            if len(batch) == 1 and frames is None:
                raise
            log.warning("batch of %d failed; retrying unit by unit", len(batch))
            outcomes, changes = [], []
            for work in batch:
                try:
                    (outcome,), unit_changes = self._commit([work], now)
                except DatabaseError as exc:
                    outcome, unit_changes = (False, exc), []
                outcomes.append(outcome)
                changes.extend(unit_changes)
            if frames is not None:
                messagelog.insert_alone(frames)
            return outcomes, changes

    def _commit(self, batch, now, frames=None):
        sessions = {id(work.session): work.session for work in batch if work.session is not None}.values()
        try:
            with transaction.atomic():
                writes = create_needed_connectors([(work.session, n) for work in batch for n in work.connectors])
                outcomes = [self._run(work, now) for work in batch]
                writes += [w for work in batch for w in work.writes]
                samples = [s for work in batch for s in work.samples]
                also = [sample_rows(samples)] + ([frames] if frames is not None else [])
                changes = write_elements(writes, now, also=also)  # on PostgreSQL one statement
        except BaseException:
            for session in sessions:  # connectors they learnt in this transaction are gone
                session.rolled_back()
            raise
        for session in sessions:
            session.committed()
        return outcomes, changes

    @staticmethod
    def _run(work, now):
        work.reset()
        work.now = now
        try:
            return True, work.run(work)
        except DatabaseError:
            raise
        except Exception as exc:  # the unit's own failure: its writes are dropped, others go on
            work.reset()
            return False, exc

    def _check_connection(self):
        # Channels' per-message close_old_connections() is bypassed in the consumer (it costs a
        # thread hop per frame); the recorder owns the connection, so it checks it here instead.
        now = time.monotonic()
        if now - self._last_connection_check > CONNECTION_CHECK_SECONDS:
            self._last_connection_check = now
            close_old_connections()


def _log_failure(what, future):
    if not future.cancelled() and future.exception() is not None:
        log.error("%s failed: %s", what, future.exception())


_recorder = None


def get_recorder():
    global _recorder
    if _recorder is None:
        _recorder = Recorder()
    return _recorder
