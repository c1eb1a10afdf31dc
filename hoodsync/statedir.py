"""The state folder, ``.hoodsync/``: what hoodsync keeps between runs beside a project (the
sandbox's database and secret plan key, the apply journals).

None of it belongs in git — the sandbox's plan key is a secret, and a CI job that commits what
changed (``git add -A``) would commit a database — so the folder ignores itself: when hoodsync
makes it, it writes a ``.gitignore`` holding ``*`` into it, as pytest and mypy do with their
caches. A folder that already exists is left as it is (whoever made it decides).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["NAME", "IGNORE_FILE", "IGNORE_TEXT", "make_folder"]

#: The state folder's name.
NAME = ".hoodsync"
IGNORE_FILE = ".gitignore"
IGNORE_TEXT = (
    "# Made by hoodsync: local state (a sandbox, journals, a secret key), never for git.\n*\n"
)


def make_folder(folder: Path) -> None:
    """Make ``folder`` and its parents where missing (like ``mkdir -p``). A state folder made
    on the way (one named :data:`NAME`) gets its ``.gitignore``. Raises :class:`OSError` as
    ``mkdir`` does; a ``.gitignore`` that cannot be written is not an error (the state is
    still kept)."""
    made = [p for p in (folder, *folder.parents) if p.name == NAME and not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for state in made:
        with contextlib.suppress(OSError):
            (state / IGNORE_FILE).write_text(IGNORE_TEXT, encoding="utf-8")
