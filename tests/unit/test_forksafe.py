"""A forked child drops the ONNX Runtime sessions it inherited and opens its own on first use, with the
thread count it was given, and answers exactly as the parent (``geoalign.forksafe``)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.retrieval_fixtures import build_tiny_retrieval_model
from tests.servers import require_module

from geoalign import forksafe

TEXTS = ["浙江省杭州市西湖区文三路369号", "上海市浦东新区花园公寓"]
_embedder: Any = None


def _in_child(_: int) -> tuple[bool, bool, np.ndarray]:
    inherited = _embedder._session is None and len(forksafe._inherited) > 0
    forksafe.set_child_threads(1)
    vectors = _embedder.embed(TEXTS)
    options = _embedder.session.get_session_options()
    # the embedder's cores work by batch: the child runs as many batches at once as it has threads
    return inherited, options.intra_op_num_threads == 1 and _embedder.parallel_batches() == 1, vectors


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_a_forked_child_reopens_the_session_with_its_share_of_threads(tmp_path: Path) -> None:
    global _embedder
    require_module("onnx", "export")
    from geoalign.retrieval.embedder import OnnxEmbedder

    _embedder = OnnxEmbedder(build_tiny_retrieval_model(tmp_path / "model"), threads=2)
    expected = _embedder.embed(TEXTS)
    parent_session = _embedder.session
    assert _embedder.parallel_batches() == 2
    # let the session's pool thread go to sleep on its condition variable: destroying the inherited
    # session in the child can then wait for that thread forever (seen in the full suite: a child hung in
    # pthread_cond_destroy), so the child must keep it (``forksafe._inherited``), not drop it
    time.sleep(0.5)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        dropped, one_thread, vectors = pool.map_async(_in_child, [0]).get(timeout=60)[0]
    assert dropped and one_thread
    np.testing.assert_allclose(vectors, expected, rtol=1e-5, atol=1e-6)
    assert _embedder.session is parent_session  # the parent's own session is untouched
    assert forksafe.child_threads(3) == 3  # in the parent no share was set: each holder's own count


def test_without_a_share_a_session_keeps_its_own_thread_count() -> None:
    assert forksafe.child_threads(None) is None
    assert forksafe.child_threads(4) == 4
