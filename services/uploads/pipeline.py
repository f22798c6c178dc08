"""Chunks of a list's load sent a few at a time (jobs.Jobs._load), taken in order."""
import collections
import logging

import eventlet

log = logging.getLogger(__name__)


def in_order(fn, items, parallel, go_on=None):
    """(item, fn(item)) for each of `items`, in their order, with up to
    `parallel` calls running at once (green threads). Closing the generator
    early, or an exception from a call, first waits for the calls still
    running: their work is finished, never cut off halfway.

    `go_on(result)`: when it is true for a result, the next call starts before
    that result is handed over, so the caller's own work with it (a load saves
    its progress) does not keep a slot empty. When false (the caller will
    stop there), nothing more starts."""
    items = iter(items)
    pending = collections.deque()

    def top_up():
        while len(pending) < max(parallel, 1):
            item = next(items, _END)
            if item is _END:
                return
            pending.append((item, eventlet.spawn(_outcome, fn, item)))

    try:
        while True:
            top_up()
            if not pending:
                return
            item, thread = pending.popleft()
            ok, value = thread.wait()
            if not ok:
                raise value
            if go_on is not None and go_on(value):
                top_up()
            yield item, value
    finally:
        for _item, thread in pending:
            ok, value = thread.wait()
            if not ok:  # the next attempt (resume, re-approval) meets it again
                log.warning("a load chunk running beside a stopped one failed too: %s %s",
                            type(value).__name__, getattr(value, "code", ""))


def _outcome(fn, item):
    """(True, result) or (False, exception): a green thread that raises has
    its traceback printed by the hub, whoever waits for it."""
    try:
        return True, fn(item)
    except Exception as exc:
        return False, exc


_END = object()
