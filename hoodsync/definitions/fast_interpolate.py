"""The interpolation's fast pre-check: can a spec hold ``${`` at all?

:func:`hoodsync.definitions.interpolate.resolve` walks a spec only when this says it may: the
walk (the simple path, which decides) costs a Python call per node, and almost no spec holds
``${`` (every reference, malformed reference and escape of the grammar in
:mod:`~hoodsync.definitions.interpolate` does). It used to ask the JSON encoder; ``marshal``
answers the same question in about a fifth of the time (~4 µs for a large definition).

**Contract.** :func:`may_reference` returns False only when no string in ``spec`` (a key or a
value, at any depth) contains :data:`MARK`; True promises nothing (the walk then decides). It
holds because ``marshal`` writes every string it meets in full, as ASCII or UTF-8, the first
time it meets it (a later occurrence of the same object is a back-reference to it), so a
string holding the marker puts the marker's bytes into the output. Data marshal refuses (a
Mapping that is not a dict, a ``str`` subclass, nesting beyond its limit) is asked of the JSON
encoder, as before; data neither can write answers True. ``tests/test_perf_equivalence.py``
checks it on random data with shared objects, non-ASCII and long strings, str subclasses,
Mappings and tuples.
"""

from __future__ import annotations

import json
import marshal
from typing import Any

__all__ = ["MARK", "may_reference"]

#: What every reference, malformed reference and escape holds (``${env:X}``, ``${ENV:X}``,
#: ``$${env:X}``); the Hood API's own placeholders (``${OCMH_UTM_SOURCE}``) hold it too, and
#: cost only the walk that finds nothing in them.
MARK = "${"
_MARK_UTF8 = MARK.encode("utf-8")


def may_reference(spec: Any) -> bool:
    """False only when no string in ``spec`` contains :data:`MARK` (see the contract)."""
    try:
        return _MARK_UTF8 in marshal.dumps(spec)
    except ValueError:
        pass
    try:
        return MARK in json.dumps(spec, ensure_ascii=False)
    except (TypeError, ValueError):
        return True
