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

from geoalign.address.chartagger import Span, spans_from_labels, viterbi_batch
from geoalign.neural.tag_data import LABELS, domain_label_mask

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


def decode_label_ids(scores: Sequence[npt.NDArray[np.float32]], domain: str) -> list[list[int]]:
    """Best well-formed label ids of each address from its (n_chars, len(LABELS)) logits."""
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
    zeros = np.zeros((len(LABELS), len(LABELS)), dtype=np.float32)
    ids = viterbi_batch(em, starts, zeros, allowed, first).tolist()
    return [ids[starts[i] : starts[i + 1]] for i in range(len(scores))]


def decode_spans(
    scores: Sequence[npt.NDArray[np.float32]], raw: Sequence[Sequence[int]], domain: str
) -> list[list[Span]]:
    """Spans (character offsets via ``raw``, each address's character positions) of every address."""
    out: list[list[Span]] = []
    for ids, offsets in zip(decode_label_ids(scores, domain), raw, strict=True):
        out.append(spans_from_labels([LABELS[i] for i in ids], list(offsets)))
    return out
