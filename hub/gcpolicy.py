"""The hub process's garbage-collector policy: freeze the start-up heap, collect young objects less often.

Ingest makes a few short-lived objects per reading (decoded structs, stored
readings, line-protocol strings); none of them form reference cycles, so
reference counting frees them and the cycle collector finds nothing. With
CPython's default policy a young-generation collection still runs every 700
allocations, and each one walks every object allocated since; with a group
of 500 messages (5,000 readings) in flight that is tens of collections per
group, and the older generations are walked again and again with them. On the
ingest benchmark (``docs/benchmarks-hub.md``) this policy is worth about a
third more points per second.

* :func:`gc.freeze` after start-up moves the registry, profiles, settings and
  imported modules to the permanent generation: full collections no longer
  walk them.
* The young threshold is raised from 700 to ``young_threshold`` allocations
  (a hub setting, ``gc_young_threshold``; ``0`` keeps CPython's default).
  Cycles are still collected, only less often: memory held by garbage cycles
  between collections grows by at most that many objects.

Only the ``citysense-hub`` process applies it (tests running the hub inside
pytest keep the interpreter's policy).
"""

from __future__ import annotations

import gc

DEFAULT_YOUNG_THRESHOLD = 50_000


def tune_gc(young_threshold: int = DEFAULT_YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Freeze what start-up allocated and raise the young-generation threshold; return the thresholds now."""
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)
    return gc.get_threshold()
