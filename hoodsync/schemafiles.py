"""The JSON Schema files editors read, and the lines that point definition files at them.

An editor running yaml-language-server checks each YAML document against the schema named by a
``# yaml-language-server: $schema=PATH`` comment at the top of *that* document: in a file of
several documents, every document needs its own line (the server reads the line per document).
A relative PATH is resolved from the folder of the file, and a schema must be a file the editor
can read — the schemas' ``$id`` (``urn:hoodsync:schema:...``) names them but cannot be loaded.
So a repository keeps the schemas in a folder of its own (``hoodsync schema --write schemas``)
and every document points there with a relative path (:func:`schema_reference`).

The files written are the schemas shipped in the package, byte for byte (:func:`schema_text`).
This module does not touch the file system apart from reading what is already there
(:func:`schema_status`); ``hoodsync.export.write_schemas`` writes.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path, PurePath, PurePosixPath
from typing import Literal

from hoodsync.definitions.validate import SCHEMA_NAMES
from hoodsync.errors import ConfigError
from hoodsync.model import Kind

__all__ = [
    "MODELINE_PREFIX",
    "SCHEMA_FILES",
    "SchemaStatus",
    "modeline",
    "relative_folder",
    "schema_file",
    "schema_reference",
    "schema_status",
    "schema_text",
]

#: What starts a modeline; the schema's path follows.
MODELINE_PREFIX = "# yaml-language-server: $schema="

#: File name of each schema, by the name ``hoodsync schema`` accepts (``Campaign`` … ``config``),
#: in that command's order.
SCHEMA_FILES: Mapping[str, str] = {name: f"{stem}.json" for name, stem in SCHEMA_NAMES.items()}

#: ``missing``: no such file; ``current``: the one this hoodsync ships; ``stale``: another
#: version of the same hoodsync schema; ``foreign``: a file that is not that schema.
SchemaStatus = Literal["missing", "current", "stale", "foreign"]

#: What a modeline's path cannot hold (see :func:`schema_reference`).
_UNUSABLE = re.compile(r"[\s#]")


def schema_file(name: str | Kind) -> str:
    """The file name (``campaign.json``) of the schema called ``name``: a :class:`Kind`, or any
    name ``hoodsync schema`` accepts. Raises :class:`ConfigError` for an unknown name."""
    wanted = name.value if isinstance(name, Kind) else name
    for accepted, file in SCHEMA_FILES.items():
        if wanted in (accepted, accepted.lower(), file.removesuffix(".json"), file):
            return file
    raise ConfigError(f"unknown schema {wanted!r} (one of {', '.join(SCHEMA_FILES)})")


def schema_text(name: str | Kind) -> str:
    """The schema as shipped in the package, exactly (what ``--write`` puts in a repository)."""
    file = schema_file(name)
    return resources.files("hoodsync").joinpath("schemas", file).read_text(encoding="utf-8")


def schema_reference(
    file_dir: str | PurePath, schemas_dir: str | PurePath, name: str | Kind
) -> str:
    """The path, as a modeline states it, from a definition file in ``file_dir`` to the schema
    ``name`` in ``schemas_dir``: relative with ``/`` separators (``../../schemas/campaign.json``)
    when both folders are relative to one base or both absolute; ``schemas_dir`` itself when only
    it is absolute (absolute paths are resolved as they are).

    Raises :class:`ConfigError` when the path holds white space or ``#``: the language server
    reads the path up to the first space and takes ``#`` as the start of a fragment, so such a
    line would point elsewhere."""
    target = posixpath.join(_posix(schemas_dir), schema_file(name))
    start = _posix(file_dir)
    if posixpath.isabs(target) and not posixpath.isabs(start):
        reference = posixpath.normpath(target)
    elif posixpath.isabs(target) != posixpath.isabs(start):
        raise ValueError("schema_reference: give both folders relative to one base, or absolute")
    else:
        reference = _relative(target, start)
    if _UNUSABLE.search(reference):
        raise ConfigError(
            f"the schema path {reference!r} holds a space or '#', which an editor's schema line "
            "cannot: choose a schemas folder without them"
        )
    return reference


def modeline(reference: str) -> str:
    """The comment line that points an editor at the schema file ``reference``."""
    return MODELINE_PREFIX + reference


def schema_status(schemas_dir: str | Path, name: str | Kind) -> SchemaStatus:
    """What ``schemas_dir`` holds under the file name of schema ``name`` (a folder there, or a
    file that cannot be read as UTF-8 JSON, is ``foreign``)."""
    path = Path(schemas_dir) / schema_file(name)
    if not path.exists() and not path.is_symlink():
        return "missing"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "foreign"
    shipped = schema_text(name)
    if text == shipped:
        return "current"
    return "stale" if _schema_id(text) == _schema_id(shipped) else "foreign"


def _schema_id(text: str) -> object:
    """The ``$id`` of a JSON Schema document, ``None`` when ``text`` is not one."""
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    return loaded.get("$id") if isinstance(loaded, dict) else None


def _posix(path: str | PurePath) -> str:
    """``path`` with ``/`` separators (a Windows path keeps its drive)."""
    return PurePath(path).as_posix()


def _relative(target: str, start: str) -> str:
    """``target`` relative to the folder ``start``, computed on the text alone (no current
    directory involved, so leading ``..`` parts are kept as written)."""
    target_parts = PurePosixPath(posixpath.normpath(target)).parts
    start_parts = PurePosixPath(posixpath.normpath(start)).parts
    if start_parts == (".",):
        start_parts = ()
    common = 0
    for a, b in zip(target_parts, start_parts):
        if a != b:
            break
        common += 1
    if ".." in start_parts[common:]:
        # From below an unknown folder there is no way back down by name.
        raise ValueError(f"cannot express {target!r} relative to {start!r}")
    up = [".."] * (len(start_parts) - common)
    return "/".join(up + list(target_parts[common:])) or "."


def relative_folder(folder: str | Path, base: str | Path) -> str:
    """``folder`` relative to ``base`` with ``/`` separators, both taken from the current
    directory when relative; ``folder`` absolute when no relative path exists (another drive)."""
    try:
        return Path(os.path.relpath(Path(folder).absolute(), Path(base).absolute())).as_posix()
    except ValueError:
        return Path(folder).absolute().as_posix()
