"""The garbage collector of a service process, set for batches of thousands of rows.

A list load hands a service chunks of 2,500 rows: each decoded, checked and
written makes a few hundred thousand objects, and CPython's collector runs a
full collection, which walks every tracked object of the process (nameko,
kombu, SQLAlchemy and their compiled statements: some 130,000), every 70,000
or so allocations. Measured on the students service's create_students, that
was a fifth of its CPU. `tune()`, called once the service's modules are
imported:

- freezes what exists then (gc.freeze): the modules' objects live as long as
  the process, and no collection walks them again;
- raises the first generation's threshold from 700 to 10,000, so the young
  collections (and with them the full ones) run 14 times less often; each
  still finds every unreachable cycle, a little later.

Objects are still freed by reference counting the moment they are unused;
only cycles wait for a collection.
"""

import gc

GEN0_THRESHOLD = 10_000


def tune():
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
