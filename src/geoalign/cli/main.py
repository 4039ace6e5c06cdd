"""Entry point of the ``geoalign`` command.

Subcommands are listed here by name only and imported when used, so ``geoalign --help`` and
``geoalign --version`` import nothing heavy (a test checks ``sys.modules``). Each subcommand module has
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: name -> (module, one-line help). Add a subcommand by adding a line and a module; nothing else changes.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "normalize": ("geoalign.cli.normalize", "normalize addresses (text in, JSON out)"),
    "parse": ("geoalign.cli.parse", "split addresses into components with offsets (JSON out)"),
    "eval-parse": ("geoalign.cli.eval_parse", "per-element P/R/F1 of the parser on a labelled file"),
    "match": ("geoalign.cli.match", "compare two addresses"),
    "score": ("geoalign.cli.score", "score a file of address pairs (CSV/TSV/JSONL/Parquet/XLSX)"),
    "train": ("geoalign.cli.train", "train the embedded matcher on labelled pairs"),
    "train-neural": ("geoalign.cli.train_neural", "train the neural matcher (pretrained encoder)"),
    "pretrain-neural": ("geoalign.cli.pretrain_neural", "masked-LM pretraining of the neural encoder"),
    "eval": ("geoalign.cli.eval", "evaluate a scorer on labelled pairs"),
    "profile": ("geoalign.cli.profile", "per-stage timings of a scorer"),
    "verify-mgeo": ("geoalign.cli.verify_mgeo", "check a real MGeo checkpoint against reference outputs"),
    "serve": ("geoalign.cli.serve", "run the HTTP service (async engine, dynamic batching, cache)"),
    "export": ("geoalign.cli.export", "export a model to ONNX (fp32/fused/int8)"),
    "link": ("geoalign.cli.link", "link two address tables (blocking, cascade, best match per record)"),
    "dedupe": ("geoalign.cli.dedupe", "cluster the records of a table that denote the same place"),
}


def _version_text() -> str:
    from geoalign import __version__

    lines = [f"geoalign {__version__}"]
    try:
        from geoalign.address.gazetteer import data_version
    except ImportError:  # the address layer is optional during bootstrap of a partial install
        return lines[0]
    lines.append(f"gazetteer: {data_version()}")
    return "\n".join(lines)


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in SUBCOMMANDS)
    listing = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in SUBCOMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="geoalign",
        description="Decide whether two Chinese addresses denote the same place, and align address tables.",
        epilog=f"commands:\n{listing}\n\nRun 'geoalign COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="show versions (package, gazetteer data)")
    parser.add_argument("command", nargs="?", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as the ``geoalign`` program (not called by a test or a library): exit fast
        from geoalign.collector import pace_for_long_runs
        from geoalign.quick_exit import freeze_heap_at_exit

        freeze_heap_at_exit()
        pace_for_long_runs()  # the collector's passes over cached parses cost ~20 % of scoring
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        parser = _top_parser()
        if not args or args[0] in {"-h", "--help"}:
            parser.print_help()
            return 0
        if args[0] == "--version":
            print(_version_text())
            return 0
        parser.print_usage(sys.stderr)
        print(f"geoalign: error: unknown command {args[0]!r} (see 'geoalign --help')", file=sys.stderr)
        return 2
    name, rest = args[0], args[1:]
    module_name, help_ = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"geoalign {name}", description=help_)
    module.add_arguments(parser)
    ns = parser.parse_args(rest)
    from geoalign.errors import GeoalignError

    try:
        return int(module.run(ns) or 0)
    except GeoalignError as exc:
        print(f"geoalign {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"geoalign {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # the file system said no (read-only directory, disk full, permission): one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"geoalign {name}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
