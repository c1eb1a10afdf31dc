"""JSON rendering: the ``Plan.to_dict()`` document itself, sorted keys, indent 2.

This is also the saved-plan format (``plan --out``); it holds no secrets (sensitive values are
masked in diffs and kept as ``${env:NAME}`` templates in step bodies).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["render"]


def render(doc: Mapping[str, Any]) -> str:
    """The document as stable JSON text (sorted keys, indent 2, trailing newline)."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
