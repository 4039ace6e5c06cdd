"""``geoalign parse``: split addresses into components (JSON out).

One address as an argument prints one JSON object (``Components.to_dict``). ``--file FILE`` (or ``-`` for
stdin) parses one address per line and prints one JSON object per line, in input order; a line that
cannot be parsed (empty, whitespace only) prints an error object ``{"error": {...}, "line": N}`` in its
place — lines are never dropped, so output line N always answers input line N. Lines are decoded one by
one, so a line that is not UTF-8 gets a ``bad_encoding`` error object and its neighbours still parse.

File mode tags lines in blocks (``Parser.parse_many``: one batched feature pass and one batched Viterbi
per block). ``--workers N`` spreads the blocks over N processes, forked after the model is loaded so
they start at once; output order is kept.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from geoalign.errors import InputError

if TYPE_CHECKING:
    from geoalign.address.parse import Parser

#: lines per block handed to ``parse_many`` (and to a worker)
BLOCK_LINES = 2048
#: the smallest of the shrinking blocks at the end of a file parsed by several workers (see ``_blocks``);
#: smaller blocks pay the batched tagger's per-call overhead more often
TAIL_LINES = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", help="one address (omit when using --file)")
    parser.add_argument(
        "--file", metavar="FILE", help="parse one address per line of FILE ('-' = stdin), JSON lines out"
    )
    parser.add_argument("--indent", type=int, default=None, help="pretty-print single-address output")
    parser.add_argument(
        "--model",
        metavar="DIR",
        help="parser model: 'linear' (the shipped fast parser, default), 'neural' (the shipped accurate "
        "parser, ~10x slower) or a model directory",
    )
    parser.add_argument(
        "--domain",
        choices=("naacl", "ccks", "supermap"),
        help="tagging conventions to decode with (default: the model's default domain)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes for --file (0: one per usable CPU, a container's CPU quota included; default 1)",
    )


def _lines(path: str) -> Iterator[bytes]:
    """Raw lines: decoding is per line, so one badly encoded line becomes one error object."""
    if path == "-":
        yield from sys.stdin.buffer
        return
    try:
        fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the with below, inside the generator
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        yield from fh


def _blocks(path: str, workers: int = 1) -> Iterator[tuple[int, list[bytes]]]:
    """``(first line number, raw lines)`` blocks of ``BLOCK_LINES`` lines, in file order.

    With several workers the last lines are cut into shrinking blocks (each 1/(2 x workers) of what is
    left, down to ``TAIL_LINES``): blocks are handed out as workers free up, so a run ends when the
    worker with the last block finishes it, and with whole blocks the other worker sat idle for up to a
    block's time (~0.3 s of a 2 s run on 20,000 addresses). ``workers`` x ``BLOCK_LINES`` lines are read
    ahead to know where the end is. One worker gets the same blocks as before (nothing to balance).
    """
    reserve = BLOCK_LINES * workers if workers > 1 else 0
    pending: list[bytes] = []
    first = 1
    for raw_line in _lines(path):
        pending.append(raw_line)
        if len(pending) >= BLOCK_LINES + reserve:
            yield first, pending[:BLOCK_LINES]
            del pending[:BLOCK_LINES]
            first += BLOCK_LINES
    while pending:
        size = len(pending)
        if workers > 1:
            size = min(BLOCK_LINES, max(TAIL_LINES, -(-size // (2 * workers))))
        yield first, pending[:size]
        del pending[:size]
        first += size


#: the parser ``run`` chose (set before forking, so a worker inherits it); None: the shipped one
_chosen: Parser | None = None


def _parser() -> Parser:
    from geoalign.address.parse import default_parser

    return _chosen if _chosen is not None else default_parser()


def _answer_block(job: tuple[int, list[bytes]]) -> str:
    """JSON lines answering one block of raw lines (``first`` is the block's first line number)."""
    from geoalign.types import ItemError

    first, raw_lines = job
    answers: list[str] = [""] * len(raw_lines)
    texts: list[str] = []
    slots: list[int] = []
    for i, raw_line in enumerate(raw_lines):
        lineno = first + i
        try:
            text = raw_line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            answers[i] = _dumps(
                {"error": {"code": "bad_encoding", "message": f"line is not UTF-8: {exc}"}, "line": lineno}
            )
            continue
        if lineno == 1:
            text = text.removeprefix("\ufeff")  # a BOM is not part of the first address
        texts.append(text)
        slots.append(i)
    for i, result in zip(slots, _parser().parse_many_rows(texts), strict=True):
        if isinstance(result, ItemError):
            answers[i] = _dumps(
                {"error": {"code": result.code, "message": result.message}, "line": first + i}
            )
        else:
            answers[i] = components_json(*result)
    return "".join(answers)


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


_quote = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) quotes strings with


def components_json(raw: str, normalized: str, rows: list[tuple[str, str, int, int, str]]) -> str:
    """``json.dumps(Components(...).to_dict(), ensure_ascii=False) + "\\n"``, character for character,
    written directly from ``Parser.parse_many_rows``'s rows: no Component objects, no dicts (a third of
    the Python work per address after tagging was building and encoding them)."""
    quote = _quote
    items = ", ".join(
        [
            f'{{"name": {quote(name)}, "text": {quote(text)}, "start": {start!r}, "end": {end!r}, '
            f'"value": {quote(value)}}}'
            for name, text, start, end, value in rows
        ]
    )
    return f'{{"raw": {quote(raw)}, "normalized": {quote(normalized)}, "components": [{items}]}}\n'


def run(args: argparse.Namespace) -> int:
    global _chosen
    from geoalign.address.parse import Parser

    if (args.address is None) == (args.file is None):
        raise InputError("give either one ADDRESS or --file FILE (use '-' for stdin)")
    if args.model is not None or args.domain is not None:
        _chosen = Parser(args.model or "linear", domain=args.domain)
    if args.address is not None:
        print(json.dumps(_parser().parse(args.address).to_dict(), ensure_ascii=False, indent=args.indent))
        return 0
    from geoalign.cpus import resolve_workers

    workers = resolve_workers(args.workers)
    out = sys.stdout
    blocks = _blocks(args.file, workers)
    head = next(blocks, None)  # opens the file here, so an unreadable one is a clear error up front
    if head is None:
        return 0
    jobs = itertools.chain([head], blocks)
    parser = _parser()
    parser.load()  # the model and the gazetteer, side by side (once, before forking)
    parser.parse("杭州市")  # and the first call's lazy tables
    _settle_heap()
    if workers <= 1:
        for job in jobs:
            out.write(_answer_block(job))
    else:
        import multiprocessing

        from geoalign import forksafe
        from geoalign.cpus import cpu_share

        # a neural parser's ONNX session, opened again in each worker, gets that worker's share of cores
        share = cpu_share(workers)
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with context.Pool(workers, initializer=forksafe.set_child_threads, initargs=(share,)) as pool:
            for text in pool.imap(_answer_block, jobs):
                out.write(text)
    out.flush()
    return 0


def _settle_heap() -> None:
    """After loading: move the model's and the gazetteer's ~200,000 long-lived objects out of the cyclic
    collector's sight (``gc.freeze``) and collect young objects less often (``collector``). Parsing makes
    many small containers and no cycles; the collector's passes over them cost ~5 % of a run. A forked
    worker then also never touches the frozen objects' pages to scan them (copy-on-write stays shared)."""
    import gc

    from geoalign.collector import pace_for_long_runs

    gc.freeze()
    pace_for_long_runs()
