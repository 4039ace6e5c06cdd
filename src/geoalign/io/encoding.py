"""Which text encoding a table file uses, and reading it without ever inventing characters.

Chinese tables come in three encodings in practice: UTF-8 (with a BOM when Excel wrote it), GB18030/GBK
(Excel's default "CSV" on a Chinese Windows) and UTF-16 with a BOM (Excel's "Unicode text"). The rule:

1. a byte-order mark decides (UTF-8-sig, UTF-16, UTF-32);
2. else a strict UTF-8 trial on the start of the file (skipping any pure-ASCII prefix, which every
   candidate decodes alike); UTF-8 goes first because GB18030 accepts most UTF-8 byte sequences as
   (wrong) characters, while GBK text is almost never valid UTF-8;
3. else a strict GB18030 trial (a superset of GBK and GB2312);
4. else an error naming the byte offset and line, asking for ``--encoding``.

A strict trial is all that is needed here: the candidates are few and fixed, and a statistical detector
(charset-normalizer, chardet) would add a dependency to answer the same question less predictably.

An explicit encoding gets the same strict trial, so a wrong ``--encoding`` is one clear error instead of
a file of mojibake. Bytes that still fail later in a file (a corrupt region past the trial window) are
decoded to marker code points (U+DC00 + byte, lone surrogates no decoder produces), so the reader can
flag exactly those rows (``bad_encoding``) and show the bytes as ``\\xNN`` rather than U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from geoalign.errors import InputError

#: Error handler name for reading: undecodable bytes become U+DC00 + byte (see module docstring).
MARK_ERRORS = "geoalign.mark"

#: How much non-ASCII content the detection and the explicit-encoding check decode strictly.
SAMPLE_BYTES = 1 << 20
#: A pure-ASCII prefix longer than this is taken as UTF-8 without reading further.
ASCII_SCAN_LIMIT = 256 << 20
_CHUNK = 1 << 16
#: Bad spots per sampled byte that still read as a damaged row or two, not as the wrong encoding: a
#: wrong guess fails on nearly every character (GBK as UTF-8) or at every ASCII character after an odd
#: number of CJK characters (UTF-8 as GB18030).
TOLERATED_BAD_FRACTION = 0.001

#: Byte-order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Tried in this order when the file has no byte-order mark.
CANDIDATES: tuple[str, ...] = ("utf-8", "gb18030")

_MARKED = re.compile("[\udc00-\udcff]")


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(MARK_ERRORS, _mark)


def has_marks(text: str) -> bool:
    """Whether ``text`` holds bytes that could not be decoded (marked by :data:`MARK_ERRORS`)."""
    return _MARKED.search(text) is not None


def show_marks(text: str) -> str:
    """``text`` with each undecodable byte written as ``\\xNN`` (visible, never U+FFFD)."""
    return _MARKED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def canonical(encoding: str) -> str:
    """The codec's canonical name (``GBK`` -> ``gbk``, ``utf8`` -> ``utf-8``); unknown -> InputError."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r} (e.g. utf-8, gb18030, gbk, utf-16, big5)") from None
    # a UTF-8 file from Excel starts with a BOM; "utf-8" must not leave it in the first column name
    return "utf-8-sig" if name == "utf-8" else name


def _family(encoding: str) -> str:
    """``utf-8`` / ``utf-16`` / ``utf-32`` for the Unicode encodings (any byte order, BOM or not)."""
    name = encoding.replace("_", "-").lower()
    for family in ("utf-8", "utf-16", "utf-32"):
        if name.startswith(family):
            return family
    return name


def display(encoding: str) -> str:
    """The name to show users: ``utf-8-sig`` (UTF-8 that may start with a BOM) is just UTF-8."""
    return "utf-8" if encoding == "utf-8-sig" else encoding


def _bom(path: Path) -> str | None:
    with open(path, "rb") as handle:
        head = handle.read(4)
    for mark, name in _BOMS:
        if head.startswith(mark):
            return name
    return None


def _line_of(path: Path, offset: int) -> int:
    """The 1-based line holding byte ``offset`` (counted in newline bytes; close enough for UTF-16)."""
    with open(path, "rb") as handle:
        return handle.read(offset).count(b"\n") + 1


def _ascii_compatible(encoding: str) -> bool:
    return "\n,\t".encode(encoding) == b"\n,\t"


