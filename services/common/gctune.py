"""The cyclic garbage collector in a long-running process (gateway, services).

Now and then Python's collector examines every object the process holds (a
full, generation-2 collection). A gateway or service with its libraries loaded
holds some 85,000 objects: such a collection takes 20-50 ms (over 100 ms on a
busy machine), during which the process answers nothing; those were the
slowest requests (bench/gateway_bench.py). The objects that exist once the
process has started live as long as the process, so `settle()` collects once
and freezes them (gc.freeze: later collections skip them), after which a full
collection looks only at what was made since: a millisecond or two.

Once per process; LEERLINGBUS_GC_FREEZE=off (environment or nameko config)
leaves the collector as Python sets it.
"""

import gc
import logging
import time

from . import config as cfg

log = logging.getLogger(__name__)

_settled = False


def enabled(config=None) -> bool:
    raw = str(cfg.setting("LEERLINGBUS_GC_FREEZE", config, "on"))
    return raw.strip().lower() not in ("0", "false", "no", "off")


def settle(config=None) -> bool:
    """Collect, then freeze what survives (once per process); True when it did."""
    global _settled
    if _settled or not enabled(config):
        return False
    _settled = True
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug(
        "gc: %d objects frozen in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
    return True
