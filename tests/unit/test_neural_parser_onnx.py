"""The neural parser at inference (``address.neural_tagger``): a tiny random tagger exported to ONNX tags
like the torch model it came from, loads through ``load_tagger`` / ``Parser`` / ``geoalign parse
--model``, keeps the gazetteer's forced admin names, and refuses a broken directory clearly. No data,
no download: the model is built here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.servers import require_module

from geoalign.address.parse import Parser, load_tagger, model_domains
from geoalign.errors import ModelLoadError
from geoalign.neural.tag_data import LABELS
from geoalign.neural.tag_decode import decode_spans
from geoalign.types import ItemError

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
TEXTS = [  # invented addresses
    "甲省乙市丙区丁路12号3栋2单元501室",
    "乙市 丁镇3组",
    "丙路7栋",
    "北京市朝阳区望京街10号",
]
PIECES = SPECIALS + sorted({ch for text in TEXTS for ch in text if not ch.isspace()})


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(torch model directory, exported ONNX parser directory) of one tiny random tagger."""
    require_module("torch", "torch")
    require_module("onnx", "onnx")
    from geoalign.neural.tag_export import export_tagger
    from geoalign.neural.tag_model import save_model, tiny_model

    root = tmp_path_factory.mktemp("neural-parser")
    model = tiny_model(PIECES, hidden=32, layers=1, seed=3)
    save_model(model, PIECES, root / "torch")
    export_tagger(root / "torch", root / "onnx", int8=False, default_domain="ccks")
    return root / "torch", root / "onnx"


