#!/usr/bin/env python
"""ONNX Runtime (CPU) against the naive torch loop, side by side in one run, on MGeo's shape.

    python benchmarks/bench_onnx.py [--n 2000] [--n-slow 96] [--export-dir DIR]
        [--agreement-model artifacts/tiny-pair-clf --agreement-pairs PAIRS.tsv]

Rows: (a) the naive torch loop (one pair per call, grad on; bench_torch's own function), then geoalign's
``onnx`` scorer on the three graphs of one ``geoalign export --optimize --int8`` of random MGeo-base
weights: plain fp32, fused fp32 (ORT transformer optimizer), dynamic int8 (QInt8 weights, MatMulInteger /
QAttention). Per-pair rows (latency per request) and batched rows (length buckets, token budget 2048,
256-pair chunks as a batch job streams them) score the same realistic pairs (bench_torch.realistic_pairs,
same seed as bench_torch.py), the slow per-pair rows a prefix.

Why interleaved: this machine's cores are shared, so configurations are run round-robin (pair by pair for
the per-pair rows, chunk by chunk for the batched rows); load changes hit every row alike and the ratios
stay meaningful even when absolute numbers move. Ceilings are measured in the same run: one 2048^3 fp32
MatMul in ORT (MLAS) and the same MatMul after ``quantize_dynamic`` (DynamicQuantizeLinear + MatMulInteger,
activation quantization included), converted to pairs/s at the measured mean tokens per pair. Each row
also reports pairs per CPU-second of this process and its share of the ceiling per CPU-second: under load
from other processes these move much less than wall-clock rates (spin-waiting threads count as busy).

With ``--agreement-model`` (a trained classifier, e.g. from scripts/train_tiny_pair_classifier.py) it is
exported too, and int8 is compared with fp32 on ``--agreement-pairs`` (real address pairs; labels in the
third column, if present, also give each variant's accuracy): label agreement on random weights means
nothing, on a trained model it is the number that matters.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
import transformers

from bench_torch import _cpu_name, flops_per_pair, naive_score, realistic_pairs
from geoalign.engine.profile import compare_results
from geoalign.scorers.checkpoints import load_checkpoint
from geoalign.scorers.export_onnx import ExportOptions, export_checkpoint
from geoalign.scorers.manifest import is_export_dir, read_manifest
from geoalign.scorers.mgeo_onnx import OnnxScorer
from geoalign.scorers.mgeo_torch import default_threads
from geoalign.types import LABELS, AddressPair, Match

SPEC = "random-init:mgeo-base"
VARIANTS = ("fp32", "fused", "int8")
CHUNK = 256


# ------------------------------------------------------------------------------------- ceilings


def _matmul_graph(path: Path, size: int) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32) * 0.02
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", size])],
        [numpy_helper.from_array(weight, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def ort_ceilings(threads: int, size: int = 2048, reps: int = 5) -> dict[str, float]:
    """Best-of GFLOP/s of one size^3 MatMul in ORT: fp32 (MLAS) and dynamic int8 (as the model's layers),
    per wall second and per CPU second of this process (``*_cpu``: robust to other processes' load)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "mm.onnx", Path(tmp) / "mm_int8.onnx"
        _matmul_graph(fp32, size)
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        x = np.random.default_rng(1).standard_normal((size, size)).astype(np.float32)
        for name, path in (("fp32", fp32), ("int8", int8)):
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            session.run(None, {"x": x})
            times = [_timed(lambda s=session: s.run(None, {"x": x})) for _ in range(reps)]
            out[name] = 2 * size**3 / min(t for t, _ in times) / 1e9
            out[f"{name}_cpu"] = 2 * size**3 / min(c for _, c in times) / 1e9
    return out


def _timed(fn: Any) -> tuple[float, float]:
    c, t = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t, time.process_time() - c


# ---------------------------------------------------------------------------------------- export


def ensure_export(directory: Path, reexport: bool) -> tuple[Path, float | None]:
    """Reuse an earlier export of the same random weights (2+ minutes saved), else export now."""
    if not reexport and is_export_dir(directory):
        manifest = read_manifest(directory, verify_files=False)
        if manifest.source.get("checksum") == SPEC and set(VARIANTS) <= set(manifest.variants):
            return directory, None
    t0 = time.perf_counter()
    export_checkpoint(SPEC, directory, ExportOptions(optimize=True, int8=True), echo=_err)
    return directory, time.perf_counter() - t0


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- measuring


class _Row:
    """Latencies, CPU seconds and results of one configuration."""

    def __init__(self) -> None:
        self.lat: list[float] = []
        self.cpu_s = 0.0
        self.results: list[Any] = []

    def timed(self, fn: Any, *, many: bool = True) -> None:
        """Run ``fn`` once; keep its results (a list of them when ``many``, else one result)."""
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        self.lat.append(time.perf_counter() - t)
        self.cpu_s += time.process_time() - c
        if many:
            self.results.extend(out)
        else:
            self.results.append(out)


def interleaved_rows(
    naive_model: Any,
    tokenizer: Any,
    scorers: dict[str, OnnxScorer],
    pairs: list[AddressPair],
    slow: list[AddressPair],
) -> tuple[dict[str, _Row], dict[str, _Row]]:
    """Every configuration in every round: the per-pair rows take a slice of ``slow`` one request at a
    time (tokenize -> score; the naive loop included), the batched rows take the round's 256-pair chunk
    (a batch job streaming its input). All rows span the same wall-clock period, so a change of load on
    the shared machine hits them alike and the x-naive ratios compare like with like."""
    single = {"naive": _Row(), **{v: _Row() for v in scorers}}
    batched = {v: _Row() for v in scorers}
    rounds = max(1, -(-len(pairs) // CHUNK))
    per_round = -(-len(slow) // rounds)
    for r in range(rounds):
        for pair in slow[r * per_round : (r + 1) * per_round]:
            single["naive"].timed(lambda p=pair: naive_score(naive_model, tokenizer, p), many=False)
            for name, scorer in scorers.items():
                single[name].timed(lambda s=scorer, p=pair: s.score([p]))
        chunk = pairs[r * CHUNK : (r + 1) * CHUNK]
        for name, scorer in scorers.items():
            batched[name].timed(lambda s=scorer, c=chunk: s.score(c))
        _err(f"round {r + 1}/{rounds} done")
    return single, batched


def naive_as_matches(probs: list[list[float]], id2label: Mapping[int, str]) -> list[Match]:
    """The naive loop's raw softmax rows (model id order) as Matches, to compare with the scorers."""
    out = []
    for row in probs:
        by_name = {id2label[i]: p for i, p in enumerate(row)}
        ordered = [by_name[k] for k in LABELS]
        out.append(Match.from_probabilities(ordered, scorer="torch-naive", model=SPEC))
    return out


def trained_agreement(model_dir: str, pairs_file: str | None, n: int, threads: int) -> dict[str, Any]:
    """int8 vs fp32 (and ORT fp32 vs torch) on a trained classifier, on real pairs where given."""
    from geoalign.io.labels import parse_label
    from geoalign.scorers.mgeo_torch import TorchScorer

    pairs: list[AddressPair] = []
    gold: list[str | None] = []
    if pairs_file:
        for line in Path(pairs_file).read_text(encoding="utf-8").splitlines():
            cells = line.split("\t")
            if len(cells) >= 2:
                pairs.append(AddressPair(cells[0], cells[1]))
                try:
                    gold.append(parse_label(cells[2]) if len(cells) > 2 else None)
                except ValueError:
                    gold.append(None)
            if len(pairs) >= n:
                break
    else:
        pairs = realistic_pairs(n, seed=2)
        gold = [None] * len(pairs)
    with tempfile.TemporaryDirectory(prefix="geoalign-bench-clf-") as tmp:
        # forced: measure int8 even where the export's own gate (48 built-in pairs) would refuse it
        options = ExportOptions(optimize=True, int8=True, force=True)
        report = export_checkpoint(model_dir, tmp, options, echo=_err)
        res = {v: OnnxScorer(tmp, variant=v, provider="cpu", threads=threads).score(pairs) for v in VARIANTS}
    ref = TorchScorer(load_checkpoint(model_dir), threads=threads).score(pairs)
    out: dict[str, Any] = {
        "model": report.manifest.source.get("checksum"),
        "export_gate": {v: p.parity.get("status") for v, p in report.manifest.variants.items()},
        "pairs": len(pairs),
        "pairs_source": pairs_file or "generated (bench_torch.realistic_pairs, seed 2)",
        "int8_vs_fp32": compare_results(res["fp32"], res["int8"]),
        "fused_vs_fp32": compare_results(res["fp32"], res["fused"]),
        "onnx_fp32_vs_torch": compare_results(ref, res["fp32"]),
    }
    if any(g is not None for g in gold):
        for name, results in (("torch", ref), *res.items()):
            scored = [(r.label, g) for r, g in zip(results, gold, strict=True) if isinstance(r, Match) and g]
            out[f"accuracy_{name}"] = sum(a == b for a, b in scored) / max(1, len(scored))
    return out


# ------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs for the batched rows")
    parser.add_argument("--n-slow", type=int, default=96, help="pairs for the per-pair rows (naive included)")
    parser.add_argument("--export-dir", default=os.path.join(tempfile.gettempdir(), "geoalign-bench-onnx"))
    parser.add_argument("--reexport", action="store_true", help="export again even if the dir has one")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: usable CPUs)")
    parser.add_argument("--no-spin", action="store_true", help="ORT pool threads do not spin-wait")
    parser.add_argument("--agreement-model", help="trained classifier dir for int8 label agreement")
    parser.add_argument("--agreement-pairs", help="TSV a<TAB>b[<TAB>label] (default: generated pairs)")
    parser.add_argument("--agreement-n", type=int, default=2000)
    parser.add_argument("--json", help="write all numbers as JSON here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    transformers.utils.logging.set_verbosity_error()
    started = time.perf_counter()
    threads = args.threads or default_threads()
    torch.set_num_threads(threads)

    directory, export_s = ensure_export(Path(args.export_dir), args.reexport)
    manifest = read_manifest(directory, verify_files=False)
    pairs = realistic_pairs(args.n, seed=1)
    ckpt = load_checkpoint(SPEC)
    naive_model, tokenizer, config = ckpt.model, ckpt.tokenizer, ckpt.model.config
    scorers = {
        v: OnnxScorer(directory, variant=v, provider="cpu", threads=threads, spin=not args.no_spin)
        for v in VARIANTS
    }
    for scorer in scorers.values():
        scorer.warmup()
    naive_score(naive_model, tokenizer, pairs[-1])
    tokens = [item.cost for item in scorers["fp32"].prepare(pairs).items]  # type: ignore[union-attr]
    gflop = [flops_per_pair(t, config) / 1e9 for t in tokens]
    ceilings = ort_ceilings(threads)
    _err(f"threads {threads}; ORT matmul ceilings GFLOP/s {ceilings}; mean tokens {np.mean(tokens):.1f}")

    slow = pairs[: args.n_slow]
    single, batched = interleaved_rows(naive_model, tokenizer, scorers, pairs, slow)
    _err(f"rows done ({time.perf_counter() - started:.0f}s)")

    naive_matches = naive_as_matches(single["naive"].results, ckpt.id2label)
    ceiling_of = {
        "naive": None,
        "fp32": ceilings["fp32"],
        "fused": ceilings["fp32"],
        "int8": ceilings["int8"],
    }
    label_of = {
        "naive": ("(a) naive torch loop: one pair per call, grad on", "torch", "fp32"),
        "fp32": ("onnx fp32 (plain export)", "onnxruntime", "fp32"),
        "fused": ("onnx fused fp32 (transformer optimizer)", "onnxruntime", "fp32"),
        "int8": ("onnx int8 dynamic (QInt8, fused)", "onnxruntime", "int8"),
    }
    rows: list[dict[str, Any]] = []
    for mode, table, n in (("per-pair", single, len(slow)), ("batched", batched, len(pairs))):
        for name, data in table.items():
            wall = sum(data.lat)
            useful = sum(gflop[:n]) / wall
            ceiling = ceiling_of[name]
            engine_dtype = "int8" if name == "int8" else "fp32"
            results = naive_matches if name == "naive" else data.results
            if mode == "per-pair":
                vs_torch = compare_results(naive_matches, results)["max_abs_prob_diff"]
            else:
                vs_torch = None
            vs_fp32 = compare_results(batched["fp32"].results, results) if mode == "batched" else None
            title, engine, dtype = label_of[name]
            rows.append({
                "config": title, "engine": engine, "dtype": dtype, "mode": mode, "n": n,
                "batch": "1 (per request)" if mode == "per-pair" else f"≤2048 tokens, {CHUNK}-pair chunks",
                "pairs_per_s": n / wall,
                "pairs_per_cpu_s": n / data.cpu_s if data.cpu_s else None,
                "p50_ms": statistics.median(data.lat) * 1000,
                "p99_ms": float(np.percentile(data.lat, 99)) * 1000,
                "useful_gflops": useful,
                "ceiling_pairs_per_s": ceiling / float(np.mean(gflop[:n])) if ceiling else None,
                "share_of_ceiling": useful / ceiling if ceiling else None,
                "share_of_ceiling_cpu": sum(gflop[:n]) / data.cpu_s / ceilings[f"{engine_dtype}_cpu"]
                if ceiling and data.cpu_s
                else None,
                "max_prob_diff_vs_torch": vs_torch,
                "agreement_vs_onnx_fp32": vs_fp32["label_agreement"] if vs_fp32 else None,
                "max_prob_diff_vs_onnx_fp32": vs_fp32["max_abs_prob_diff"] if vs_fp32 else None,
            })  # fmt: skip
    naive_pps = rows[0]["pairs_per_s"]
    for row in rows:
        row["x_naive"] = row["pairs_per_s"] / naive_pps

    agreement = None
    if args.agreement_model:
        agreement = trained_agreement(args.agreement_model, args.agreement_pairs, args.agreement_n, threads)
        _err(json.dumps({"trained_agreement": agreement}))

    sizes = {v.file: round((directory / v.file).stat().st_size / 1e6, 1) for v in manifest.variants.values()}
    env = {
        "cpu": _cpu_name(),
        "threads": threads,
        "spin": not args.no_spin,
        "onnxruntime": ort.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "model": f"{SPEC} (random weights, MGeo/BERT-base shape)",
        "export_s": export_s,
        "export_timings_s": manifest.export_options.get("timings_s"),
        "graph_mb": sizes,
        "int8_ops": manifest.variants["int8"].parity.get("ops"),
        "fused_ops": manifest.variants["fused"].parity.get("fused_ops"),
        "tokens_mean": float(np.mean(tokens)),
        "tokens_median": float(np.median(tokens)),
        "gflop_per_pair_mean": float(np.mean(gflop)),
        "ceilings_gflops": ceilings,
        "loadavg_end": os.getloadavg(),
        "total_s": time.perf_counter() - started,
        "command": " ".join(["python", *sys.argv]),
    }
    print(markdown(rows, env, agreement))
    if args.json:
        payload = {"env": env, "rows": rows, "trained_agreement": agreement}
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


def _f(value: Any, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def markdown(rows: list[dict[str, Any]], env: dict[str, Any], agreement: dict[str, Any] | None) -> str:
    lines = [
        "| configuration | engine | dtype | batch | n | pairs/s | × naive | p50 ms | p99 ms "
        "| useful GFLOP/s | ceiling pairs/s | % ceil | pairs/CPU-s | % ceil (CPU) "
        "| max\\|Δp\\| vs torch | agree vs onnx fp32 |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} ({r['mode']}) | {r['engine']} | {r['dtype']} | {r['batch']} | {r['n']} "
            f"| {r['pairs_per_s']:.1f} | {r['x_naive']:.2f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} "
            f"| {r['useful_gflops']:.0f} | {_f(r['ceiling_pairs_per_s'], '.0f')} "
            f"| {_f(r['share_of_ceiling'] and 100 * r['share_of_ceiling'], '.0f')} "
            f"| {_f(r['pairs_per_cpu_s'], '.1f')} "
            f"| {_f(r['share_of_ceiling_cpu'] and 100 * r['share_of_ceiling_cpu'], '.0f')} "
            f"| {_f(r['max_prob_diff_vs_torch'], '.1e')} | {_f(r['agreement_vs_onnx_fp32'], '.3f')} |"
        )
    lines.append("")
    lines.append("```json")
    lines.append(json.dumps({"env": env, "trained_agreement": agreement}, indent=1, ensure_ascii=False))
    lines.append("```")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
