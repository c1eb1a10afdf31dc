"""JSON rendering: the ``Plan.to_dict()`` document itself, sorted keys, indent 2.

This is also the saved-plan format (``plan --out``); it holds no secrets (sensitive values are
masked in diffs and kept as ``${env:NAME}`` templates in step bodies). Printed, it is as safe
as the text plan: what a terminal or a CI runner would act on (``\x9b``, ``\u202e``, ``##[``)
is written as a JSON escape (:func:`hoodsync.terminal.json_safe`), the same value once read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hoodsync.terminal import json_safe

__all__ = ["render"]


def render(doc: Mapping[str, Any]) -> str:
    """The document as stable JSON text (sorted keys, indent 2, trailing newline)."""
    text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False)
    # Line by line: the line breaks between values are the only raw controls it holds.
    return "\n".join(map(json_safe, text.split("\n"))) + "\n"
