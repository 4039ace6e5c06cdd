"""``geoalign eval --pairs FILE``: accuracy, macro-F1, per-class P/R/F1 and the confusion matrix.

``--subset test`` scores only the frozen test fold (the queries ``geoalign train --holdout`` kept out),
``--subset dev`` only the rest. Pairs that cannot be scored are counted and reported, not scored as wrong.
``--errors FILE`` writes every misjudged or unscored pair (``geoalign.evaluate.errors``).
``--binary`` adds the same-place reading for files labelled 0/1 (the Shenzhen pairs: 1 = the same
place): a label other than not_match is a match, and so is an answer of exact_match or partial_match
(``--binary exact``: exact_match only). Without it, a file whose labels are only 0 and 1 is read as
not_match / partial_match, so the report says so and points to ``--binary``.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.cli.options import add_encoding_option
    from geoalign.evaluate.errors import ERROR_COLUMNS
    from geoalign.scorers.spec import ScorerSpec

    parser.add_argument(
        "--pairs",
        required=True,
        help="labelled pairs: TSV/CSV with columns a, b, label (by name, or the first three), or JSONL; "
        "labels are exact_match/partial_match/not_match or 2/1/0",
    )
    parser.add_argument(
        "--subset", choices=("all", "test", "dev"), default="all", help="which queries to score"
    )
    parser.add_argument(
        "--binary",
        nargs="?",
        const="any",
        choices=("any", "exact"),
        help="also report binary P/R/F1 for 0/1 labels (1 = the same place): a label other than "
        "not_match is a match, and so is an answer of exact_match or partial_match ('any', the "
        "default), or of exact_match only ('exact')",
    )
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw the confusion matrix and calibration curve")
    parser.add_argument(
        "--errors",
        metavar="FILE",
        help="write every misjudged or unscored pair (.tsv .csv .jsonl .parquet .xlsx), columns: "
        + ", ".join(ERROR_COLUMNS),
    )
    add_encoding_option(parser)
    parser.add_argument("--no-progress", action="store_true")
    ScorerSpec.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from geoalign.api import Matcher
    from geoalign.errors import InputError
    from geoalign.evaluate.metrics import (
        binary_report,
        classification_report,
        expected_calibration_error,
        format_binary_report,
        format_report,
    )
    from geoalign.io.labels import read_labelled_pairs
    from geoalign.io.paths import check_output
    from geoalign.scorers.spec import ScorerSpec
    from geoalign.scorers.structured_train import is_test_query
    from geoalign.types import AddressPair, Match

    check_output(args.errors, [args.pairs], option="--errors")
    if args.errors:
        from geoalign.io.formats import output_format

        output_format(args.errors, option=None)
    check_output(args.plot, [args.pairs], option="--plot")
    pairs = read_labelled_pairs(args.pairs, encoding=args.encoding)
    if args.subset != "all":
        want_test = args.subset == "test"
        pairs = [p for p in pairs if is_test_query(p.a) == want_test]
        if not pairs:
            raise InputError(f"{args.pairs}: no pairs in the {args.subset} subset")
    matcher = Matcher(ScorerSpec.from_args(args), batch_size=args.batch_size)
    progress = not args.no_progress and sys.stderr.isatty()
    results = matcher.score([AddressPair(p.a, p.b) for p in pairs], show_progress=progress)
    truth, pred, confidences, correct = [], [], [], []
    errors = 0
    for pair, result in zip(pairs, results, strict=True):
        if not isinstance(result, Match):
            errors += 1
            continue
        truth.append(pair.label)
        pred.append(result.label)
        confidences.append(result.confidence)
        correct.append(result.label == pair.label)
    if not truth:
        raise InputError(f"{args.pairs}: none of the {len(pairs)} pairs could be scored")
    report = classification_report(truth, pred)
    # how far the top label's probability is from how often it is right (10 equal-width bins): a
    # calibrated judge's 0.8 is right 80% of the time, which thresholds on the probabilities rely on
    calibration = {
        "ece": expected_calibration_error(confidences, correct),
        "mean_confidence": sum(confidences) / len(confidences),
    }
    binary = None
    if args.binary:
        matches = ("exact_match",) if args.binary == "exact" else ("exact_match", "partial_match")
        binary = binary_report([t != "not_match" for t in truth], [p in matches for p in pred])
        counted = " or ".join(matches)
    # 0/1 labels read as not_match / partial_match: a three-label report of a binary file misleads
    binary_hint = not args.binary and "exact_match" not in truth
    if args.json:
        payload = {**report.to_dict(), "calibration": calibration, "unscored": errors}
        if binary is not None:
            payload["binary"] = {**binary.to_dict(), "match": counted}
        print(json.dumps({**payload, "model": matcher.model_id}, ensure_ascii=False))
    else:
        print(f"scorer: {matcher.scorer.name} ({matcher.model_id}), subset: {args.subset}")
        print(format_report(report))
        print(
            f"calibration: ECE {calibration['ece']:.4f} (top label, 10 bins), "
            f"mean confidence {calibration['mean_confidence']:.4f}"
        )
        if binary is not None:
            print()
            print(format_binary_report(binary, counted))
        if errors:
            print(f"unscored pairs (errors): {errors}")
    if binary_hint:
        print(
            f"note: no pair of {args.pairs} is labelled exact_match (2); if its labels are 0/1 for "
            "another place / the same place, --binary reports them as such",
            file=sys.stderr,
        )
    if args.errors:
        from geoalign.evaluate.errors import ERROR_COLUMNS, misjudged_rows
        from geoalign.io.writers import write_table

        rows = list(misjudged_rows(pairs, results))
        write_table(args.errors, ERROR_COLUMNS, rows)
        print(f"misjudged or unscored pairs: {len(rows)} -> {args.errors}", file=sys.stderr)
    if args.plot:
        from geoalign.evaluate.plots import plot_evaluation

        plot_evaluation(report, confidences, correct, args.plot, title=f"{matcher.model_id} on {args.pairs}")
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0
