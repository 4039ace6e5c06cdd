"""Run a snippet in a fresh interpreter: for process-wide state (the garbage collector's thresholds, exit
hooks) that a test must observe without changing the test process's own."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    """``code`` (dedented) run by this interpreter in a new process; its stdout, stripped. The process
    must succeed (its stderr is the assertion message)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()
