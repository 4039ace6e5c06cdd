"""Split a Chinese address into elements of the NAACL-2019 / CCKS-2021 scheme (public API).

``parse(text)`` returns ``types.Components``: every component carries its character offsets into the
*original* input (``raw[start:end] == text``, no overlaps, left to right) and a normalized ``value``:
for the number elements (road number, building, unit, floor, room) the number itself — ``三号楼`` → ``3``,
``969号`` → ``969``, ``B座`` → ``B`` — otherwise the width-folded (NFKC) text. ``Components.normalized``
is ``geoalign.address.normalize.normalize(raw)``, the text the embedded matcher compares.

The elements come from a CRF tagger trained on the NAACL-2019 data (see ``models/parser/MODEL_CARD.md``
for what it was trained on and how well it does). The model is loaded once, lazily, per thread.

Only the first ``MAX_TAG_CHARS`` characters are tagged: real addresses are far shorter, and a bound keeps
a pathological 100,000-character input from costing seconds. Characters after that get no component.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from geoalign.address.normalize import normalize, upper, width
from geoalign.address.numerals import NUMERAL_RUN, chinese_to_int
from geoalign.address.tagger import FEATURE_VERSION, CrfTagger
from geoalign.errors import InputError, ModelLoadError
from geoalign.types import Component, Components, ItemError

#: Longest prefix of an input that is tagged (see the module docstring).
MAX_TAG_CHARS: Final[int] = 512

#: Elements whose value is a number (or a building letter), used by matchers as hard evidence.
NUMERIC_ELEMENTS: Final[frozenset[str]] = frozenset(
    {"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno"}
)

#: The shipped model directory: ``parser.json`` (which CRFsuite files, which feature version) and the
#: model files it names. Pass another directory to ``Parser`` to use another model.
DEFAULT_MODEL_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "models" / "parser"

_ALNUM_RUN = re.compile(r"[0-9]+|[A-Z]+")


def numeric_value(text: str) -> str:
    """The number (or building letter) inside a number element's text.

    ``969号`` → ``969``; ``三号楼`` → ``3``; ``二十三层`` → ``23``; ``B座`` → ``B``; ``12-3`` → ``12-3``;
    ``0501室`` → ``501`` (leading zeros carry no meaning for matching). Chinese numerals are converted
    only when a whole run of numeral characters is a valid number. Text with no number at all (``顶楼``)
    keeps its width-folded form, so the value is never empty.
    """
    folded = upper(width(text))
    folded = NUMERAL_RUN.sub(lambda m: _numeral_or_self(m.group(0)), folded)
    runs = _ALNUM_RUN.findall(folded)
    if not runs:
        return folded
    return "-".join(run.lstrip("0") or "0" if run.isdigit() else run for run in runs)


def _numeral_or_self(run: str) -> str:
    value = chinese_to_int(run)
    return run if value is None else str(value)


def _check(text: Any) -> str:
    if text is None:
        raise InputError("address is missing (None)")
    if not isinstance(text, str):
        raise InputError(f"address must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError("address is empty or whitespace only")
    return text


def load_tagger(model_dir: str | Path) -> CrfTagger:
    """Open the CRF stage(s) a model directory's ``parser.json`` names; ModelLoadError if unusable."""
    model_dir = Path(model_dir)
    manifest_path = model_dir / "parser.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        stages = manifest["stages"]
        version = manifest["feature_version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{manifest_path}: not a parser model manifest ({exc})") from exc
    if version != FEATURE_VERSION:
        raise ModelLoadError(
            f"{model_dir}: model was trained with parser features v{version}, this code computes "
            f"v{FEATURE_VERSION}; retrain it with scripts/train_parser.py"
        )
    if not isinstance(stages, list) or len(stages) not in (1, 2):
        raise ModelLoadError(f"{manifest_path}: 'stages' must list one or two model files")
    return CrfTagger(model_dir / stages[0], model_dir / stages[1] if len(stages) == 2 else None)


class Parser:
    """A parser bound to one model directory. ``parse``/``parse_many`` below use the shipped one."""

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR) -> None:
        self.model_dir = Path(model_dir)
        self._local = threading.local()

    def _tagger(self) -> CrfTagger:
        tagger: CrfTagger | None = getattr(self._local, "tagger", None)
        if tagger is None:
            tagger = load_tagger(self.model_dir)
            self._local.tagger = tagger
        return tagger

    def parse(self, text: str) -> Components:
        """Components of one address.

        InputError for None, non-str, empty or whitespace-only input, and for input the normalizer
        finds nothing in (only punctuation or a phone number): there is no address to split.
        """
        raw = _check(text)
        spans = self._tagger().spans(raw[:MAX_TAG_CHARS])
        items = []
        for name, start, end in spans:
            piece = raw[start:end]
            value = numeric_value(piece) if name in NUMERIC_ELEMENTS else width(piece)
            items.append(Component(name, piece, start, end, value))
        return Components(raw=raw, normalized=normalize(raw), items=tuple(items))

    def parse_many(self, texts: Iterable[Any]) -> list[Components | ItemError]:
        """Parse many addresses; a bad one gets an ItemError in its slot, never failing the rest."""
        out: list[Components | ItemError] = []
        for text in texts:
            try:
                out.append(self.parse(text))
            except InputError as exc:
                out.append(ItemError(exc.code, str(exc)))
        return out


_default: Parser | None = None
_default_lock = threading.Lock()


def default_parser() -> Parser:
    """The process-wide parser on the shipped model (created at first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Parser()
    return _default


def parse(text: str) -> Components:
    """Components of one address with the shipped model; see the module docstring."""
    return default_parser().parse(text)


def parse_many(texts: Sequence[Any] | Iterable[Any]) -> list[Components | ItemError]:
    """Parse many addresses with the shipped model; bad items become ItemError in their slot."""
    return default_parser().parse_many(texts)
