"""Garbage-collector settings for a server that holds thousands of live connections.

CPython's cyclic collector runs a young collection every 700 allocations and walks older
generations from there; with thousands of chargers connected the heap holds millions of
long-lived objects (sockets, protocol and consumer state), and a reconnect storm allocates fast,
so collections that find almost nothing took about a third of the process's time in a storm
(py-spy with --gil: the samples landed on trivial allocating lines, a namedtuple's __new__, a list
comprehension, a list.append). Collecting young objects every 1,000,000 allocations (net of
those freed) instead, and moving everything made at start-up out of the collector's sight
(gc.freeze), keeps collections out of most of a storm: a 3,000-charger storm needs none, a
5,000-charger one one (docs/decisions/0018-gc-tuning.md).

OCPP_GC_THRESHOLD ("gen0,gen1,gen2"; empty: these defaults, "python": CPython's own) overrides it.
"""
import gc
import os

DEFAULT = (1_000_000, 20, 100)


def thresholds(text):
    text = text.strip()
    if not text:
        return DEFAULT
    if text == "python":
        return None
    parts = tuple(int(part) for part in text.split(","))
    if len(parts) != 3 or min(parts) < 1:
        raise ValueError(f"OCPP_GC_THRESHOLD must be three positive numbers like 1000000,20,100 (or 'python'), not {text!r}")
    return parts


def install():
    """Call once the application is loaded: what exists then lives as long as the process."""
    chosen = thresholds(os.environ.get("OCPP_GC_THRESHOLD", ""))
    if chosen is None:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*chosen)
