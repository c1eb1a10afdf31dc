"""The state folder, ``.hoodsync/``: what hoodsync keeps between runs beside a project (the
sandbox's database and secret plan key, the apply journals).

None of it belongs in git — the sandbox's plan key is a secret, and a CI job that commits what
changed (``git add -A``) would commit a database — so the folder ignores itself: when hoodsync
makes it, it writes a ``.gitignore`` holding ``*`` into it, as pytest and mypy do with their
caches. A folder that already exists is left as it is (whoever made it decides).

Nothing a user names is written into it (:func:`holding_folder`): a saved plan or a preview
written over the sandbox's database, its plan key or an interrupted apply's journal would
destroy what the next run, or the recovery of that apply, relies on.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["NAME", "IGNORE_FILE", "IGNORE_TEXT", "holding_folder", "make_folder"]

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


def holding_folder(path: Path) -> Path | None:
    """The state folder (a folder named :data:`NAME`) that is or holds ``path``, else ``None``.

    Looked for both in the path as written (made absolute, ``..`` folded) and with links
    resolved, so neither ``.hoodsync/../.hoodsync/x`` nor a link into the folder, nor a state
    folder that is itself a link elsewhere, slips through. Any project's state folder counts,
    not only the current one's."""
    for form in (Path(os.path.abspath(path)), path.resolve()):
        for folder in (form, *form.parents):
            if folder.name == NAME:
                return folder
    return None
