"""``geoalign profile``: where the time goes, stage by stage, for any scorer.

    geoalign profile --model DIR|--random-init mgeo-base|--scorer NAME --pairs FILE [--limit N] [--json OUT]

Prints normalize / tokenize / forward / post-process as ms per pair, share of total and pairs/s, and
writes the same as JSON. With a lower precision (``--dtype bf16|fp16|auto``) the torch scorer's agreement
with fp32 (largest probability difference, label agreement) is measured on a sample and shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--random-init", metavar="PRESET", help="random weights of a known shape (mgeo-base)")
    parser.add_argument("--model", metavar="DIR", help="ModelScope / Hugging Face checkpoint directory")
    source.add_argument("--scorer", help="any registered scorer by name (structured, torch, onnx, cascade)")
    parser.add_argument("--pairs", required=True, help="address pairs: a, b in the first two columns")
    parser.add_argument("--limit", type=int, default=None, help="profile only the first N pairs")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N] (torch scorer)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16", "auto"))
    parser.add_argument("--compile", action="store_true", help="torch.compile (inductor, frozen weights)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: usable CPUs)")
    parser.add_argument("--max-tokens", type=int, default=None, help="padded tokens per batch")
    parser.add_argument("--max-batch", type=int, default=64, help="pairs per batch at most")
    parser.add_argument("--chunk-size", type=int, default=1024, help="pairs per prepare/run/finish call")
    parser.add_argument(
        "--agreement",
        type=int,
        default=256,
        metavar="N",
        help="pairs on which a non-fp32 dtype is compared with fp32 (0 = skip; default 256)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="include first-call costs in the timings")


def _read_pairs(path: str, limit: int | None) -> tuple[list[Any], int]:
    from geoalign.io.tables import read_table
    from geoalign.types import AddressPair

    table = read_table(path)
    if len(table.columns) < 2:
        from geoalign.errors import InputError

        raise InputError(f"{path}: needs at least two columns (address a, address b)")
    pairs: list[Any] = []
    broken = 0
    for row in table.rows:
        if limit is not None and len(pairs) >= limit:
            break
        if row.error is not None:
            broken += 1
            continue
        pairs.append(AddressPair(row.values[0], row.values[1]))
    return pairs, broken


def _torch_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "device": args.device,
        "dtype": args.dtype,
        "compile": args.compile,
        "threads": args.threads,
        "max_tokens": args.max_tokens,
        "max_batch": args.max_batch,
    }


def run(args: argparse.Namespace) -> int:
    from geoalign.engine.profile import profile_scorer
    from geoalign.errors import InputError

    pairs, broken = _read_pairs(args.pairs, args.limit)
    if not pairs:
        raise InputError(f"{args.pairs}: no pairs to profile")
    if broken:
        print(f"skipped {broken} unreadable rows of {args.pairs}", file=sys.stderr)

    agreement = None
    from geoalign.scorers.registry import build_scorer, detect_backend

    # --model alone picks the backend from the directory (a geoalign export -> onnx), as everywhere else.
    backend = args.scorer or (detect_backend(args.model) if args.model is not None else None)
    if backend is not None and backend != "torch":
        scorer = build_scorer(backend, args.model)
    else:
        if args.random_init is None and args.model is None:
            raise InputError("give --model DIR, --random-init PRESET or --scorer NAME")
        if args.random_init is not None and args.model is not None:
            raise InputError("give either --model DIR or --random-init PRESET, not both")
        scorer, agreement = _build_torch(args, pairs)

    from geoalign.types import FromCheckpoint

    if isinstance(scorer, FromCheckpoint) and scorer.checkpoint.is_random:
        print(
            "WARNING: random-init weights: outputs are NOT predictions; timings only "
            f"(model id {scorer.model_id})",
            file=sys.stderr,
        )
    report, _ = profile_scorer(scorer, pairs, chunk_size=args.chunk_size, warmup=not args.no_warmup)
    report.agreement = agreement
    meta = report.meta
    print(
        f"scorer: {report.scorer}  model: {report.model}  pairs: {report.n_pairs}  errors: {report.n_errors}"
    )
    if meta:
        keys = ("device", "dtype", "threads", "compile", "max_tokens", "max_batch", "layers")
        print("  ".join(f"{k}: {meta[k]}" for k in keys if k in meta))
    print(report.format_table())
    if agreement is not None:
        print(
            f"agreement with fp32 on {agreement['n']} pairs: max |Δp| {agreement['max_abs_prob_diff']:.2e}, "
            f"labels agree {agreement['label_agreement']:.1%}"
            + ("  (random weights: label agreement means little)" if meta.get("random_weights") else "")
        )
    if args.json:
        from geoalign.io.atomic import atomic_write_text

        payload = {**report.to_dict(), "pairs_file": args.pairs}
        atomic_write_text(args.json, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _build_torch(args: argparse.Namespace, pairs: list[Any]) -> tuple[Any, dict[str, Any] | None]:
    """The torch scorer, plus its agreement with fp32 on a sample when it runs in lower precision."""
    import copy
    import dataclasses
    import warnings

    from geoalign.engine.profile import compare_results
    from geoalign.scorers.checkpoints import load_checkpoint
    from geoalign.scorers.mgeo_torch import TorchScorer, resolve_dtype

    spec = f"random-init:{args.random_init}" if args.random_init else args.model
    with warnings.catch_warnings():  # the CLI prints its own one-line warning for random weights
        warnings.simplefilter("ignore")
        checkpoint = load_checkpoint(spec)
        options = _torch_options(args)
        agreement = None
        sample = pairs[: args.agreement]
        if resolve_dtype(args.dtype, args.device) != "fp32" and sample:
            # the reference gets its own copy: moving a module to bf16 is in place
            reference = TorchScorer(
                dataclasses.replace(checkpoint, model=copy.deepcopy(checkpoint.model)),
                **{**options, "dtype": "fp32", "compile": False},
            )
            expected = reference.score(sample)
            del reference
            scorer = TorchScorer(checkpoint, **options)
            agreement = {**compare_results(expected, scorer.score(sample)), "dtype": scorer.dtype}
        else:
            scorer = TorchScorer(checkpoint, **options)
    return scorer, agreement
