#!/usr/bin/env python
"""MGeo on PyTorch (CPU): the naive way versus geoalign's batched scorer, side by side in one run.

    python benchmarks/bench_torch.py [--n 2000] [--model DIR] [--compile] [--agreement-model DIR]

(a) naive: model loaded once, one pair per call, synchronous, grad on, as users copy it from examples;
(b) ThreadPoolExecutor(4) over (a); (c) geoalign batched fp32 (length buckets, token budget, dynamic
padding, inference_mode), eager and, with --compile, torch.compile (inductor, frozen weights);
(d) geoalign batched bf16 (weights in bf16; where the CPU has AVX512-BF16/AMX).

Every configuration scores the same realistic pairs generated here (no CCKS data needed); slow
configurations score a prefix of them: each configuration runs until its pairs or its time budget
(--budget-s) run out, and n per row is reported. Without --model the weights are random
with MGeo's exact shape (speed does not depend on weight values). GFLOP/s count only real tokens and are
compared with this machine's measured matmul peak (2048^3 torch.mm) in the same precision.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import random
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

from geoalign.engine.profile import compare_results
from geoalign.scorers.checkpoints import Checkpoint, load_checkpoint
from geoalign.scorers.mgeo_torch import TorchScorer, cpu_supports_bf16, default_threads
from geoalign.types import AddressPair

# ------------------------------------------------------------------------------ realistic pairs

_PLACES = [
    ("浙江省", "杭州市", ["西湖区", "余杭区", "拱墅区", "滨江区", "上城区"]),
    ("江苏省", "南京市", ["栖霞区", "鼓楼区", "玄武区", "江宁区"]),
    ("上海市", "上海市", ["浦东新区", "闵行区", "徐汇区", "静安区"]),
    ("湖北省", "武汉市", ["洪山区", "武昌区", "江汉区"]),
    ("广东省", "深圳市", ["南山区", "福田区", "宝安区", "龙岗区"]),
    ("四川省", "成都市", ["武侯区", "锦江区", "高新区"]),
]
_TOWNS = ["良渚街道", "仙林街道", "五常街道", "西溪街道", "丁桥镇", "湖滨街道", "张江镇", "桂城街道"]
_ROADS = [
    "文一西路",
    "教工路",
    "古墩路",
    "建设大道",
    "科技园南路",
    "文枢东路",
    "紫萱路",
    "人民路",
    "中山北路",
    "学院路",
]
_POIS = [
    "创业大厦",
    "阳光花园",
    "紫金港校区",
    "人力社保局",
    "第二人民医院",
    "万达广场",
    "金色家园",
    "软件园",
    "书香苑",
]
_SHOPS = ["便利店", "书店", "咖啡馆", "药房", "酒店", "营业厅"]


def _address(rng: random.Random) -> dict[str, str]:
    prov, city, districts = rng.choice(_PLACES)
    return {
        "prov": prov,
        "city": city,
        "district": rng.choice(districts),
        "town": rng.choice(_TOWNS),
        "road": rng.choice(_ROADS),
        "roadno": f"{rng.randint(1, 1999)}号",
        "poi": rng.choice(_POIS),
        "building": f"{rng.randint(1, 40)}{rng.choice(['幢', '栋', '号楼'])}",
        "unit": f"{rng.randint(1, 6)}单元",
        "room": f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}室",
    }


def _render(parts: dict[str, str], rng: random.Random, *, full: bool) -> str:
    keys = ["prov", "city", "district", "town", "road", "roadno", "poi", "building", "unit", "room"]
    if not full:  # a query-side or record-side abbreviation: drop a prefix and some detail
        start = rng.randint(1, 4)
        keys = keys[start:]
        keys = [k for k in keys if k not in ("unit", "room") or rng.random() < 0.5]
    return "".join(parts[k] for k in keys)


def realistic_pairs(n: int, seed: int = 0) -> list[AddressPair]:
    """Address pairs of CCKS-like lengths (10-50 characters) and a mix of exact / partial / not."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a = _address(rng)
        kind = rng.random()
        if kind < 0.3:  # same place, written differently
            b = dict(a)
        elif kind < 0.65:  # same road or compound, another number / building
            b = dict(a, roadno=f"{rng.randint(1, 1999)}号", building=f"{rng.randint(1, 40)}幢")
        else:
            b = _address(rng)
        text_b = _render(b, rng, full=rng.random() < 0.4)
        if rng.random() < 0.2:
            text_b = b["road"] + b["roadno"] + rng.choice(_POIS) + rng.choice(_SHOPS)
        pairs.append(AddressPair(_render(a, rng, full=rng.random() < 0.6), text_b))
    return pairs


