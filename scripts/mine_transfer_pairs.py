"""Mine unlabelled address pairs for distillation: each query against its nearest neighbours in a corpus.

Why: a small student learns its teacher's answers from the teacher's soft labels, and how much it learns
is limited by how many pairs it sees (session 16: more Shenzhen pairs a student epoch were what took
the student to within 0.002 of its ensemble). Labelled pairs are few (12,224 CCKS training pairs); pairs
the teacher labels are as many as there are addresses. The pairs that matter are the ones the judge
meets: a query against the records a retrieval index would put beside it, from the obvious same place
to the neighbour one door away — so each query is paired with a few of its nearest neighbours (by the
shipped retrieval embedding), sampled over the ranks.

Nothing of an evaluation set may leak in: every text of the CCKS validation and frozen folds and of the
``--exclude`` files (Shenzhen valid, say) is removed from the pool and from the queries, and
``train-neural --transfer`` refuses a file that still holds one.

    python scripts/mine_transfer_pairs.py --corpus ../shared/data/address-corpus/addresses.txt \
        --ccks ../shared/data/ccks2021-address-relevance/round1_slice.tsv \
        --exclude ../shared/data/shenzhen-address-pairs/valid.tsv -o artifacts/neural/transfer.tsv

Output: ``query<TAB>neighbour`` lines (no label column), the query first as in the CCKS file.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import numpy as np

from geoalign.neural.data import ccks_splits, read_lines, texts_of
from geoalign.retrieval.embedder import OnnxEmbedder
from geoalign.retrieval.index import HnswIndex


def texts_of_tsv(path: str) -> set[str]:
    """Every text in the first two columns of a tab-separated pair file."""
    out: set[str] = set()
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            out.update(cell for cell in row[:2] if cell)
    return out


def sample_ranks(rng: random.Random, k: int, per_query: int) -> list[int]:
    """``per_query`` distinct neighbour ranks in 1..k, the nearer ones likelier (weight 1/rank): most
    pairs are hard (close neighbours), a few are easy negatives, as in a linker's candidate list."""
    ranks = list(range(1, k + 1))
    weights = [1.0 / r for r in ranks]
    chosen: set[int] = set()
    while len(chosen) < min(per_query, k):
        chosen.add(rng.choices(ranks, weights)[0])
    return sorted(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="one address a line (the neighbour pool)")
    parser.add_argument("--ccks", required=True, help="the CCKS slice: its training texts are queries too")
    parser.add_argument("--exclude", nargs="*", default=[], help="pair files whose texts must not appear")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--corpus-queries", type=int, default=30_000, help="corpus lines used as queries")
    parser.add_argument("--k", type=int, default=20, help="neighbours searched per query")
    parser.add_argument("--per-query", type=int, default=3, help="neighbours kept per query")
    parser.add_argument("--seed", type=int, default=45)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    splits = ccks_splits(args.ccks)
    banned = texts_of(splits.validation) | texts_of(splits.test)
    for path in args.exclude:
        banned |= texts_of_tsv(path)
    pool = [t for t in dict.fromkeys(read_lines(args.corpus)) if t not in banned]
    train_queries = sorted({p.a for p in splits.train} - banned)
    corpus_queries = rng.sample(pool, min(args.corpus_queries, len(pool)))
    queries = list(dict.fromkeys(train_queries + corpus_queries))
    print(f"pool {len(pool):,} (banned {len(banned):,} texts); queries {len(queries):,}", file=sys.stderr)

    t0 = time.time()
    embedder = OnnxEmbedder()
    pool_vectors = embedder.embed(pool)
    query_vectors = embedder.embed(queries)
    index = HnswIndex(embedder.dim, threads=2)
    index.add(pool_vectors, np.arange(len(pool)))
    labels, _ = index.search(query_vectors, args.k + 1)
    print(f"embedded and searched in {time.time() - t0:.0f} s", file=sys.stderr)

    written = 0
    seen: set[tuple[str, str]] = set()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        for query, row in zip(queries, labels, strict=True):
            neighbours = [pool[i] for i in row if i >= 0 and pool[i] != query]
            for rank in sample_ranks(rng, min(args.k, len(neighbours)), args.per_query):
                pair = (query, neighbours[rank - 1])
                if pair in seen or "\t" in pair[0] + pair[1] or "\n" in pair[0] + pair[1]:
                    continue
                seen.add(pair)
                handle.write(f"{pair[0]}\t{pair[1]}\n")
                written += 1
    print(f"{written:,} pairs -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
