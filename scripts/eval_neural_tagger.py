"""Probe (issue 15): score a neural tagger run against the shipped linear parser on the same addresses.

    PYTHONPATH=src .venv/bin/python scripts/eval_neural_tagger.py --data-root ../shared/data \\
        --model artifacts/neural-tagger/l4/best --split selection --split dev --json artifacts/nt-eval.json

For each data set and split, entity-level span micro-F1 over the set's own elements (``eval-parse``'s
scoring) of four parsers: the neural tagger alone, the neural tagger + the shipped gazetteer alignment
(``Parser``'s admin step), the shipped linear tagger alone, and the shipped parser (linear + alignment,
what ``geoalign eval-parse`` scores). The selection split is ``scripts/train_parser.py``'s. Then
tagging speed (addresses/s, torch on ``--threads`` threads, batches of ``--batch-size``) of the neural
tagger and of the linear tagger on the same addresses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from train_parser import TRAIN_FILES  # the same three files, one list

from geoalign.address.tagger_train import SELECTION_FRACTION, SELECTION_SEED

DEV_FILES = {
    "naacl": "naacl2019-address-parsing/dev.txt",
    "ccks": "ccks2021-address-parsing/dev.conll",
    "supermap": "supermap-address-tagging/dev.txt",
}


class _Memo:
    """A tagger whose spans are computed once per text (the alone / with-alignment rows share them)."""

    def __init__(self, tagger: Any) -> None:
        self.tagger = tagger
        self.cache: dict[str, Any] = {}

    def spans_many(self, texts: Sequence[str]) -> list[Any]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.tagger.spans_many(todo), strict=True))
        return [self.cache[t] for t in texts]


def _parser_with(tagger: Any, admin: bool) -> Any:
    """A ``Parser`` (shipped gazetteer alignment when ``admin``) whose tagger is ``tagger``."""
    from geoalign.address.parse import Parser

    class _Injected(Parser):
        def _tagger(self) -> Any:
            return tagger

    return _Injected(admin_from_gazetteer=admin)


def _f1(parser: Any, examples: Sequence[Any], fmt: str) -> float:
    from geoalign.address.schemes import ELEMENTS, SCHEME_ELEMENTS
    from geoalign.evaluate.parse_metrics import span_scores
    from geoalign.types import Components

    keep = SCHEME_ELEMENTS[fmt]  # type: ignore[index]
    parsed = parser.parse_many([ex.text for ex in examples])
    pred = [
        [(c.name, c.start, c.end) for c in p if c.name in keep] if isinstance(p, Components) else []
        for p in parsed
    ]
    gold = [[s for s in ex.spans if s[0] in keep] for ex in examples]
    return span_scores(gold, pred, order=ELEMENTS).micro.f1


def _rate(tagger: Any, texts: Sequence[str], repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        tagger.spans_many(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def onnx_int8_rate(model: Any, vocab: Any, texts: Sequence[str], out: Path, batch_size: int) -> float:
    """Export the model (TorchScript exporter, eager attention, dynamic batch and sequence), quantize it
    dynamically to int8 weights (onnxruntime), and time ORT on 1 thread over ``texts`` in length-sorted
    batches: addresses/s of the logits (the Viterbi decode is the same numpy code either way)."""
    import copy
    import logging

    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from geoalign.neural.tag_model import batch_tensors

    out.mkdir(parents=True, exist_ok=True)
    eager = copy.deepcopy(model).eval()
    eager.set_attn_implementation("eager")

    class _Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    ids, mask = batch_tensors([vocab.encode(t, "naacl")[0] for t in texts[:4]], vocab.pad)
    fp32, int8 = out / "tagger.onnx", out / "tagger.int8.onnx"
    axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "logits": {0: "b", 1: "s"}}
    with torch.no_grad():
        torch.onnx.export(
            _Logits(eager), (ids, mask), str(fp32), input_names=["input_ids", "attention_mask"],
            output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    encoded = [vocab.encode(t, "naacl")[0] for t in texts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        for lo in range(0, len(order), batch_size):
            b_ids, b_mask = batch_tensors([encoded[i] for i in order[lo : lo + batch_size]], vocab.pad)
            session.run(None, {"input_ids": b_ids.numpy(), "attention_mask": b_mask.numpy()})
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", required=True, type=Path)
    ap.add_argument("--model", required=True, type=Path, help="a run's best/ directory")
    ap.add_argument("--split", action="append", choices=("selection", "dev"), default=[])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--speed-n", type=int, default=2000, help="addresses timed (0: skip the speed test)")
    ap.add_argument("--onnx-int8", type=Path, metavar="DIR", help="also export + time an int8 ONNX graph")
    ap.add_argument("--limit", type=int, default=0, help="score only N addresses of each set (smoke)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    import torch

    from geoalign.address.parse import DEFAULT_MODEL_DIR, load_tagger
    from geoalign.address.schemes import read_labelled
    from geoalign.address.tagger_train import selection_split
    from geoalign.neural.tag_model import NeuralCharTagger, load_model

    torch.set_num_threads(args.threads)
    model, vocab = load_model(args.model)
    results: dict[str, Any] = {"model": str(args.model), "threads": args.threads}
    sets: dict[str, dict[str, list[Any]]] = {}
    if "selection" in args.split:
        raw = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in TRAIN_FILES.items()}  # type: ignore[arg-type]
        sets["selection"] = selection_split(raw, fraction=SELECTION_FRACTION, seed=SELECTION_SEED)[1]  # type: ignore[arg-type,assignment]
    if "dev" in args.split:
        sets["dev"] = {fmt: read_labelled(args.data_root / rel, fmt) for fmt, rel in DEV_FILES.items()}  # type: ignore[arg-type]
    for split, by_fmt in sets.items():
        for fmt, examples in by_fmt.items():
            examples = examples[: args.limit] if args.limit else examples
            neural = _Memo(NeuralCharTagger(model, vocab, fmt, batch_size=args.batch_size))
            linear = _Memo(load_tagger(DEFAULT_MODEL_DIR, fmt))
            row = {
                "n": len(examples),
                "neural_tagger": _f1(_parser_with(neural, False), examples, fmt),
                "neural_parser": _f1(_parser_with(neural, True), examples, fmt),
                "linear_tagger": _f1(_parser_with(linear, False), examples, fmt),
                "linear_parser": _f1(_parser_with(linear, True), examples, fmt),
            }
            results[f"{split}/{fmt}"] = row
            print(
                f"{split:9s} {fmt:8s} " + " ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "n"),
                flush=True,
            )
    if args.speed_n:
        texts = [ex.text for exs in next(iter(sets.values())).values() for ex in exs][: args.speed_n]
        neural = NeuralCharTagger(model, vocab, "naacl", batch_size=args.batch_size)
        linear = load_tagger(DEFAULT_MODEL_DIR, "naacl")
        results["speed"] = {
            "n": len(texts),
            "neural_per_s": _rate(neural, texts),
            "linear_per_s": _rate(linear, texts),
        }
        if args.onnx_int8 is not None:
            rate = onnx_int8_rate(model, vocab, texts, args.onnx_int8, args.batch_size)
            results["speed"]["onnx_int8_logits_per_s"] = rate
        print(f"speed over {len(texts)} addresses: {results['speed']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
