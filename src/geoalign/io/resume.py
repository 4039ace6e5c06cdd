"""Resumable batch output: finished rows go to a sidecar file, the real output appears only at the end.

The sidecar (``OUTPUT.partial``) is JSON lines: a header line with a fingerprint of the job (input file
size and mtime, the options, the model) and the output columns, then one JSON array per finished row,
appended and fsynced chunk by chunk. Output rows map one-to-one onto input rows (error rows included),
so the number of complete lines is the number of input rows to skip on a rerun. A half-written last line
(a crash mid-write) is cut off. One sidecar format serves every output format, because Parquet and XLSX
cannot be appended to; the final file is written from it atomically, then the sidecar is removed.

When the final file is JSON lines, the sidecar's rows are written as the final file's lines already (one
JSON object per row, keyed by column), so finishing is a byte copy of the sidecar past its header. Decoding
every row and encoding it again took 0.16 s of a 19k-row `geoalign score` run's 4 s, on one core, after
the scoring had ended (0.01 s now).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from geoalign.errors import DataFormatError
from geoalign.io.atomic import atomic_path
from geoalign.io.writers import nested_json, write_table

PARTIAL_SUFFIX = ".partial"
_MAGIC = "geoalign_partial"


def input_fingerprint(path: str | Path, **options: Any) -> dict[str, Any]:
    """What must be unchanged for a resume to be valid: the input file's identity and the job options."""
    stat = Path(path).stat()
    return {
        "input": str(Path(path).resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "options": {k: options[k] for k in sorted(options)},
    }


class PartialOutput:
    """The sidecar of one output file. Use ``start`` once, ``append`` per chunk, ``finish`` at the end."""

    def __init__(
        self,
        output: str | Path,
        fingerprint: dict[str, Any],
        columns: Sequence[str],
        *,
        fmt: str | None = None,
        json_columns: Collection[str] = (),
    ) -> None:
        """``fmt``: the final file's format as the caller resolved it (None: ``write_table`` takes it from
        the suffix at ``finish``, and the sidecar holds arrays). ``json_columns``: as in ``write_table``;
        with ``fmt="jsonl"`` they are nested as each row is appended."""
        self.output = Path(output)
        self.path = self.output.with_name(self.output.name + PARTIAL_SUFFIX)
        self.fingerprint = fingerprint
        self.columns = list(columns)
        self.stale_reason: str | None = None
        self.fmt = fmt
        self.json_columns = json_columns
        #: the sidecar holds the final file's JSON lines ("objects") or one JSON array per row ("arrays")
        self.row_form = "objects" if fmt == "jsonl" else "arrays"
        self._nested = [i for i, name in enumerate(self.columns) if name in json_columns]

    def start(self, *, resume: bool = True) -> int:
        """Open the sidecar; return how many rows are already done (0 for a fresh start).

        A sidecar from another input or other options is not resumed: it is replaced, and
        ``stale_reason`` says why (the caller reports it; progress is never mixed across jobs).
        """
        done = self._done_rows() if resume else None
        if done is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {
                _MAGIC: 1,
                "fingerprint": self.fingerprint,
                "columns": self.columns,
                "rows": self.row_form,
            }
            with open(self.path, "w", encoding="utf-8") as out:
                out.write(json.dumps(header, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
            return 0
        return done

    def _done_rows(self) -> int | None:
        if not self.path.exists():
            return None
        with open(self.path, "rb") as handle:
            data = handle.read()
        first, _, body = data.partition(b"\n")
        try:
            header = json.loads(first)
        except ValueError:
            self.stale_reason = f"{self.path} has an unreadable header"
            return None
        if not isinstance(header, dict) or header.get(_MAGIC) != 1:
            self.stale_reason = f"{self.path} is not a geoalign partial file"
            return None
        if header.get("fingerprint") != self.fingerprint or header.get("columns") != self.columns:
            self.stale_reason = f"{self.path} belongs to another input or other options; starting over"
            return None
        if header.get("rows", "arrays") != self.row_form:
            self.stale_reason = f"{self.path} was written for another output format; starting over"
            return None
        complete = body.rfind(b"\n") + 1  # bytes of body in complete lines
        if complete < len(body):  # a crash left half a line: cut it off before appending
            with open(self.path, "rb+") as handle:
                handle.truncate(len(first) + 1 + complete)
        return body[:complete].count(b"\n")

    def append(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append finished rows durably (flush + fsync), so a crash loses at most the chunk in flight."""
        if self.row_form == "objects":
            text = "".join(self._line(row) for row in rows)
        else:
            text = "".join(json.dumps(list(row), ensure_ascii=False, default=str) + "\n" for row in rows)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())

    def _line(self, row: Sequence[Any]) -> str:
        """One row as the final JSON-lines file's line (what ``write_table`` writes for it)."""
        values = list(row)
        for i in self._nested:
            values[i] = nested_json(values[i])
        line = json.dumps(dict(zip(self.columns, values, strict=True)), ensure_ascii=False, default=str)
        return line + "\n"

    def rows(self) -> Iterator[list[Any]]:
        """The finished rows, as lists in column order (a row of an "objects" sidecar has its
        ``json_columns`` nested already)."""
        with open(self.path, encoding="utf-8") as handle:
            next(handle)
            for n, line in enumerate(handle, start=2):
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise DataFormatError(f"{self.path}:{n}: corrupt partial row ({exc})") from exc
                yield [row[c] for c in self.columns] if isinstance(row, dict) else row

    def finish(self) -> None:
        """Write the final output atomically from the sidecar, then remove the sidecar."""
        if self.row_form == "objects":
            with atomic_path(self.output) as tmp, open(self.path, "rb") as source, open(tmp, "wb") as out:
                source.readline()  # the header
                shutil.copyfileobj(source, out, 1 << 20)
        else:
            write_table(self.output, self.columns, self.rows(), self.fmt, json_columns=self.json_columns)
        self.path.unlink()