# ------------------------------------------------------------------------------------ measuring


def matmul_peak(dtype: torch.dtype, size: int = 2048, reps: int = 5) -> tuple[float, float]:
    """GFLOP/s of one ``size``^3 torch.mm in ``dtype``: best-of wall time, and per CPU-second.

    The second figure (FLOPs / process CPU time, i.e. per busy core) stays meaningful when other
    processes share the cores; the wall figure is the practical ceiling only on a quiet machine.
    """
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    flops = 2 * size**3
    return flops / best / 1e9, flops / max(best_cpu, 1e-9) / 1e9


def flops_per_pair(tokens: int, config: Any) -> float:
    """2 x encoder weights x T (every dense layer) + the two attention matmuls (QK^T, AV) per layer."""
    h, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    dense = layers * (4 * h * h + 2 * h * ffn) + h * h  # + pooler
    return 2 * dense * tokens + layers * 4 * tokens * tokens * h


def naive_score(model: Any, tokenizer: Any, pair: AddressPair) -> list[float]:
    """How the model is typically called from copied examples: one pair, grad on, tensors per call."""
    enc = tokenizer(pair.a, pair.b, return_tensors="pt", truncation=True, max_length=512)
    logits = model(**enc).logits
    return [p.item() for p in torch.softmax(logits, dim=-1)[0]]


def run_naive(
    model: Any, tokenizer: Any, pairs: list[AddressPair], budget_s: float
) -> tuple[float, float, list[float]]:
    """Per-pair calls until the pairs or the time budget run out (n = len(latencies))."""
    latencies = []
    c0, t0 = time.process_time(), time.perf_counter()
    for pair in pairs:
        t = time.perf_counter()
        naive_score(model, tokenizer, pair)
        latencies.append(time.perf_counter() - t)
        if t - t0 > budget_s:
            break
    return time.perf_counter() - t0, time.process_time() - c0, latencies


def run_threadpool(
    model: Any, tokenizer: Any, pairs: list[AddressPair], budget_s: float, workers: int = 4
) -> tuple[float, float, list[float]]:
    """(a) submitted to a ThreadPoolExecutor in waves of 2 x workers until the time budget runs out."""

    def timed(pair: AddressPair) -> float:
        t = time.perf_counter()
        naive_score(model, tokenizer, pair)
        return time.perf_counter() - t

    latencies: list[float] = []
    c0, t0 = time.process_time(), time.perf_counter()
    with cf.ThreadPoolExecutor(workers) as pool:
        for i in range(0, len(pairs), 2 * workers):
            latencies.extend(pool.map(timed, pairs[i : i + 2 * workers]))
            if time.perf_counter() - t0 > budget_s:
                break
    return time.perf_counter() - t0, time.process_time() - c0, latencies


def run_scorer(
    scorer: TorchScorer, pairs: list[AddressPair], budget_s: float, chunk: int = 64
) -> tuple[float, float, list[Any], list[float]]:
    """Score chunks of ``chunk`` pairs (a batch job streams) until the pairs or the budget run out."""
    scorer.warmup()
    results: list[Any] = []
    latencies = []
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(pairs), chunk):
        t = time.perf_counter()
        results.extend(scorer.score(pairs[i : i + chunk]))
        latencies.append(time.perf_counter() - t)
        if time.perf_counter() - t0 > budget_s:
            break
    return time.perf_counter() - t0, time.process_time() - c0, results, latencies


