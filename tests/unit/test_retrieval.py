"""Learned retrieval: the ONNX embedder, the indexes, the embedding cache, and the union with rule
blocking in the link core. Every model here is built by the test (tests/retrieval_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

from geoalign.errors import InputError, ModelLoadError
from geoalign.link.core import union_sources


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("onnx", "export")
    return build_tiny_retrieval_model(tmp_path_factory.mktemp("retrieval") / "model")


def test_embedder_rows_are_unit_vectors_independent_of_batching(tiny_model: Path) -> None:
    from geoalign.retrieval.embedder import OnnxEmbedder

    texts = ["杭州市西湖区文三路369号", "文三路369号", "上海市浦东新区", "文三路369号"]
    embedder = OnnxEmbedder(tiny_model, threads=1, batch_size=2)
    vectors = embedder.embed(texts)
    assert vectors.shape == (4, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[1], vectors[3])
    alone = OnnxEmbedder(tiny_model, threads=1, batch_size=64).embed(texts[:1])
    assert np.allclose(alone[0], vectors[0], atol=1e-6)
    # sharing characters means being near: the road record is nearer its own full address
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_batches_run_side_by_side_give_the_same_vectors_as_one_after_another(tiny_model: Path) -> None:
    """With several threads the batches run in parallel (one intra-op thread each); they are the same
    batches, so the vectors are bit for bit those of a single thread, in the input's order."""
    from geoalign.retrieval.embedder import OnnxEmbedder

    texts = [f"杭州市西湖区文三路{n}号" + "东" * (n % 5) for n in range(23)] + ["上海市浦东新区"]
    one = OnnxEmbedder(tiny_model, threads=1, batch_size=4)
    many = OnnxEmbedder(tiny_model, threads=3, batch_size=4)
    assert one.parallel_batches() == 1 and many.parallel_batches() == 3
    assert np.array_equal(many.embed(texts), one.embed(texts))
    assert np.array_equal(many.embed(texts[:3]), one.embed(texts[:3]))  # one batch: no pool


def test_embedder_rejects_a_directory_without_manifest(tmp_path: Path) -> None:
    from geoalign.retrieval.embedder import OnnxEmbedder

    with pytest.raises(ModelLoadError, match=r"retrieval\.json"):
        OnnxEmbedder(tmp_path)


