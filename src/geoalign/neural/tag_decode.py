"""Constrained Viterbi decoding of the neural tagger's per-character scores into well-formed spans.

The model's log-probabilities are the emissions; transitions are all zero except the forbidden ones
(``I-x`` only after ``B-x``/``I-x``, never first), and labels outside the domain's element set are
forbidden too. So the decode is the most probable *well-formed* BIO sequence of the domain's labels —
the linear tagger's batched Viterbi (``chartagger.viterbi_batch``) over these scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from geoalign.address.chartagger import Span, force_rows, spans_from_labels, viterbi_batch
from geoalign.neural.tag_data import LABEL_INDEX, LABELS, domain_label_mask

_NEG = np.float32(-1e9)


def bio_constraints(labels: Sequence[str] = LABELS) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(allowed transitions from->to, allowed first labels): I-x only after B-x or I-x."""
    n = len(labels)
    trans = np.ones((n, n), dtype=bool)
    first = np.ones(n, dtype=bool)
    for j, lab in enumerate(labels):
        if lab.startswith("I-"):
            first[j] = False
            for i, prev in enumerate(labels):
                trans[i, j] = prev[2:] == lab[2:] and prev != "O"
    return trans, first


def log_softmax(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    z = x - x.max(axis=-1, keepdims=True)
    out: npt.NDArray[np.float32] = (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)
    return out


def decode_label_ids(
    scores: Sequence[npt.NDArray[np.float32]],
    domain: str,
    forced: Sequence[Sequence[Span]] | None = None,
    raw: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Best well-formed label ids of each address from its (n_chars, len(LABELS)) logits.

    ``forced[i]`` (with ``raw[i]``, each character row's offset in the text): spans ``(element, start,
    end)`` address i must contain, as the linear tagger's ``FastTagger._force``: those characters may
    only be B-element, I-element…, and the character after the span not I-element."""
    mask = domain_label_mask(domain)
    allowed, first = bio_constraints()
    allowed = allowed & mask[:, None] & mask[None, :]
    first = first & mask
    counts = np.array([len(s) for s in scores], dtype=np.int64)
    starts = np.zeros(len(scores) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    if not starts[-1]:
        return [[] for _ in scores]
    em = log_softmax(np.concatenate([np.asarray(s, dtype=np.float32) for s in scores if len(s)]))
    em[:, ~mask] = _NEG
    if forced is not None:
        if raw is None:
            raise ValueError("forced spans need the character offsets (raw)")
        _force(em, starts, raw, forced)
    zeros = np.zeros((len(LABELS), len(LABELS)), dtype=np.float32)
    ids = viterbi_batch(em, starts, zeros, allowed, first).tolist()
    return [ids[starts[i] : starts[i + 1]] for i in range(len(scores))]


def _force(
    em: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    raw: Sequence[Sequence[int]],
    forced: Sequence[Sequence[Span]],
) -> None:
    """Restrict ``em`` (all addresses' rows, address i at ``starts[i]:starts[i+1]``) in place to the
    forced spans' labels (``chartagger.force_rows``, as the linear tagger does)."""
    for i, spans in enumerate(forced):
        if spans:
            lo, hi = int(starts[i]), int(starts[i + 1])
            force_rows(em, lo, hi, np.asarray(raw[i], dtype=np.int64), spans, LABEL_INDEX)


def decode_spans(
    scores: Sequence[npt.NDArray[np.float32]],
    raw: Sequence[Sequence[int]],
    domain: str,
    forced: Sequence[Sequence[Span]] | None = None,
) -> list[list[Span]]:
    """Spans (character offsets via ``raw``, each address's character positions) of every address."""
    out: list[list[Span]] = []
    for ids, offsets in zip(decode_label_ids(scores, domain, forced, raw), raw, strict=True):
        out.append(spans_from_labels([LABELS[i] for i in ids], list(offsets)))
    return out
