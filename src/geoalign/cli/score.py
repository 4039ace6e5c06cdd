"""``geoalign score INPUT -o OUTPUT``: score a file of address pairs.

Output: the input columns, then ``label``, ``p_exact_match``, ``p_partial_match``, ``p_not_match``,
``error``. Rows that cannot be scored (empty address, malformed line, ...) are written with an error and
no label; they are never dropped and never stop the job. Finished chunks go to ``OUTPUT.partial``; a
rerun of the same command continues after the last finished chunk; the output file appears atomically
at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from geoalign.types import LABELS

RESULT_COLUMNS = ("label", "p_exact_match", "p_partial_match", "p_not_match", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geoalign.io.formats import FORMATS
    from geoalign.scorers.registry import add_scorer_arguments

    parser.add_argument("input", help="CSV / TSV / JSONL / Parquet / XLSX file of pairs")
    parser.add_argument("-o", "--output", required=True, help="output file (format from its suffix)")
    parser.add_argument(
        "--a", "--column-a", dest="col_a", default="1", help="column of address a (name or 1-based)"
    )
    parser.add_argument(
        "--b", "--column-b", dest="col_b", default="2", help="column of address b (name or 1-based)"
    )
    parser.add_argument("--format", choices=sorted(FORMATS), help="input format (default: from the suffix)")
    parser.add_argument(
        "--output-format", choices=sorted(FORMATS), help="output format (default: from the suffix)"
    )
    parser.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether a CSV/TSV/XLSX input has a header row (default: detect)",
    )
    parser.add_argument("--batch-size", type=int, default=4096, help="pairs per batch and per checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--restart", action="store_true", help="ignore an existing partial output")
    add_scorer_arguments(parser)


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _error_text(code: str, message: str) -> str:
    return json.dumps({"code": code, "message": message}, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    from geoalign.errors import InputError
    from geoalign.io.formats import detect_format
    from geoalign.io.resume import PartialOutput, input_fingerprint
    from geoalign.io.tables import read_table, resolve_column
    from geoalign.scorers.registry import scorer_from_args
    from geoalign.types import AddressPair, ItemError

    if args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    out_fmt = detect_format(args.output, args.output_format)
    progress = not args.no_progress and sys.stderr.isatty()
    table = read_table(args.input, args.format, header=args.header, count=progress)
    if not table.columns:
        raise InputError(f"{args.input}: no rows")
    ia, ib = resolve_column(table.columns, args.col_a), resolve_column(table.columns, args.col_b)
    in_columns = [f"input_{c}" if c in RESULT_COLUMNS else c for c in table.columns]
    renamed = [c for c in table.columns if c in RESULT_COLUMNS]
    if renamed:
        print(f"geoalign score: input columns {renamed} renamed with prefix 'input_'", file=sys.stderr)
    columns = [*in_columns, *RESULT_COLUMNS]
    scorer = scorer_from_args(args)
    if hasattr(scorer, "explain"):
        # the output file has no explanation column: skip building one per pair (a third of finish)
        scorer.explain = False
    fingerprint = input_fingerprint(
        args.input,
        a=ia,
        b=ib,
        header=table.header,
        format=table.fmt,
        scorer=scorer.name,
        model=scorer.model_id,
    )
    partial = PartialOutput(args.output, fingerprint, columns)
    done = partial.start(resume=not args.restart)
    if partial.stale_reason:
        print(f"geoalign score: {partial.stale_reason}", file=sys.stderr)
    if done:
        print(f"geoalign score: resuming after {done} rows already in {partial.path}", file=sys.stderr)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=table.total, initial=done, unit="pairs", file=sys.stderr)
    start = time.perf_counter()
    n_rows = n_errors = 0
    rows = iter(table.rows)
    for _ in range(done):  # already in the partial file
        if next(rows, None) is None:
            break
    try:
        for chunk in _chunks(rows, args.batch_size):
            pairs = [AddressPair(r.values[ia], r.values[ib]) for r in chunk if r.error is None]
            results = iter(scorer.score(pairs)) if pairs else iter(())
            out_rows = []
            for r in chunk:
                result: Any = r.error if r.error is not None else next(results)
                if isinstance(result, ItemError):
                    n_errors += 1
                    message = result.message if r.error is not None else f"line {r.line}: {result.message}"
                    out_rows.append([*r.values, None, None, None, None, _error_text(result.code, message)])
                else:
                    probs = [round(result.probabilities[name], 6) for name in LABELS]
                    out_rows.append([*r.values, result.label, *probs, None])
            partial.append(out_rows)
            n_rows += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    partial.finish(out_fmt)
    seconds = time.perf_counter() - start
    rate = n_rows / seconds if seconds > 0 else 0.0
    print(
        f"geoalign score: {done + n_rows} rows -> {args.output} ({n_errors} error rows this run; "
        f"{n_rows} rows in {seconds:.2f}s, {rate:.0f} rows/s)",
        file=sys.stderr,
    )
    return 0