def _random_unit(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_index_matches_brute_force_and_pads() -> None:
    from geoalign.retrieval.index import ExactIndex

    data, queries = _random_unit(300, 16, 1), _random_unit(20, 16, 2)
    index = ExactIndex(16)
    index.add(data[:100], np.arange(100) + 1000)
    index.add(data[100:], np.arange(100, 300) + 1000)
    labels, sims = index.search(queries, 5)
    expect = np.argsort(-(queries @ data.T), axis=1)[:, :5] + 1000
    assert (labels == expect).all()
    assert np.all(np.diff(sims, axis=1) <= 1e-6)
    small = ExactIndex(16)
    small.add(data[:2], np.array([7, 8]))
    labels, _ = small.search(queries[:1], 4)
    assert sorted(labels[0, :2].tolist()) == [7, 8] and labels[0, 2:].tolist() == [-1, -1]


def test_hnsw_index_recall_against_exact_and_incremental_add() -> None:
    require_module("usearch", "ann")
    from geoalign.retrieval.index import ExactIndex, HnswIndex

    data, queries = _random_unit(2000, 24, 3), _random_unit(100, 24, 4)
    hnsw, exact = HnswIndex(24, threads=1), ExactIndex(24)
    for start in range(0, 2000, 500):  # grows past its initial capacity
        part = data[start : start + 500]
        labels = np.arange(start, start + len(part))
        hnsw.add(part, labels)
        exact.add(part, labels)
    assert len(hnsw) == 2000
    got, _ = hnsw.search(queries, 10)
    want, _ = exact.search(queries, 10)
    recall = np.mean([len(set(g) & set(w)) / 10 for g, w in zip(got, want, strict=True)])
    assert recall >= 0.95


def test_hnsw_searches_one_query_as_a_row_of_many() -> None:
    """usearch answers one query with ``Matches`` (hits only, no counts), several with ``BatchMatches``:
    one query's row must be the row it gets among others, fewer hits than k included."""
    require_module("usearch", "ann")
    from geoalign.retrieval.index import HnswIndex

    data, queries = _random_unit(5, 12, 5), _random_unit(3, 12, 6)
    hnsw = HnswIndex(12, threads=1)
    hnsw.add(data, np.arange(10, 15))
    labels, sims = hnsw.search(queries, 8)  # k past the table's size: filler slots
    for row in range(3):
        one_labels, one_sims = hnsw.search(queries[row : row + 1], 8)
        assert one_labels.tolist() == labels[row : row + 1].tolist()
        np.testing.assert_allclose(one_sims, sims[row : row + 1], rtol=1e-6)
    assert sorted(labels[0][:5].tolist()) == list(range(10, 15)) and labels[0][5:].tolist() == [-1, -1, -1]


def test_hnsw_builds_a_small_table_on_one_thread_so_every_run_gives_the_same_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A graph built by several threads depends on their timing; up to DETERMINISTIC_BUILD_MAX vectors
    the build is single-threaded (same table, same candidates, same links), past it threaded. Search
    always gets the threads it was given."""
    require_module("usearch", "ann")
    from geoalign.retrieval import index as index_module
    from geoalign.retrieval.index import HnswIndex

    class Recording:
        def __init__(self) -> None:
            self.calls: list[tuple[str, int, int]] = []
            self.size = 0

        def add(self, keys: np.ndarray, vectors: np.ndarray, threads: int) -> None:
            self.calls.append(("add", len(keys), threads))
            self.size += len(keys)

        def __len__(self) -> int:
            return self.size

    monkeypatch.setattr(index_module, "DETERMINISTIC_BUILD_MAX", 100)
    recording = Recording()
    hnsw = HnswIndex(8, threads=2, index=recording)
    hnsw.add(_random_unit(60, 8, 1), np.arange(60))
    hnsw.add(_random_unit(40, 8, 2), np.arange(60, 100))  # 100 in all: still one thread
    hnsw.add(_random_unit(1, 8, 3), np.arange(100, 101))  # past the bound: threaded
    assert recording.calls == [("add", 60, 1), ("add", 40, 1), ("add", 1, 2)]


def test_two_builds_of_one_small_table_give_the_same_neighbours() -> None:
    """With two threads given, two builds of one table give the same neighbours (with the threaded
    build: different lists in 5 of 5 tries on 2 cores)."""
    require_module("usearch", "ann")
    from geoalign.retrieval.index import HnswIndex

    data = _random_unit(3000, 16, 7)
    first, second = HnswIndex(16, threads=2), HnswIndex(16, threads=2)
    first.add(data, np.arange(3000))
    second.add(data, np.arange(3000))
    assert np.array_equal(first.search(data[:500], 20)[0], second.search(data[:500], 20)[0])


def test_hnsw_pads_rows_with_fewer_hits_than_k_and_returns_cosines() -> None:
    require_module("usearch", "ann")
    from geoalign.retrieval.index import HnswIndex

    data, queries = _random_unit(3, 8, 5), _random_unit(4, 8, 6)
    hnsw = HnswIndex(8)
    hnsw.add(data, np.array([70, 71, 72]))
    labels, sims = hnsw.search(queries, 5)
    assert labels.shape == sims.shape == (4, 5)
    assert (labels[:, 3:] == -1).all() and np.isneginf(sims[:, 3:]).all()
    for row in range(4):
        assert sorted(labels[row, :3].tolist()) == [70, 71, 72]
        cosines = queries[row] @ data[labels[row, :3] - 70].T
        assert np.allclose(sims[row, :3], cosines, atol=2e-3)  # f16 storage
        assert np.all(np.diff(sims[row, :3]) <= 1e-6)


def test_hnsw_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from geoalign.retrieval.index import make_index

    monkeypatch.setitem(sys.modules, "usearch", None)
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    with pytest.raises(InputError, match=r"geoalign\[ann\]"):
        make_index("hnsw", 8)
    with pytest.raises(InputError, match="unknown ANN index"):
        make_index("faiss-ivf", 8)


class _CountingEmbedder:
    dim = 4
    model_id = "counting"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


def test_cache_embeds_each_distinct_text_once_and_survives_a_restart(tmp_path: Path) -> None:
    from geoalign.retrieval.cache import EmbeddingCache

    embedder = _CountingEmbedder()
    cache = EmbeddingCache(embedder, tmp_path / "c")
    first = cache.get(["a", "bb", "a"])
    assert embedder.seen == ["a", "bb"] and first[0].tolist() == first[2].tolist()
    cache.get(["bb", "ccc"])
    assert embedder.seen == ["a", "bb", "ccc"]
    cache.save()
    again = _CountingEmbedder()
    reloaded = EmbeddingCache(again, tmp_path / "c")
    assert reloaded.get(["ccc", "a"]).tolist() == [[3, 1, 0, 0], [1, 1, 0, 0]]
    assert again.seen == []
    other = _CountingEmbedder()
    other.model_id = "another model"
    EmbeddingCache(other, tmp_path / "c").get(["a"])
    assert other.seen == ["a"]  # another model's vectors are never mixed in


def test_union_tags_each_candidate_with_its_source() -> None:
    merged, sources, ranks = union_sources([5, 2, 9], [9, 4, 5, 7])
    assert merged == [5, 2, 9, 4, 7]
    assert sources == ["both", "rules", "both", "ann", "ann"]
    assert ranks == [2, None, 0, 1, 3]


def test_prefix_digests_are_one_running_hash_snapshotted_at_each_n() -> None:
    from geoalign.retrieval.saved import PrefixDigests

    entries = [(0, "a"), (2, "b"), (3, "c")]  # position 1 is an unusable record
    digests = PrefixDigests(iter(entries))
    at1, at3, at4 = digests.at(1), digests.at(3), digests.at(4)
    assert [n for _d, n in (at1, at3, at4)] == [1, 2, 3]
    assert PrefixDigests(iter(entries[:2])).at(10) == at3  # the first records alone, digested apart
    assert PrefixDigests(iter([(0, "a"), (2, "B")])).at(3) != at3
    with pytest.raises(ValueError):
        digests.at(2)


def test_saved_index_loads_only_for_its_identity_and_records(tmp_path: Path) -> None:
    from geoalign.retrieval.index import ExactIndex
    from geoalign.retrieval.saved import IndexIdentity, PrefixDigests, SavedIndex

    data = _random_unit(3, 8, 5)
    index = ExactIndex(8)
    index.add(data, np.array([0, 1, 2]))
    identity = IndexIdentity("m1", "exact", 8)
    entries = [(0, "a"), (1, "b"), (2, "c")]
    saved = SavedIndex(tmp_path)
    assert saved.load(identity, PrefixDigests(entries).at, 3, threads=1) == ""  # nothing saved yet
    saved.save(index, identity, 3, PrefixDigests(entries).at(3)[0])
    found = saved.load(identity, PrefixDigests([*entries, (3, "d")]).at, 4, threads=1)
    assert not isinstance(found, str) and found.records == 3 and len(found.index) == 3
    assert "another model_id" in str(
        saved.load(IndexIdentity("m2", "exact", 8), PrefixDigests(entries).at, 3, 1)
    )
    assert "this table has 2" in str(saved.load(identity, PrefixDigests(entries[:2]).at, 2, 1))
    assert "other records" in str(
        saved.load(identity, PrefixDigests([(0, "a"), (1, "x"), (2, "c")]).at, 3, 1)
    )


@pytest.mark.parametrize("backend", ["exact", "hnsw"])
def test_an_index_travels_as_bytes_and_answers_the_same(backend: str) -> None:
    # the Ray engine builds once on the driver and ships the bytes through its object store
    if backend == "hnsw":
        require_module("usearch", "ann")
    from geoalign.retrieval.index import index_from_bytes, make_index

    data, queries = _random_unit(200, 16, 6), _random_unit(10, 16, 7)
    index = make_index(backend, 16)
    index.add(data, np.arange(200) * 3)
    copy = index_from_bytes(backend, index.to_bytes(), 16)
    assert len(copy) == 200
    want, got = index.search(queries, 5), copy.search(queries, 5)
    assert (want[0] == got[0]).all() and np.allclose(want[1], got[1])


def test_hnsw_first_then_the_embedder_does_not_crash_the_process() -> None:
    # usearch imported before onnxruntime segfaulted the process (a Ray worker that searched, then
    # embedded); the index module loads onnxruntime first
    require_module("usearch", "ann")
    import subprocess

    code = "from geoalign.retrieval.index import make_index; make_index('hnsw', 8); import onnxruntime"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
