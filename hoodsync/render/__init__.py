"""Plan renderers. Each takes only the ``Plan.to_dict()`` document: ``render(doc, **opts) -> str``.

``RENDERERS`` maps the CLI's ``--format`` values to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hoodsync.render import json as json_render
from hoodsync.render import markdown, text

__all__ = ["RENDERERS", "render"]

RENDERERS: Mapping[str, Callable[..., str]] = {
    "text": text.render,
    "json": json_render.render,
    "markdown": markdown.render,
}


def render(doc: Mapping[str, Any], fmt: str = "text", **opts: Any) -> str:
    """Render ``doc`` in ``fmt`` (``text``, ``json`` or ``markdown``); ``opts`` go to the
    renderer (``color=`` for text, ``max_chars=`` and ``refusal=`` for markdown; several
    accounts in one comment: :func:`hoodsync.render.markdown.render_accounts`)."""
    try:
        fn = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose text, json or markdown") from None
    return fn(doc, **opts)
