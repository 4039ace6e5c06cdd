"""Retrieval's pool re-ranking (``geoalign.retrieval.rerank``): the vectorized path against a plain
per-pair reference, its edge cases, and the retriever keeping the best of a larger pool."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
from rapidfuzz import fuzz

from geoalign.errors import InputError
from geoalign.retrieval.rerank import rerank
from geoalign.retrieval.retriever import AnnRetriever, RetrievalSettings


def _reference(query_texts, labels, sims, text_of, k, weight):  # type: ignore[no-untyped-def]
    """One pair at a time, the definition written out: score, stable sort, keep k."""
    out = []
    for row, query in enumerate(query_texts):
        pool = [(j, int(c)) for j, c in enumerate(labels[row]) if c >= 0]
        if weight == 0 or labels.shape[1] <= k:
            out.append([c for _, c in pool][:k])
            continue
        scored = [
            (float(sims[row, j]) + weight * fuzz.ratio(query, text_of[c] or "") / 100.0, j, c)
            for j, c in pool
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        out.append([c for _, _, c in scored[:k]])
    return out


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0, 3.0])
def test_rerank_matches_the_per_pair_reference(weight: float) -> None:
    rng = random.Random(7)
    alphabet = "文三路号杭州市西湖区华星大厦一二"
    records = ["".join(rng.choices(alphabet, k=rng.randint(0, 9))) for _ in range(40)]
    records[5] = None  # type: ignore[call-overload]  # an unusable position never has a text
    queries = ["".join(rng.choices(alphabet, k=rng.randint(1, 9))) for _ in range(25)]
    labels = np.array([rng.sample(range(40), 12) for _ in queries], dtype=np.int64)
    labels[3, 8:] = -1  # a row with fewer hits than the pool (index padding)
    labels[4, :] = -1  # a row with none
    sims = np.array([sorted((rng.random() for _ in range(12)), reverse=True) for _ in queries], np.float32)
    got = rerank(queries, labels, sims, records, 5, weight=weight, workers=2)
    assert got == _reference(queries, labels, sims, records, 5, weight)
    assert got[4] == [] and len(got[3]) == 5


def test_a_pool_no_larger_than_k_keeps_the_index_order() -> None:
    labels = np.array([[3, 1, -1]], dtype=np.int64)
    sims = np.array([[0.6, 0.1, -np.inf]], dtype=np.float32)
    texts = ["", "same", "", "other"]
    assert rerank(["same"], labels, sims, texts, 3) == [[3, 1]]
    assert rerank(["same"], labels, sims, texts, 1) == [[1]]  # pool 3 > k 1: the spelling decides
    assert rerank(["same"], labels, sims, texts, 1, weight=0.0) == [[3]]


_ANGLES = {
    "文三路369号": 0.0,
    "深圳市福田区银行": 0.01,
    "上海市花园公寓": 0.02,
    "文三路369号华星大厦": 0.3,
}


class _AngleEmbedder:
    """Unit vectors at fixed angles, so the cosine order is set by the test."""

    dim = 2
    model_id = "angles"

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[np.cos(_ANGLES[t]), np.sin(_ANGLES[t])] for t in texts], np.float32)


def _record(text: str | None) -> SimpleNamespace:
    return SimpleNamespace(view=None if text is None else SimpleNamespace(text=text), error=None)


@pytest.mark.parametrize(("pool", "expected"), [(0, [1]), (1, [1]), (4, [4])])
def test_the_retriever_keeps_the_best_of_its_pool(pool: int, expected: list[int]) -> None:
    table = [
        _record(t)
        for t in ("上海市花园公寓", "深圳市福田区银行", None, "上海市花园公寓", "文三路369号华星大厦")
    ]
    settings = RetrievalSettings(model="unused", k=1, backend="exact", pool=pool)
    retriever = AnnRetriever(settings, embedder=_AngleEmbedder())
    retriever.index_table(table)
    # cosine alone: the Shenzhen bank (0.01 rad away); with a pool of 4 the record that shares the
    # query's characters (0.3 rad away, cosine 0.955) wins
    assert retriever.neighbours([_record("文三路369号")]) == [expected]


def test_a_negative_pool_is_refused() -> None:
    with pytest.raises(InputError, match="ann-pool"):
        RetrievalSettings(pool=-1)
