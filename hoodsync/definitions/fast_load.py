"""The loader's fast path: plain data for clean documents, without per-node bookkeeping.

The exact builder in :mod:`hoodsync.definitions.loader` pays, for every node, an alias check,
a JSON-path tuple and a ``Location``, and most of that is thrown away: locations are read only
to report a problem. Documents that cannot hold aliases (no anchor in the text, by
:func:`may_have_anchor`) take :func:`plain_data` instead: data only, with the document's
locations computed by the exact builder when first read (:class:`LazyLocations`).

**Contract.** :func:`plain_data` either returns exactly the data the exact builder would
return, for a document in which the exact builder finds no problem, or raises
:class:`Fallback`. Anything unusual (a duplicate key, a tag, a merge key, a bad scalar, too
deep) raises, and the loader builds that document again with the exact builder, which reports
the problem, so every problem and message is the exact builder's. The loader reaches this
module from one place; without it every document would take the exact builder, only slower.
``tests/test_perf_equivalence.py`` compares both on valid, invalid and corrupted YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hoodsync.model import JsonPath, Location

__all__ = ["Fallback", "LazyLocations", "may_have_anchor", "plain_data"]

_TAG = "tag:yaml.org,2002:"
_STR_TAG, _SEQ_TAG, _MAP_TAG = _TAG + "str", _TAG + "seq", _TAG + "map"

#: An anchor (``&name``) can only start a token: after a space, a line break, a flow indicator
#: or another indicator, never right after a letter, digit or URL character. Any other ``&``
#: counts as a possible anchor (e.g. "Tom & Jerry", which only costs the fast path); ``&``
#: inside URLs (``?a=1&b=2``) does not.
_NOT_BEFORE_ANCHOR = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=._~%+/)-"
)


def may_have_anchor(text: str) -> bool:
    """False only if ``text`` certainly defines no anchor (so its documents share no node)."""
    at = text.find("&")
    while at != -1:
        if at == 0 or text[at - 1] not in _NOT_BEFORE_ANCHOR:
            return True
        at = text.find("&", at + 1)
    return False


class Fallback(Exception):
    """The fast path met something only the exact builder handles."""


def plain_data(node: Node, max_depth: int, scalar: Callable[[ScalarNode], Any]) -> Any:
    """The data of the alias-free node tree ``node`` when it has no problem, typing non-string
    scalars with the loader's ``scalar``; else raise :class:`Fallback` (see the contract)."""
    return _build(node, 0, max_depth, scalar)


def _build(node: Node, depth: int, max_depth: int, scalar: Callable[[ScalarNode], Any]) -> Any:
    if depth > max_depth:
        raise Fallback
    cls = node.__class__
    if cls is ScalarNode:
        if node.tag == _STR_TAG:
            return node.value
        try:
            return scalar(node)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - the exact builder reports it
            raise Fallback from None
    if cls is MappingNode:
        if node.tag != _MAP_TAG:
            raise Fallback
        out: dict[str, Any] = {}
        inline = depth < max_depth  # a child scalar is within the depth limit
        for key_node, value_node in node.value:
            key = key_node.value
            if (
                key_node.__class__ is not ScalarNode
                or key_node.tag != _STR_TAG
                or key in out
                or (key == "<<" and not key_node.style)
            ):
                raise Fallback
            if inline and value_node.__class__ is ScalarNode and value_node.tag == _STR_TAG:
                out[key] = value_node.value  # the most common node, without a call
            else:
                out[key] = _build(value_node, depth + 1, max_depth, scalar)
        return out
    if cls is SequenceNode:
        if node.tag != _SEQ_TAG:
            raise Fallback
        return [_build(item, depth + 1, max_depth, scalar) for item in node.value]
    raise Fallback


class LazyLocations(Mapping[JsonPath, Location]):
    """A document's locations, computed by ``compute`` (the exact builder) when first read.

    Parsing again costs about a millisecond per document and happens only when a problem is
    reported.
    """

    __slots__ = ("_built", "_compute")

    def __init__(self, compute: Callable[[], dict[JsonPath, Location]]) -> None:
        self._compute = compute
        self._built: dict[JsonPath, Location] | None = None

    def _locations(self) -> dict[JsonPath, Location]:
        if self._built is None:
            self._built = self._compute()
        return self._built

    def __getitem__(self, path: JsonPath) -> Location:
        return self._locations()[path]

    def __iter__(self) -> Iterator[JsonPath]:
        return iter(self._locations())

    def __len__(self) -> int:
        return len(self._locations())
