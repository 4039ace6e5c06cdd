"""The neural character tagger probe (issue 15): a tiny random model trains a step and a short run, and
the constrained decode always gives well-formed tags of the domain's elements. No data, no download."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from tests.servers import require_module

from geoalign.address.schemes import SCHEME_ELEMENTS, Example
from geoalign.neural.tag_data import LABELS, PREFIX, CharVocab, encode_examples
from geoalign.neural.tag_decode import decode_label_ids

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
EXAMPLES = [  # invented addresses
    Example("甲省乙市丙路12号", (("prov", 0, 2), ("city", 2, 4), ("road", 4, 6), ("roadno", 6, 9)), "naacl"),
    Example("乙市 丁镇3组", (("city", 0, 2), ("town", 3, 5), ("village_group", 5, 7)), "ccks"),
    Example("丙路7栋2单元", (("road", 0, 2), ("houseno", 2, 4), ("cellno", 4, 7)), "supermap"),
]
PIECES = SPECIALS + sorted({ch for ex in EXAMPLES for ch in ex.text if not ch.isspace()})


def _well_formed(labels: list[str], domain: str) -> bool:
    keep = SCHEME_ELEMENTS[domain]  # type: ignore[index]
    prev = "O"
    for lab in labels:
        if lab != "O" and lab[2:] not in keep:
            return False
        if lab.startswith("I-") and (prev == "O" or prev[2:] != lab[2:]):
            return False
        prev = lab
    return True


def test_encoding_is_one_token_per_visible_character_with_domain_token() -> None:
    vocab = CharVocab.from_pieces(PIECES)
    ids, raw = vocab.encode("乙市 丁镇", "ccks")
    assert raw == [0, 1, 3, 4] and len(ids) == PREFIX + 4 + 1
    assert ids[1] == vocab.domain_base + 1 and vocab.encode("乙", "supermap")[0][1] == vocab.domain_base + 2
    assert vocab.char_id("龘") == vocab.unk
    enc = encode_examples(vocab, EXAMPLES[1:2], "ccks")
    assert [LABELS[i] for i in enc.labels[0][PREFIX:-1]][:3] == ["B-city", "I-city", "B-town"]


def test_constrained_decode_is_well_formed_for_any_scores() -> None:
    rng = np.random.default_rng(0)
    for domain in ("naacl", "ccks", "supermap"):
        scores = [rng.normal(size=(n, len(LABELS))).astype(np.float32) * 5 for n in (1, 7, 30, 0)]
        decoded = decode_label_ids(scores, domain)
        assert [len(d) for d in decoded] == [1, 7, 30, 0]
        assert all(_well_formed([LABELS[i] for i in d], domain) for d in decoded)


def test_a_tiny_model_trains_and_tags_well_formed_spans(tmp_path: Path) -> None:
    torch = require_module("torch", "torch")
    from geoalign.neural.optim import adamw_with_warmup
    from geoalign.neural.tag_model import NeuralCharTagger, load_model, tiny_model
    from geoalign.neural.tag_train import TagTrainConfig, collate, train, train_step

    model = tiny_model(PIECES)
    vocab = CharVocab.from_pieces(PIECES)
    enc = [encode_examples(vocab, [ex], ex.source) for ex in EXAMPLES]
    batch = collate([e.ids[0] for e in enc], [e.labels[0] for e in enc], [e.domain for e in enc], vocab.pad)
    optimizer, scheduler = adamw_with_warmup(model, lr=1e-2, weight_decay=0.0, warmup=0.0, total_steps=10)
    before = [p.detach().clone() for p in model.parameters()]
    losses = [train_step(model, optimizer, scheduler, batch, bf16=False) for _ in range(5)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))

    sets = {ex.source: [ex] for ex in EXAMPLES}
    best = train(TagTrainConfig(out=str(tmp_path / "run"), epochs=1, batch_size=2), model, PIECES, sets, sets)
    assert (tmp_path / "run" / "last.pt").is_file()
    loaded, loaded_vocab = load_model(best)
    for ex in EXAMPLES:
        tagger = NeuralCharTagger(loaded, loaded_vocab, ex.source)
        (spans,) = tagger.spans_many([ex.text])
        assert all(0 <= s < e <= len(ex.text) for _, s, e in spans)
        assert all(a[2] <= b[1] for a, b in itertools.pairwise(spans))
        assert {name for name, _, _ in spans} <= SCHEME_ELEMENTS[ex.source]


def test_a_refit_without_selection_keeps_the_last_epoch(tmp_path: Path) -> None:
    torch = require_module("torch", "torch")
    import json

    from geoalign.neural.tag_model import load_model, tiny_model
    from geoalign.neural.tag_train import TagTrainConfig, train

    model = tiny_model(PIECES)
    sets = {ex.source: [ex] for ex in EXAMPLES}
    empty: dict[str, list[Example]] = {ex.source: [] for ex in EXAMPLES}
    config = TagTrainConfig(out=str(tmp_path / "run"), epochs=2, batch_size=2)
    best = train(config, model, PIECES, sets, empty)
    chosen = json.loads((best / "selection.json").read_text(encoding="utf-8"))
    assert chosen == {"epoch": 1, "refit": True, "selection_f1": None}
    loaded, _ = load_model(best)
    # The weights written are the ones the run ended with, not an earlier epoch's.
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), loaded.parameters(), strict=True))
    assert "refit" in (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
