"""The CLI front door: instant help, versions, clear errors for unknown commands."""

from __future__ import annotations

import subprocess
import sys

from geoalign.cli.main import SUBCOMMANDS, main

HEAVY = (
    "torch",
    "transformers",
    "onnxruntime",
    "lightgbm",
    "fastapi",
    "uvicorn",
    "pyarrow",
    "numpy",
    "rapidfuzz",
    "opencc",
    "pycrfsuite",
    "ray",
    "redis",
    "matplotlib",
)


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from geoalign.cli.main import main\n"
        "main(['--help'])\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    for name in SUBCOMMANDS:
        assert name in out


def test_every_registered_subcommand_module_exists_or_is_reported() -> None:
    # A registered name whose module is missing would crash with ModuleNotFoundError for users.
    import importlib.util

    missing = [mod for mod, _ in SUBCOMMANDS.values() if importlib.util.find_spec(mod) is None]
    assert missing == [], f"registered subcommands without a module: {missing}"


def test_version_shows_package_and_data(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("geoalign ")
    assert "gazetteer:" in out


def test_unknown_command_exits_non_zero(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "usage: geoalign [-h] [--version] [COMMAND]",
        "geoalign: error: unknown command 'no-such-command' (see 'geoalign --help')",
    ]
