"""The Python API: ``geoalign.match(a, b)`` for one pair, ``Matcher`` for batches.

``Matcher.score`` has the shape of sentence-transformers' ``CrossEncoder.predict``: a list of pairs in,
one result per pair out (``Match``, or ``ItemError`` for a pair that could not be scored), in batches,
with an optional progress bar; a pandas or polars DataFrame in, the same kind of DataFrame out
(``geoalign.frames``). The default judge is shipped with the package; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from geoalign.collector import paced
from geoalign.errors import InputError
from geoalign.types import LABELS, AddressPair, ItemError, Match, Result, Scorer

if TYPE_CHECKING:
    from geoalign.scorers.spec import ScorerSpec

PairLike = AddressPair | tuple[Any, Any] | list[Any] | dict[str, Any]


def as_pair(item: PairLike) -> AddressPair:
    """An AddressPair from a pair, a 2-tuple/list or a ``{"a": ..., "b": ...}`` mapping."""
    if isinstance(item, AddressPair):
        return item
    if isinstance(item, dict):
        if "a" not in item or "b" not in item:
            raise InputError(f"a pair mapping needs keys 'a' and 'b', got {sorted(item)}")
        return AddressPair(item["a"], item["b"])
    if isinstance(item, tuple | list) and len(item) == 2:
        return AddressPair(item[0], item[1])
    raise InputError(f"not an address pair: {item!r} (use (a, b), {{'a':..,'b':..}} or AddressPair)")


class Matcher:
    """Scores address pairs in batches with one scorer; the Python face of ``geoalign match/score``.

    Which scorer (the same rules as the CLI's ``--scorer`` / ``--model``, through one
    :class:`~geoalign.scorers.spec.ScorerSpec`):

    * ``Matcher()``: the default judge, ``cascade``: the embedded structured matcher decides the pairs it
      is sure of, geoalign's shipped neural matcher (ONNX, no torch) the rest, under the address rule
      layer. Everything ships in the package; nothing is downloaded.
    * ``Matcher("structured")``: the embedded matcher alone (normalize, parse, compare components), the
      fastest path.
    * ``Matcher(model=DIR)``: the scorer is picked from what ``DIR`` holds (directory detection, as
      ``--model DIR``): a structured model (``model.json``) -> ``structured``; a ``geoalign export``
      directory (export manifest) -> ``onnx`` (onnxruntime, no torch); otherwise a ModelScope /
      Hugging Face checkpoint -> ``torch``. A missing directory is an ``InputError`` that says so.
    * ``Matcher("onnx", DIR)`` / ``Matcher(scorer="torch", model=DIR)``: a named scorer; the registered
      names are ``structured``, ``torch``, ``onnx`` and ``cascade`` (structured first, the neural
      ``model`` for the pairs it is unsure of).
    * ``Matcher(spec)`` with a ``ScorerSpec``, or ``Matcher(scorer_object)`` with any object that
      follows the ``Scorer`` protocol.

    Options (keyword arguments, the CLI's flags without dashes): ``device`` (``cpu`` / ``cuda[:N]``),
    ``provider`` (onnx: ``auto``, ``cpu``, ``cuda``, ...), ``variant`` (torch dtype ``fp32`` / ``bf16`` /
    ``fp16`` / ``auto``; onnx graph ``fp32`` / ``fused`` / ``int8`` / ``fp16``), ``threads``,
    ``max_tokens``, ``max_batch``, ``compile`` (torch), ``max_chars`` (the length limit, default 256
    characters: a longer address is scored on its first ``max_chars`` characters and flagged in
    ``explanation.truncated``), ``parse_cache`` (parsed addresses kept in memory, default 50,000),
    ``explain`` (per-component explanations, default on), ``rules`` (the address rule layer, default
    on), ``structured_model`` and ``cascade_threshold`` (cascade). An option that does not apply to the
    chosen scorer is an error. ``batch_size`` is how many pairs :meth:`score` hands the scorer at once.

    ``repr(matcher)`` names the scorer, the model directory (``shipped`` for the packaged ones) and the
    model id that results carry.
    """

    def __init__(
        self,
        scorer: str | ScorerSpec | Scorer | None = None,
        model: str | Path | None = None,
        *,
        batch_size: int = 2048,
        **options: Any,
    ) -> None:
        from geoalign.scorers.spec import ScorerSpec

        if batch_size < 1:
            raise InputError("batch_size must be >= 1")
        self.spec: ScorerSpec | None
        if scorer is None or isinstance(scorer, str):
            names = {f.name for f in dataclasses.fields(ScorerSpec)} - {"scorer", "model"}
            unknown = sorted(set(options) - names)
            if unknown:
                raise InputError(f"unknown Matcher option(s) {unknown}; known: {', '.join(sorted(names))}")
            self.spec = ScorerSpec(scorer=scorer, model=None if model is None else str(model), **options)
            self.scorer: Scorer = self.spec.build()
        elif isinstance(scorer, ScorerSpec):
            if model is not None or options:
                raise InputError("give options inside the ScorerSpec, not beside it")
            self.spec = scorer
            self.scorer = scorer.build()
        else:
            if model is not None or options:
                raise InputError("a ready scorer object takes no model or options")
            self.spec = None
            self.scorer = scorer
        self.batch_size = batch_size

    def __repr__(self) -> str:
        model = self.spec.model if self.spec is not None and self.spec.model is not None else "shipped"
        return (
            f"Matcher(scorer={self.scorer.name!r}, model={str(model)!r}, model_id={self.model_id!r}, "
            f"batch_size={self.batch_size})"
        )

    @property
    def model_id(self) -> str:
        return self.scorer.model_id

    @overload
    def score(
        self,
        pairs: Iterable[PairLike],
        batch_size: int | None = None,
        show_progress: bool = False,
        *,
        a: None = None,
        b: None = None,
    ) -> list[Result]: ...

    @overload
    def score(
        self,
        pairs: Any,
        batch_size: int | None = None,
        show_progress: bool = False,
        *,
        a: str | None = None,
        b: str | None = None,
    ) -> Any: ...

    def score(
        self,
        pairs: Any,
        batch_size: int | None = None,
        show_progress: bool = False,
        *,
        a: str | None = None,
        b: str | None = None,
    ) -> Any:
        """One result per pair, in order. A bad pair gets an ItemError in its slot; the rest are scored.

        ``pairs`` may be a pandas or polars DataFrame: the pair is its first two columns, or the columns
        named ``a`` and ``b``; the answer is a DataFrame of the same library with the input columns
        followed by ``label``, ``p_exact_match``, ``p_partial_match``, ``p_not_match`` and ``error``
        (``{"code", "message"}`` on rows that could not be scored: None, NaN, not text). No row is
        dropped.
        """
        from geoalign.frames import frame_kind

        if frame_kind(pairs) is not None:
            from geoalign.frames import check_room, pairs_of, with_results

            check_room(pairs)
            # the frame holds no explanation: none is built (~8 % of the embedded matcher's time)
            results = self._score(pairs_of(pairs, a, b), batch_size, show_progress, explain=False)
            return with_results(pairs, results)
        if a is not None or b is not None:
            raise InputError("a= and b= name DataFrame columns; give a pandas or polars DataFrame")
        return self._score([as_pair(p) for p in pairs], batch_size, show_progress)

    def _score(
        self,
        items: list[AddressPair],
        batch_size: int | None,
        show_progress: bool,
        explain: bool | None = None,
    ) -> list[Result]:
        """``explain``: build explanations for this call (True / False) or leave it to the scorer (None)."""
        size = batch_size or self.batch_size
        results: list[Result] = []
        bar = None
        if show_progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), unit="pairs", file=sys.stderr)
        try:
            with paced():  # the collector's passes over cached parses: ~20 % of a long run (collector.py)
                for start in range(0, len(items), size):
                    chunk = items[start : start + size]
                    results.extend(self._score_chunk(chunk, explain))
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        return results

    def _score_chunk(self, chunk: list[AddressPair], explain: bool | None) -> list[Result]:
        if explain is None:
            return self.scorer.score(chunk)
        # the per-call switch travels with each item, as in the engine
        return self.scorer.finish(self.scorer.run(self.scorer.prepare(chunk).explaining(explain)))

    def predict(
        self,
        pairs: Any,
        batch_size: int | None = None,
        show_progress: bool = False,
        *,
        a: str | None = None,
        b: str | None = None,
    ) -> np.ndarray:
        """Probabilities as an array of shape (n, 3) in ``LABELS`` order; NaN rows for unusable pairs.
        ``pairs`` as :meth:`score` takes them (a DataFrame too, with ``a``/``b`` naming its columns)."""
        from geoalign.frames import frame_kind, pairs_of

        items = pairs_of(pairs, a, b) if frame_kind(pairs) is not None else [as_pair(p) for p in pairs]
        results = self._score(items, batch_size, show_progress, explain=False)  # probabilities only
        out = np.full((len(results), len(LABELS)), np.nan)
        for i, result in enumerate(results):
            if isinstance(result, Match):
                out[i] = [result.probabilities[name] for name in LABELS]
        return out

    def match(self, a: Any, b: Any) -> Match:
        """Compare one pair; an unusable address is an InputError (there is no slot to put it in)."""
        result = self.scorer.score([AddressPair(a, b)])[0]
        if isinstance(result, ItemError):
            raise InputError(f"{result.code}: {result.message}")
        return result

    def link(
        self,
        left: Any,
        right: Any,
        *,
        on: str | None = None,
        left_on: str | None = None,
        right_on: str | None = None,
        left_id: str | None = None,
        right_id: str | None = None,
        explain: bool = False,
        **options: Any,
    ) -> Any:
        """The best record of ``right`` for each record of ``left``, judged by this matcher, as
        ``geoalign link`` finds it (rule blocking, the judge both ways, the same-place threshold).

        ``left`` and ``right`` are pandas or polars DataFrames with an address column (``on``, or
        ``left_on`` / ``right_on``; unnamed, the column called address, 地址, 详细地址, 收货地址 or
        another usual name: ``geoalign.link.tables.ADDRESS_COLUMN_NAMES``) and optionally an id
        column (``left_id`` / ``right_id``; else the
        pandas index label or the polars row position). The answer is ``left`` with ``status``
        (``match`` / ``no_match`` / ``no_candidate`` / ``error``), ``right_id``, ``right_address``, the
        label and probabilities, ``same_place`` and the rest of ``geoalign.link.frames.LINK_COLUMNS``
        appended (``explanation`` too with ``explain=True``); no row is dropped, an unusable address is
        an ``error`` row. Lists of ``(id, address)`` records give lists of dicts. ``options``: the
        CLI's link flags without dashes (``threshold``, ``ann=True`` for learned retrieval beside the
        rule blocks, ``max_candidates``, ``rules`` …). In memory, in this process: the CLI streams and
        resumes tables that do not fit."""
        from geoalign.link.frames import link_table

        with paced():
            return link_table(
                self.scorer,
                left,
                right,
                on=on,
                left_on=left_on,
                right_on=right_on,
                left_id=left_id,
                right_id=right_id,
                explain=explain,
                **options,
            )

    def dedupe(
        self,
        records: Any,
        *,
        on: str | None = None,
        id: str | None = None,
        explain: bool = False,
        **options: Any,
    ) -> Any:
        """Same-place clusters of ``records`` (a pandas or polars DataFrame, or ``(id, address)``
        records), judged by this matcher as ``geoalign dedupe`` does: the frame with ``cluster_id`` (the
        id of the cluster's first record, as given), ``cluster_size``, ``status`` and ``error`` appended.
        ``on``, ``id`` and ``options`` as in :meth:`link` (``same_detail``, ``max_cluster_size`` …)."""
        from geoalign.link.frames import dedupe_table

        with paced():
            return dedupe_table(self.scorer, records, on=on, id=id, explain=explain, **options)

    def warmup(self) -> None:
        self.scorer.warmup()


_default: Matcher | None = None
_default_lock = threading.Lock()


def default_matcher() -> Matcher:
    """The process-wide embedded matcher, loaded at first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Matcher()
    return _default


def match(a: Any, b: Any) -> Match:
    """Compare two addresses with the default judge (``Matcher()``): label, probabilities and an
    explanation."""
    return default_matcher().match(a, b)


__all__ = ["Matcher", "as_pair", "default_matcher", "match"]