def _copy_checkpoint(ckpt: Checkpoint) -> Checkpoint:
    import copy
    import dataclasses

    return dataclasses.replace(ckpt, model=copy.deepcopy(ckpt.model))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs for the fast configurations")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=60.0,
        help="time per configuration; slow ones score a prefix (n per row)",
    )
    parser.add_argument("--model", help="checkpoint directory (default: random-init:mgeo-base)")
    parser.add_argument("--compile", action="store_true", help="also run torch.compile fp32 (c2)")
    parser.add_argument(
        "--agreement-model", help="a trained classifier (HF dir) to measure bf16 label agreement"
    )
    parser.add_argument("--agreement-pairs", help="TSV pairs for --agreement-model (default: generated)")
    parser.add_argument("--agreement-limit", type=int, default=2000, help="pairs for --agreement-model")
    parser.add_argument("--json", help="write all numbers as JSON here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    transformers.utils.logging.set_verbosity_error()

    started = time.perf_counter()
    threads = default_threads()
    torch.set_num_threads(threads)
    spec = args.model or "random-init:mgeo-base"
    pairs = realistic_pairs(args.n, seed=1)
    t0 = time.perf_counter()
    ckpt = load_checkpoint(spec)
    load_s = time.perf_counter() - t0
    tokenizer = ckpt.tokenizer
    config = ckpt.model.config
    tokens = [len(tokenizer(p.a, p.b)["input_ids"]) for p in pairs]
    enc_params = sum(p.numel() for n, p in ckpt.model.named_parameters() if "embeddings" not in n)
    peaks, cpu_peaks = {}, {}
    peaks["fp32"], cpu_peaks["fp32"] = matmul_peak(torch.float32)
    if cpu_supports_bf16():
        peaks["bf16"], cpu_peaks["bf16"] = matmul_peak(torch.bfloat16)
    print(f"threads {threads}; matmul peak GFLOP/s {peaks}, per CPU-s {cpu_peaks}", file=sys.stderr)
    rows: list[dict[str, Any]] = []

    def record(
        name: str, dtype: str, n: int, wall: float, cpu: float, lat: list[float], batch: str, **extra: Any
    ) -> None:
        flops = sum(flops_per_pair(t, config) for t in tokens[:n])
        gflops = flops / wall / 1e9
        row = {
            "config": name,
            "dtype": dtype,
            "batch": batch,
            "n": n,
            "pairs_per_s": n / wall,
            # CPU time of the whole process: robust to other processes sharing the cores (wall time is not)
            "pairs_per_cpu_s": n / cpu if cpu > 0 else None,
            "cpu_s": cpu,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": float(np.percentile(lat, 99)) * 1000,
            "gflops": gflops,
            "peak_share": gflops / peaks.get(dtype, peaks["fp32"]),
            "gflop_per_cpu_s": flops / cpu / 1e9 if cpu > 0 else None,
            "cpu_peak_share": (flops / cpu / 1e9) / cpu_peaks.get(dtype, cpu_peaks["fp32"])
            if cpu > 0
            else None,
            **extra,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    # (a) and (b): the naive model, default settings (grad on)
    naive_model = _copy_checkpoint(ckpt).model
    naive_score(naive_model, tokenizer, pairs[-1])  # first-call allocations
    wall, cpu, lat = run_naive(naive_model, tokenizer, pairs, args.budget_s)
    record("(a) naive: one pair per call, sync, grad on", "fp32", len(lat), wall, cpu, lat, "1 (per call)")
    wall, cpu, lat = run_threadpool(naive_model, tokenizer, pairs, args.budget_s)
    record("(b) ThreadPoolExecutor(4) over (a)", "fp32", len(lat), wall, cpu, lat, "1 (per call)")
    del naive_model

    chunked = "token budget 2048 (latency per 64-pair call)"
    # (c) geoalign batched fp32, eager
    fp32 = TorchScorer(_copy_checkpoint(ckpt), dtype="fp32", threads=threads)
    wall, cpu, fp32_results, lat = run_scorer(fp32, pairs, args.budget_s)
    record("(c) geoalign batched fp32 (eager)", "fp32", len(fp32_results), wall, cpu, lat, chunked)
    del fp32

    if args.compile:
        t0 = time.perf_counter()
        compiled = TorchScorer(_copy_checkpoint(ckpt), dtype="fp32", threads=threads, compile=True)
        compiled.warmup()
        compile_s = time.perf_counter() - t0
        wall, cpu, comp_results, lat = run_scorer(compiled, pairs, args.budget_s)
        n_common = min(len(comp_results), len(fp32_results))
        agree = compare_results(fp32_results[:n_common], comp_results[:n_common])
        record(
            "(c2) geoalign batched fp32 + torch.compile(inductor, freezing)",
            "fp32", len(comp_results), wall, cpu, lat, chunked,
            compile_s=compile_s, max_abs_prob_diff=agree["max_abs_prob_diff"],
        )  # fmt: skip
        del compiled

    agreement_bf16: dict[str, Any] | None = None
    if cpu_supports_bf16():
        bf16 = TorchScorer(ckpt, dtype="bf16", threads=threads)
        wall, cpu, bf16_results, lat = run_scorer(bf16, pairs, args.budget_s)
        n_common = min(len(bf16_results), len(fp32_results))
        agreement_bf16 = compare_results(fp32_results[:n_common], bf16_results[:n_common])
        record(
            "(d) geoalign batched bf16",
            "bf16", len(bf16_results), wall, cpu, lat, chunked,
            max_abs_prob_diff=agreement_bf16["max_abs_prob_diff"],
        )  # fmt: skip
        del bf16

    trained_agreement = None
    if args.agreement_model:
        agree_pairs = pairs
        if args.agreement_pairs:
            lines = Path(args.agreement_pairs).read_text(encoding="utf-8").splitlines()
            agree_pairs = [AddressPair(*line.split("\t")[:2]) for line in lines if line.count("\t") >= 1]
        agree_pairs = agree_pairs[: args.agreement_limit]
        ref = TorchScorer(load_checkpoint(args.agreement_model), dtype="fp32", threads=threads)
        ref_results = ref.score(agree_pairs)
        low = TorchScorer(load_checkpoint(args.agreement_model), dtype="bf16", threads=threads)
        trained_agreement = {**compare_results(ref_results, low.score(agree_pairs)), "model": ref.model_id}
        print(json.dumps({"trained_model_bf16_agreement": trained_agreement}), file=sys.stderr)

    naive_pps, naive_cpu = rows[0]["pairs_per_s"], rows[0]["pairs_per_cpu_s"]
    for row in rows:
        row["x_naive"] = row["pairs_per_s"] / naive_pps
        row["x_naive_cpu"] = row["pairs_per_cpu_s"] / naive_cpu
    env = {
        "cpu": _cpu_name(),
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "model": ckpt.model_id,
        "layers": config.num_hidden_layers,
        "hidden": config.hidden_size,
        "encoder_params": enc_params,
        "load_s": load_s,
        "tokens_mean": float(np.mean(tokens)),
        "tokens_median": float(np.median(tokens)),
        "tokens_min": int(min(tokens)),
        "tokens_max": int(max(tokens)),
        "gflop_per_pair_mean": float(np.mean([flops_per_pair(t, config) for t in tokens])) / 1e9,
        "matmul_peak_gflops": peaks,
        "matmul_peak_gflop_per_cpu_s": cpu_peaks,
        "loadavg_end": os.getloadavg(),
        "total_s": time.perf_counter() - started,
        "command": " ".join(["python", *sys.argv]),
    }
    print(markdown(rows, env, agreement_bf16, trained_agreement))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"env": env, "rows": rows, "bf16_agreement": agreement_bf16,
                        "trained_bf16_agreement": trained_agreement}, indent=2, ensure_ascii=False),
            encoding="utf-8",
        )  # fmt: skip
    return 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown(rows: list[dict[str, Any]], env: dict[str, Any], bf16: Any, trained: Any) -> str:
    out = [
        "| configuration | dtype | n | pairs/s (wall) | x (a) wall | pairs per CPU-s | x (a) CPU | p50 ms "
        "| p99 ms | GFLOP/s (wall) | % wall peak | GFLOP per CPU-s | % CPU-s peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['config']} | {r['dtype']} | {r['n']} | {r['pairs_per_s']:.2f} | {r['x_naive']:.2f} | "
            f"{r['pairs_per_cpu_s']:.2f} | {r['x_naive_cpu']:.2f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
            f"{r['gflops']:.0f} | {r['peak_share']:.0%} | {r['gflop_per_cpu_s']:.0f} | "
            f"{r['cpu_peak_share']:.0%} |"
        )
    out.append("")
    out.append(f"Environment: {json.dumps(env, ensure_ascii=False)}")
    if bf16:
        out.append(
            f"bf16 vs fp32 on the same {bf16['n']} pairs (weights of this run): max |Δp| "
            f"{bf16['max_abs_prob_diff']:.2e}, mean {bf16['mean_abs_prob_diff']:.2e}, labels agree "
            f"{bf16['label_agreement']:.1%}"
        )
    if trained:
        out.append(
            f"bf16 vs fp32, trained classifier {trained['model']} on {trained['n']} pairs: max |Δp| "
            f"{trained['max_abs_prob_diff']:.2e}, labels agree {trained['label_agreement']:.2%}"
        )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
