"""A training run's files: its resumable state (``OUT/last.pt``: model, optimizer, scheduler, torch RNG
and the run's own counters — step, best score, …), shared by ``train-neural`` and ``pretrain-neural``,
and its log, shared by every trainer (``train-neural``, ``pretrain-neural``, the retrieval trainer).

The state is written to a temporary file and renamed, so a crash while saving leaves the previous one
whole.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

_OBJECTS = ("model", "optimizer", "scheduler", "torch_rng")


def save_state(path: Path, model: Any, optimizer: Any, scheduler: Any, **counters: Any) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        **counters,
    }
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any] | None:
    """Restore ``path`` into the given objects and return the saved counters; None where there is no
    saved state (a fresh run)."""
    if not path.is_file():
        return None
    import torch

    # weights_only=False: the optimizer and scheduler states hold plain Python objects; the file is
    # one this run (or its previous attempt) wrote into its own output directory.
    state = torch.load(path, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return {k: v for k, v in state.items() if k not in _OBJECTS}


def log_line(path: Path, message: str) -> None:
    """Print ``message`` with the time of day and append the same line to the run's log file."""
    line = f"{time.strftime('%H:%M:%S')} {message}"
    print(line, flush=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
