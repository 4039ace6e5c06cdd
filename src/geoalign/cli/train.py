"""``geoalign train --pairs FILE -o MODEL_DIR``: train the embedded matcher on labelled pairs.

Labels: names or CCKS integers (0 = not_match, 1 = partial_match, 2 = exact_match); TSV ``a<TAB>b<TAB>label``
or JSONL ``{"a", "b", "label"}``. ``--holdout`` keeps the frozen, query-hashed test fold out of training
and reports the model's score on it (this is how the shipped model was made; see its MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.scorers.structured_train import DEFAULT_FOLDS, DEFAULT_ROUNDS, DEFAULT_SEED

    parser.add_argument("--pairs", required=True, help="labelled pairs (TSV a<TAB>b<TAB>label, or JSONL)")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="directory to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="boosting rounds")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help="query-grouped CV folds (0: no CV)")
    parser.add_argument(
        "--holdout",
        action="store_true",
        help="train without the frozen test fold (~20%% of queries by hash) and report the score on it",
    )
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="also export the trees to model.onnx, so scoring needs no lightgbm import (~1 s less start-up; "
        "the export extra), checked against the booster on the training rows",
    )
    parser.add_argument("--data-name", default=None, help="training data name for the model card")
    parser.add_argument("--data-licence", default="unknown", help="training data licence for the model card")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _scores(report: Any) -> dict[str, Any]:
    return report.to_dict()


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from geoalign import __version__
    from geoalign.errors import InputError
    from geoalign.evaluate.metrics import classification_report, format_report
    from geoalign.io.labels import read_labelled_pairs
    from geoalign.scorers import structured_train as tr
    from geoalign.scorers.structured import PairFeaturizer, StructuredModel, save_model
    from geoalign.types import LABELS

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    if args.onnx:  # before the training, not after it: a missing extra should not cost a training run
        from geoalign._extras import require

        require("onnxmltools", "export", "geoalign train --onnx")

    if args.rounds < 1 or args.folds < 0 or args.folds == 1:
        raise InputError("--rounds must be >= 1 and --folds 0 or >= 2")
    pairs = read_labelled_pairs(args.pairs)
    train, test = tr.split_frozen(pairs) if args.holdout else (list(pairs), [])
    log(
        f"{len(pairs)} labelled pairs; training on {len(train)}"
        + (f", frozen test fold {len(test)}" if test else "")
    )
    featurizer = PairFeaturizer()
    featurizer.char_weights = tr.fit_char_weights(train, featurizer)
    data = tr.featurize(train, featurizer)
    weights = [1.0] * len(LABELS)
    meta_metrics: dict[str, Any] = {}
    if args.folds >= 2:
        cv = tr.cross_validate(data, folds=args.folds, seed=args.seed, rounds=args.rounds, log=log)
        weights = cv.class_weights
        meta_metrics["cv"] = {"folds": args.folds, "class_weights": weights, **_scores(cv.report)}
        meta_metrics["cv_unweighted_macro_f1"] = cv.raw_report.macro_f1
        log(f"cross-validation ({args.folds} folds, grouped by query), tuned class weights {weights}:")
        log(format_report(cv.report))
    booster = tr.fit_booster(data, seed=args.seed, rounds=args.rounds)
    if test:
        test_data = tr.featurize(test, featurizer)
        raw = booster.predict(test_data.features).reshape(-1, len(LABELS))
        probs = tr.predict_decided(raw, test_data.features, weights)
        report = classification_report(
            [LABELS[i] for i in test_data.labels], [LABELS[i] for i in np.argmax(probs, axis=1)]
        )
        meta_metrics["test"] = _scores(report)
        log("frozen test fold:")
        log(format_report(report))
    meta = {
        "class_weights": weights,
        "training": {
            "data": args.data_name or Path(args.pairs).name,
            "data_sha256": _sha256(args.pairs),
            "data_licence": args.data_licence,
            "pairs": len(train),
            "holdout": bool(args.holdout),
            "seed": args.seed,
            "rounds": args.rounds,
            "params": tr.DEFAULT_PARAMS,
            "geoalign_version": __version__,
            "date": dt.date.today().isoformat(),
            "command": "geoalign train --pairs DATA -o MODEL_DIR"
            + (" --holdout" if args.holdout else "")
            + f" --seed {args.seed} --rounds {args.rounds} --folds {args.folds}",
        },
        "metrics": meta_metrics,
    }
    save_model(args.output, booster, meta, featurizer.char_weights)
    if args.onnx:
        from geoalign.scorers.structured_onnx import export_forest

        record = export_forest(args.output, data.features)
        log(f"model.onnx: max difference to the booster {record['parity']['max_abs_diff']:.1e}")
    card = Path(args.output) / "MODEL_CARD.md"
    if not card.exists():
        from geoalign.io.atomic import atomic_write_text

        atomic_write_text(card, _card(meta))
    model = StructuredModel.load(args.output)  # round-trip check: what we wrote loads and validates
    log(f"wrote {args.output} (model id {model.model_id})")
    return 0


def _card(meta: dict[str, Any]) -> str:
    training = meta["training"]
    lines = [
        "# Structured matcher model",
        "",
        f"- training data: {training['data']} (sha256 {training['data_sha256'][:16]}…), "
        f"{training['pairs']} pairs",
        f"- data licence: {training['data_licence']}",
        f"- trained: {training['date']} with geoalign {training['geoalign_version']}",
        f"- command: `{training['command']}`",
        f"- class weights (decision): {meta['class_weights']}",
    ]
    for name, scores in meta["metrics"].items():
        if isinstance(scores, dict) and "macro_f1" in scores:
            lines.append(f"- {name}: macro-F1 {scores['macro_f1']:.4f}, accuracy {scores['accuracy']:.4f}")
    return "\n".join(lines) + "\n"
