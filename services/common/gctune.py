"""The cyclic garbage collector in a long-running process (gateway, services).

Now and then Python's collector examines every object the process holds (a
full, generation-2 collection). A gateway or service with its libraries loaded
holds some 85,000-130,000 objects: such a collection takes 20-50 ms (over
100 ms on a busy machine), during which the process answers nothing; those
were the slowest requests (bench/gateway_bench.py). A list load hands a service
chunks of 2,500 rows, each making a few hundred thousand objects: the
collections they set off were a fifth of the students service's CPU in
create_students (bench/load_bench.py). `settle()`, once per process when it
has started (services: when their database dependency starts; the gateway
before it serves):

- collects once and freezes what survives (gc.freeze): those objects live as
  long as the process, and later collections skip them, so a full collection
  looks only at what was made since: a millisecond or two;
- raises the first generation's threshold from 700 to 10,000, so the young
  collections (and with them the full ones) run 14 times less often; each
  still finds every unreachable cycle, a little later.

Objects are still freed by reference counting the moment they are unused; only
cycles wait for a collection. LEERLINGBUS_GC_FREEZE=off (environment or nameko
config) leaves the collector as Python sets it.
"""

import gc
import logging
import time

from . import config as cfg

log = logging.getLogger(__name__)

GEN0_THRESHOLD = 10_000

_settled = False


def enabled(config=None) -> bool:
    raw = str(cfg.setting("LEERLINGBUS_GC_FREEZE", config, "on"))
    return raw.strip().lower() not in ("0", "false", "no", "off")


def settle(config=None) -> bool:
    """Collect, freeze what survives, collect less often (once per process);
    True when it did."""
    global _settled
    if _settled or not enabled(config):
        return False
    _settled = True
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(_gen0, GEN0_THRESHOLD), gen1, gen2)
    log.debug(
        "gc: %d objects frozen in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
    return True
