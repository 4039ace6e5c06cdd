"""``geoalign pretrain-neural``: domain-adaptive masked-LM pretraining of the neural matcher's encoder.

Needs the training extra (``pip install 'geoalign[train]'``). Starts from an encoder directory as
``train-neural`` writes it (``RUN/init``), removes every string of the CCKS validation split and frozen
test fold (``--ccks``) and of the given evaluation files from the corpus, and writes under ``-o DIR``
(keep it below the git-ignored ``artifacts/``): ``last.pt`` (resumable state; rerunning the same command
continues), ``pretrain.log`` and ``final/``, which ``geoalign train-neural --init-from DIR/final``
fine-tunes from.
"""

from __future__ import annotations

import argparse

from geoalign.neural.pretrain import PretrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = PretrainConfig(out="", init="", corpus="")
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument(
        "--init", required=True, metavar="DIR", help="encoder directory (a train-neural run's init/ or best/)"
    )
    parser.add_argument("--corpus", required=True, help="unlabelled addresses, one a line")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="run directory (resumable)")
    parser.add_argument(
        "--ccks",
        default=None,
        help="CCKS relevance pairs: their validation and frozen test strings are removed",
    )
    parser.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="FILE",
        help="strings to remove: one a line; tab-separated lines give each field but integer labels",
    )
    parser.add_argument(
        "--exclude-tagged",
        nargs="+",
        default=[],
        metavar="FILE",
        help="parser files (`token TAG` lines; CCKS, NAACL or SuperMap format) whose addresses are removed",
    )
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument(
        "--max-tokens", type=int, default=defaults.max_tokens, help="tokens per address, specials included"
    )
    parser.add_argument("--mlm-probability", type=float, default=defaults.mlm_probability)
    parser.add_argument(
        "--corpus-sample", type=int, default=None, help="train on a random sample of this many addresses"
    )
    parser.add_argument(
        "--save-every", type=int, default=defaults.save_every, help="checkpoint period (steps)"
    )
    parser.add_argument("--log-every", type=int, default=defaults.log_every)
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads")
    parser.add_argument(
        "--no-bf16",
        action="store_true",
        help="train in fp32 (default: bf16 autocast where the CPU has native bf16, fp32 elsewhere)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)


def run(args: argparse.Namespace) -> int:
    from geoalign._extras import require

    require("torch", "train", "pretraining the neural matcher")
    require("transformers", "train", "pretraining the neural matcher")
    from geoalign.neural.pretrain import pretrain

    cfg = PretrainConfig(
        out=args.output,
        init=args.init,
        corpus=args.corpus,
        ccks=args.ccks,
        exclude=tuple(args.exclude),
        exclude_tagged=tuple(args.exclude_tagged),
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        max_tokens=args.max_tokens,
        mlm_probability=args.mlm_probability,
        corpus_sample=args.corpus_sample,
        save_every=args.save_every,
        log_every=args.log_every,
        threads=args.threads,
        bf16=False if args.no_bf16 else None,
        seed=args.seed,
    )
    print(pretrain(cfg))
    return 0