@dataclass(frozen=True, slots=True)
class Trial:
    """How one encoding fared on the sampled bytes: where it first failed and how many bad spots."""

    encoding: str
    first_bad: int | None
    bad: int
    sampled: int

    @property
    def clean(self) -> bool:
        return self.bad == 0

    def tolerable(self, at_least: int = 0) -> bool:
        """A few corrupt spots (a damaged row) rather than the wrong encoding (errors everywhere)."""
        return self.bad <= max(at_least, int(self.sampled * TOLERATED_BAD_FRACTION))


def _sample(path: Path, ascii_compatible: bool) -> tuple[int, bytes, bool]:
    """(offset of the sample, the sample, whether it reaches the end of the file). A pure-ASCII
    prefix is skipped when every candidate is ASCII-compatible: they all decode it alike."""
    offset = 0
    with open(path, "rb") as handle:
        while ascii_compatible and offset < ASCII_SCAN_LIMIT:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return offset, b"", True
            if not chunk.isascii():
                rest = handle.read(SAMPLE_BYTES - len(chunk))
                return offset, chunk + rest, len(handle.read(1)) == 0
            offset += len(chunk)
        data = handle.read(SAMPLE_BYTES)
        return offset, data, len(handle.read(1)) == 0


def _try(encoding: str, data: bytes, offset: int, final: bool) -> Trial:
    """Strictly decode ``data``, restarting after each bad spot, up to the tolerance."""
    view = memoryview(data)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    first: int | None = None
    bad = pos = 0
    last_end = -1
    limit = max(1, int(len(data) * TOLERATED_BAD_FRACTION))
    while pos < len(data) and bad <= limit:
        try:
            decoder.decode(view[pos:], final)
            break
        except UnicodeDecodeError as exc:
            start = pos + exc.start
            if start != last_end:  # adjacent bad bytes are one damaged spot
                bad += 1
            first = offset + start if first is None else first
            pos += max(exc.end, exc.start + 1)
            last_end = pos
            decoder.reset()
    return Trial(encoding, first, bad, len(data))


def _trial(path: Path, encodings: tuple[str, ...]) -> list[Trial]:
    """Each encoding's trial on the start of the file (see :func:`_sample`)."""
    offset, data, final = _sample(path, all(_ascii_compatible(enc) for enc in encodings))
    return [_try(enc, data, offset, final) for enc in encodings]


def _describe(trial: Trial, path: Path) -> str:
    assert trial.first_bad is not None
    return f"byte {trial.first_bad} (line {_line_of(path, trial.first_bad)})"


def detect_encoding(path: str | Path, explicit: str | None = None) -> str:
    """The encoding to read ``path`` with: ``explicit`` (checked) or detected (see the module docstring).

    Raises InputError when the explicit encoding does not decode the file's start, or when no
    candidate does, naming the encoding, the byte offset and the line.
    """
    source = Path(path)
    bom = _bom(source)
    if explicit:
        encoding = canonical(explicit)
        if bom is not None and _family(bom) != _family(encoding):
            raise InputError(
                f"{path}: --encoding {explicit}, but the file starts with a {_family(bom).upper()} "
                "byte-order mark (leave --encoding out to use it)"
            )
        (trial,) = _trial(source, (encoding,))
        if not trial.tolerable():
            raise InputError(
                f"{path}: not {explicit}: cannot decode {_describe(trial, source)}; "
                f"check --encoding (common: utf-8, gb18030, utf-16)"
            )
        return encoding
    if bom is not None:
        return bom
    trials = _trial(source, CANDIDATES)
    # UTF-8 first: GB18030 decodes much UTF-8 text into wrong characters, never the other way round
    chosen = next((t for t in trials if t.clean), None)
    if chosen is None:
        # a damaged row or two in an otherwise good file: read it, those rows are flagged bad_encoding
        fewest = min(trials, key=lambda t: t.bad)
        chosen = fewest if fewest.tolerable(at_least=1) else None
    if chosen is None:
        where = "; ".join(f"not {t.encoding}: {_describe(t, source)}" for t in trials)
        raise InputError(f"{path}: cannot tell the text encoding ({where}); give it with --encoding")
    return "utf-8-sig" if chosen.encoding == "utf-8" else chosen.encoding


__all__ = [
    "CANDIDATES",
    "MARK_ERRORS",
    "canonical",
    "detect_encoding",
    "display",
    "has_marks",
    "show_marks",
]
