"""Training helpers for the address tagger: labelled examples -> CRFsuite -> :class:`TagModel`.

The CRF is trained by CRFsuite on exactly the bucket ids ``chartagger.featurize`` computes (one
attribute per template and character), then its weights are exported to numpy arrays, so the fast
path decodes with the very weights CRFsuite learned. ``scripts/train_parser.py`` drives this on the
three labelled data sets; the tests train a tiny model with it.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign.address.chartagger import DOMAINS, Lexicon, TagModel, featurize
from geoalign.address.schemes import ELEMENTS, Example, Format


def char_labels(example: Example) -> list[str]:
    """BIO label of every character of the example's text (O where no span covers it)."""
    labels = ["O"] * len(example.text)
    for name, start, end in example.spans:
        labels[start] = "B-" + name
        for i in range(start + 1, end):
            labels[i] = "I-" + name
    return labels


#: The selection split every parser choice is made on (``scripts/train_parser.py``, the neural tagger's
#: scripts, ``scripts/eval_parser_selection.py``): one fraction and seed, so all score the same addresses.
SELECTION_FRACTION: Final[float] = 0.1
SELECTION_SEED: Final[int] = 13


def selection_split(
    sets: Mapping[Format, list[Example]], *, fraction: float, seed: int, limit: int = 0
) -> tuple[dict[Format, list[Example]], dict[Format, list[Example]]]:
    """(train, selection) of each data set: one seeded shuffle stream over the sets in the order given,
    ``fraction`` of each (after ``limit``, 0 = all) held out. ``scripts/train_parser.py`` and the neural
    tagger probe both split this way, so their selection scores are over the same addresses."""
    rng = random.Random(seed)
    train: dict[Format, list[Example]] = {}
    select: dict[Format, list[Example]] = {}
    for fmt, examples in sets.items():
        examples = list(examples)
        rng.shuffle(examples)
        if limit:
            examples = examples[:limit]
        n_sel = int(len(examples) * fraction)
        select[fmt], train[fmt] = examples[:n_sel], examples[n_sel:]
    return train, select


def label_set(examples: Sequence[Example]) -> tuple[str, ...]:
    """O, then B-/I- of every element the examples contain, in ``ELEMENTS`` order."""
    present = {name for ex in examples for name, _, _ in ex.spans}
    return ("O", *(f"{p}-{e}" for e in ELEMENTS if e in present for p in ("B", "I")))


def features_and_labels(
    examples: Sequence[Example], domain: int, bits: int, lexicon: Lexicon, chunk: int = 4096
) -> list[tuple[list[list[str]], list[str]]]:
    """CRFsuite items (bucket ids as strings) and BIO labels of the visible characters of each example."""
    out: list[tuple[list[list[str]], list[str]]] = []
    for lo in range(0, len(examples), chunk):
        part = examples[lo : lo + chunk]
        batch = featurize([ex.text for ex in part], domain, bits, lexicon)
        st = batch.starts.tolist()
        raw = batch.raw_index.tolist()
        ids = batch.ids.astype(str).tolist()
        for i, ex in enumerate(part):
            labels = char_labels(ex)
            rows = range(st[i], st[i + 1])
            if rows:
                out.append((ids[st[i] : st[i + 1]], [labels[raw[r]] for r in rows]))
    return out


def export(model_path: Path, labels: tuple[str, ...], bits: int, lexicon: Lexicon) -> TagModel:
    """CRFsuite model -> numpy arrays: one weight row per bucket that kept a non-zero weight."""
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(model_path))
    info = tagger.info()
    index = {lab: i for i, lab in enumerate(labels)}
    buckets = sorted({int(attr) for attr, _ in info.state_features})
    row_of = {b: r + 1 for r, b in enumerate(buckets)}  # row 0: every unused bucket, all zeros
    weights = np.zeros((len(buckets) + 1, len(labels)), dtype=np.float32)
    for (attr, lab), w in info.state_features.items():
        weights[row_of[int(attr)], index[lab]] = w
    trans = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for (a, b), w in info.transitions.items():
        trans[index[a], index[b]] = w
    rows = np.zeros(1 << bits, dtype=np.int64)
    rows[np.array(buckets, dtype=np.int64)] = np.arange(1, len(buckets) + 1)
    return TagModel(labels, bits, rows, weights, trans, lexicon, DOMAINS)


def train_model(
    train: Sequence[tuple[str, Sequence[Example]]],
    *,
    bits: int,
    lexicon: Lexicon,
    params: dict[str, Any],
    algorithm: str = "lbfgs",
    verbose: bool = False,
    log: Callable[[str], None] | None = None,
) -> TagModel:
    """Train on (domain, examples) groups with CRFsuite and export.

    ``algorithm``: CRFsuite's ``lbfgs`` (CRF likelihood, elastic net) or ``ap`` (averaged structured
    perceptron: one Viterbi pass per epoch, several times cheaper); ``params``: that algorithm's options."""
    import pycrfsuite

    labels = label_set([ex for _, exs in train for ex in exs])
    trainer = pycrfsuite.Trainer(algorithm=algorithm, verbose=verbose)
    n_items = 0
    for domain, examples in train:
        for feats, tags in features_and_labels(examples, DOMAINS.index(domain), bits, lexicon):
            trainer.append(feats, tags)
            n_items += len(tags)
    if log is not None:
        log(f"featurized {n_items} characters, {len(labels)} labels")
    trainer.set_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        crf_path = Path(tmp) / "model.crfsuite"
        trainer.train(str(crf_path))
        if log is not None:
            last = trainer.logparser.last_iteration or {}
            log(f"trained: iterations={last.get('num', '?')} loss={last.get('loss', '?')}")
        return export(crf_path, labels, bits, lexicon)