def test_the_onnx_tagger_tags_as_the_torch_model_does(exported: tuple[Path, Path]) -> None:
    from geoalign.neural.tag_model import NeuralCharTagger, load_model

    torch_dir, onnx_dir = exported
    model, vocab = load_model(torch_dir)
    for domain in ("naacl", "ccks", "supermap"):
        reference = NeuralCharTagger(model, vocab, domain).spans_many(TEXTS)
        assert load_tagger(onnx_dir, domain).spans_many(TEXTS) == reference
    manifest = json.loads((onnx_dir / "parser.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "neural-chartagger" and manifest["labels"] == list(LABELS)
    assert model_domains(onnx_dir) == ("ccks", "naacl", "supermap")


def test_forced_admin_spans_are_kept_whatever_the_scores() -> None:
    rng = np.random.default_rng(1)
    raw = [[0, 1, 2, 3, 4, 5], [0, 1, 3, 4]]  # the second address has a space at offset 2
    scores = [rng.normal(size=(len(r), len(LABELS))).astype(np.float32) * 8 for r in raw]
    forced = [[("prov", 0, 2), ("city", 2, 4)], [("city", 0, 2)]]
    spans = decode_spans(scores, raw, "naacl", forced)
    assert spans[0][:2] == [("prov", 0, 2), ("city", 2, 4)]
    assert spans[1][0] == ("city", 0, 2)
    with pytest.raises(ValueError, match="offsets"):
        from geoalign.neural.tag_decode import decode_label_ids

        decode_label_ids(scores, "naacl", forced)


def test_parser_on_the_neural_model_answers_every_item(exported: tuple[Path, Path]) -> None:
    _, onnx_dir = exported
    parser = Parser(onnx_dir)
    results = parser.parse_many([TEXTS[0], "", None, TEXTS[3]])
    assert isinstance(results[1], ItemError) and isinstance(results[2], ItemError)
    first = results[0]
    assert not isinstance(first, ItemError)
    assert first.raw == TEXTS[0] and all(0 <= c.start < c.end <= len(TEXTS[0]) for c in first.items)
    # the gazetteer's admin names stand whatever a random model says (a municipality written with
    # 市 is a city, as the labelled data writes it)
    last = results[3]
    assert not isinstance(last, ItemError)
    assert [(c.name, c.text) for c in last.items][:2] == [("city", "北京市"), ("district", "朝阳区")]


def test_parse_command_takes_the_model_directory(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, onnx_dir = exported
    lines = tmp_path / "in.txt"
    lines.write_text(f"{TEXTS[0]}\n\n{TEXTS[2]}\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "geoalign", "parse", "--model", str(onnx_dir), "--domain", "supermap",
         "--file", str(lines), "--workers", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(out) == 3 and out[1]["error"]["code"] and out[1]["line"] == 2
    assert out[0]["raw"] == TEXTS[0] and out[2]["raw"] == TEXTS[2]


def test_a_broken_neural_parser_is_a_clear_error(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, onnx_dir = exported
    manifest = json.loads((onnx_dir / "parser.json").read_text(encoding="utf-8"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pieces.json").write_text(json.dumps(PIECES), encoding="utf-8")
    (broken / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="missing"):
        load_tagger(broken)
    (broken / "parser.json").write_text(json.dumps({**manifest, "labels": ["O"]}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="labels or domains differ"):
        load_tagger(broken)
    with pytest.raises(ModelLoadError, match="not one of"):
        load_tagger(onnx_dir, "elsewhere")
    with pytest.raises(ModelLoadError, match="no such parser model directory"):
        load_tagger(tmp_path / "absent")


def _linear_partner(root: Path) -> Path:
    """A random linear tagger directory (prov / road / roadno labels) to pair the neural one with."""
    from geoalign.address.chartagger import FEATURE_VERSION, Lexicon, TagModel, save_model

    labels = ("O", "B-prov", "I-prov", "B-road", "I-road", "B-roadno", "I-roadno")
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 64, size=1 << 12)
    weights = rng.normal(size=(64, len(labels))).astype(np.float32)
    trans = rng.normal(size=(len(labels), len(labels))).astype(np.float32)
    model = TagModel(labels, 12, rows, weights, trans, Lexicon.build({}), ("naacl", "ccks", "supermap"))
    directory = root / "linear"
    directory.mkdir()
    save_model(model, directory, "tagger.npz")
    manifest = {"format": "chartagger", "feature_version": FEATURE_VERSION, "model": "tagger.npz",
                "default_domain": "naacl"}  # fmt: skip
    (directory / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def _joint(onnx_dir: Path, root: Path, neural_weight: float, partner: str = "../linear") -> Path:
    joint = root / f"joint-{neural_weight}"
    joint.mkdir()
    for name in ("tagger.onnx", "pieces.json"):
        (joint / name).write_bytes((onnx_dir / name).read_bytes())
    manifest = json.loads((onnx_dir / "parser.json").read_text(encoding="utf-8"))
    manifest |= {"linear_partner": {"model": partner, "weight": 1.0}, "neural_weight": neural_weight}
    (joint / "parser.json").write_text(json.dumps(manifest), encoding="utf-8")
    return joint


def test_joint_decoding_adds_the_linear_partners_scores(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, onnx_dir = exported
    linear = load_tagger(_linear_partner(tmp_path), "naacl")
    # a space, a zero-width space and a private-use character inside (the linear tagger skips all
    # three, the neural encoding alone only the space); longer than the neural model reads
    texts = [*TEXTS, "甲省 乙市丙路 12号", "甲省\u200b乙市\uf880丙路12号", "丙" * 300]
    # with the neural weight at 0 the sum is the linear tagger's own decode, row for row
    silent = load_tagger(_joint(onnx_dir, tmp_path, 0.0), "naacl")
    assert silent.spans_many(texts) == linear.spans_many(texts)
    both = load_tagger(_joint(onnx_dir, tmp_path, 1.0), "naacl")
    forced = [[("prov", 0, 2)]] + [[] for _ in texts[1:]]
    spans = both.spans_many(texts, forced)
    assert spans[0][0] == ("prov", 0, 2)
    for text, found in zip(texts, spans, strict=True):
        assert all(0 <= s < e <= len(text) and n in {"prov", "road", "roadno"} for n, s, e in found)


def test_an_unusable_linear_partner_is_a_clear_error(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, onnx_dir = exported
    with pytest.raises(ModelLoadError, match="unusable linear_partner"):
        load_tagger(_joint(onnx_dir, tmp_path, 1.0, partner="../nowhere"))


def test_the_shipped_accurate_parser_loads_and_parses() -> None:
    from geoalign.address.parse import NEURAL_MODEL_DIR

    assert (NEURAL_MODEL_DIR / "tagger.onnx").stat().st_size < 30_000_000
    card = (NEURAL_MODEL_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "multilingual-e5-small" in card and "MIT" in card and "non-commercial" in card
    parsed = Parser("neural").parse("浙江省杭州市西湖区文三路369号1幢2单元301室")  # invented
    assert [(c.name, c.text) for c in parsed][3:] == [
        ("road", "文三路"), ("roadno", "369号"), ("houseno", "1幢"), ("cellno", "2单元"), ("roomno", "301室"),
    ]  # fmt: skip
    assert model_domains("neural") == ("naacl", "ccks", "supermap")
    import geoalign

    address = "浙江省杭州市西湖区文三路369号1幢2单元301室"
    assert geoalign.parse(address, model="neural") == parsed
    assert geoalign.parse(address) == Parser("linear").parse(address)
    with pytest.raises(ModelLoadError, match="no such parser model directory"):
        geoalign.parse(address, model="nowhere")


def test_threads_share_one_neural_session(exported: tuple[Path, Path]) -> None:
    import threading

    _, onnx_dir = exported
    parser = Parser(onnx_dir)
    seen: list[object] = []

    def parse_in_a_thread() -> None:
        parser.parse(TEXTS[0])
        seen.append(parser._tagger())

    threads = [threading.Thread(target=parse_in_a_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 3 and all(tagger is seen[0] for tagger in seen)
