"""Checks on output paths before a job starts: a long job must not fail (or destroy its input) at the end.

Writing goes through a temporary file and a rename (``geoalign.io.atomic``), so an output that is the
input file would silently replace it, and an XLSX input would lose its other sheets. The output is
compared with each input by resolved path (symlinks, ``..``) and, when it exists, by file identity
(``os.path.samefile``: hard links, bind mounts). A directory that cannot be written to is found by
creating and removing a temporary file there, which also gives the right answer for root and for
read-only mounts, where permission bits alone would not.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from geoalign.errors import InputError


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (after symlinks, or the same inode when both exist)."""
    pa, pb = Path(a), Path(b)
    if pa.resolve() == pb.resolve():
        return True
    try:
        return os.path.samefile(pa, pb)
    except OSError:  # one of them does not exist (yet): then they are different files
        return False


def _nearest_existing(directory: Path) -> Path:
    current = directory.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_writable(output: str | Path, option: str = "-o/--output") -> None:
    """InputError unless ``output`` can be created or replaced: not a directory, and its directory
    exists (or can be created) and accepts new files."""
    target = Path(output)
    if target.is_dir():
        raise InputError(f"{option} {str(output)!r} is a directory; give a file name")
    directory = target.parent if str(target.parent) else Path(".")
    existing = _nearest_existing(directory)
    if not existing.is_dir():
        raise InputError(f"{option} {str(output)!r}: {str(existing)!r} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=existing)
    except OSError as exc:
        raise InputError(
            f"{option} {str(output)!r}: cannot write in {str(existing)!r} ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_output(
    output: str | Path | None,
    inputs: Iterable[str | Path | None],
    option: str = "-o/--output",
) -> None:
    """Refuse an output that is one of the ``inputs`` (None entries are skipped), or that cannot be
    written; call before any work is done."""
    if output is None:
        return
    for source in inputs:
        if source is not None and same_file(output, source):
            raise InputError(
                f"{option} {str(output)!r} is the input file {str(source)!r}; writing it would replace "
                "the input: choose another output file"
            )
    check_writable(output, option)


__all__ = ["check_output", "check_writable", "same_file"]
