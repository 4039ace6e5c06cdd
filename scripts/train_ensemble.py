"""Train an ensemble of neural-matcher teachers side by side, then distil it into students: one command.

Why: on validation two teachers (6 and 12 layers) distilled into one 6-layer student gained 0.011
macro-F1 over either alone (MODEL_CARD, session 3); more teachers cost nothing at serving time, only
training time. On one GPU the small encoders leave it mostly idle, so several ``geoalign train-neural``
runs share it as separate processes (``--parallel``); on a CPU run them one at a time.

Phases, each a set of ordinary ``train-neural`` runs under ``OUT`` (each resumable, logs in its folder):

1. *Inits*: ``--init`` is a 12-layer pruned e5 init (``train-neural``'s ``RUN/init``, fp32 or fp16
   weights); members with fewer layers get its first N layers (``OUT/init{N}``, fp32).
2. *Teachers* (``--teacher L:LR:EPOCHS:SEED`` …), at most ``--parallel`` at once. A teacher still running
   at ``--teacher-deadline-s`` is stopped; its best epoch so far (if any) still teaches.
3. *Ensemble report*: every teacher's and the ensemble's (mean log-probabilities) macro-F1 on the
   validation split, from the runs' own ``val_logits_best.npy``.
4. *Students* (``--student NAME:LR:EPOCHS:SHENZHEN_PER_EPOCH`` …): each starts from the best teacher
   with ``--student-layers`` layers (6; by validation) and learns from every finished teacher's soft
   labels; stopped at ``--deadline-s`` from the start like the teachers.
5. *Pack* (``--pack DIR``): each student's ``best/`` with its weights stored as fp16 shards of at most
   ``--shard-size`` (what a file-size-limited transfer takes back), and ``summary.json``.

Nothing here reads the frozen test fold: the runs split the CCKS slice as ``train-neural`` does.

    python scripts/train_ensemble.py --ccks C --shenzhen S --init RUN12/init -o artifacts/neural/ens \\
        --teacher 6:1.2e-4:6:1 6:1.2e-4:6:2 12:1e-4:5:1 12:1e-4:5:2 --student kd:5e-5:3:6000 --parallel 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geoalign.neural.checkpoint import log_line
from geoalign.neural.data import ccks_splits
from geoalign.neural.tag_decode import log_softmax
from geoalign.neural.train import macro_f1

COMMON = ["--class-weights", "1", "1", "3.5", "--synth-per-epoch", "0"]


@dataclass(frozen=True)
class Teacher:
    layers: int
    lr: str
    epochs: int
    seed: int

    @property
    def name(self) -> str:
        return f"t{self.layers}L_s{self.seed}"


@dataclass(frozen=True)
class Student:
    name: str
    lr: str
    epochs: int
    shenzhen_per_epoch: int


def parse_teacher(text: str) -> Teacher:
    layers, lr, epochs, seed = text.split(":")
    return Teacher(int(layers), lr, int(epochs), int(seed))


def parse_student(text: str) -> Student:
    name, lr, epochs, per_epoch = text.split(":")
    return Student(name, lr, int(epochs), int(per_epoch))


def log(out: Path, message: str) -> None:
    log_line(out / "ensemble.log", message)


def make_init(full: Path, layers: int, out: Path) -> Path:
    """``full``'s first ``layers`` layers as an fp32 init directory (the full one too, in fp32)."""
    import torch
    from transformers import BertForSequenceClassification

    target = out / f"init{layers}"
    if (target / "config.json").is_file():
        return target
    model = BertForSequenceClassification.from_pretrained(full, num_hidden_layers=layers, dtype=torch.float32)
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(full / name, target / name)
    meta = json.loads((full / "geoalign_neural.json").read_text(encoding="utf-8"))
    meta["layers"] = layers
    (target / "geoalign_neural.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return target


TRAIN_NEURAL = (sys.executable, "-m", "geoalign", "train-neural")


def run_all(
    jobs: list[tuple[str, list[str]]],
    out: Path,
    parallel: int,
    deadline: float,
    env: dict[str, str],
    command: tuple[str, ...] = TRAIN_NEURAL,
) -> dict[str, int | None]:
    """Run ``command -o OUT/NAME ARGS`` for each (NAME, ARGS) job, ``parallel`` at once; stop what is
    still running at ``deadline`` (epoch time). Returns each job's exit status (None: stopped)."""
    waiting = list(jobs)
    running: dict[str, subprocess.Popen[bytes]] = {}
    status: dict[str, int | None] = {}

    def stop_running(why: str) -> None:
        # each run is its own process group (so its workers go too); the driver dying must not leave
        # training processes holding the GPU
        for name, proc in running.items():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            status[name] = None
            log(out, f"{name} stopped ({why})")
        running.clear()

    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                name, args = waiting.pop(0)
                (out / name).mkdir(parents=True, exist_ok=True)
                with open(out / name / "stdout.log", "ab") as sink:
                    cmd = [*command, "-o", str(out / name), *args]
                    running[name] = subprocess.Popen(
                        cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
                    )
                log(out, f"started {name}: {' '.join(args)}")
            time.sleep(2)
            for name, proc in list(running.items()):
                if proc.poll() is not None:
                    status[name] = proc.returncode
                    log(out, f"{name} exited {proc.returncode}")
                    del running[name]
            if time.time() > deadline:
                stop_running("deadline")
                for name, _ in waiting:
                    status[name] = None
                    log(out, f"{name} never started (deadline)")
                waiting.clear()
    finally:
        stop_running("the driver is exiting")
    return status


def best_score(run: Path) -> float | None:
    meta = run / "best" / "geoalign_neural.json"
    if not meta.is_file():
        return None
    return float(json.loads(meta.read_text(encoding="utf-8"))["val_macro_f1"])


def pack(run: Path, target: Path, shard_size: str) -> None:
    """``run/best`` with fp16 weight shards of at most ``shard_size`` ("15MB"), ready to be turned back
    into fp32 with ``BertForSequenceClassification.from_pretrained(DIR, dtype=torch.float32)``."""
    import torch
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(run / "best", dtype=torch.float32)
    model.half().save_pretrained(target, max_shard_size=shard_size)
    for name in ("tokenizer.json", "tokenizer_config.json", "geoalign_neural.json"):
        shutil.copy(run / "best" / name, target / name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ccks", required=True)
    ap.add_argument("--shenzhen", required=True)
    ap.add_argument("--init", required=True, type=Path, help="a 12-layer pruned e5 init directory")
    ap.add_argument("-o", "--out", required=True, type=Path)
    ap.add_argument("--teacher", nargs="+", type=parse_teacher, required=True, metavar="L:LR:EPOCHS:SEED")
    ap.add_argument("--student", nargs="*", type=parse_student, default=[], metavar="NAME:LR:EPOCHS:SZ")
    ap.add_argument("--student-layers", type=int, default=6, help="students start from the best such teacher")
    ap.add_argument("--parallel", type=int, default=1, help="train-neural processes at once")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per process")
    ap.add_argument("--no-bf16", action="store_true", help="fp32 (default: bf16 where native)")
    ap.add_argument("--teacher-deadline-s", type=float, default=float("inf"))
    ap.add_argument("--deadline-s", type=float, default=float("inf"), help="students stop here (from start)")
    ap.add_argument("--pack", type=Path, default=None, help="write each student's fp16 shards here")
    ap.add_argument("--shard-size", default="15MB", help="largest packed weight file (transformers' units)")
    args = ap.parse_args()

    start = time.time()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"

    def base(shenzhen_per_epoch: int = 6000) -> list[str]:
        return [
            "--ccks", args.ccks, "--shenzhen", args.shenzhen, "--shenzhen-per-epoch", str(shenzhen_per_epoch),
            "--device", args.device, "--threads", str(args.threads), *COMMON,
            *(["--no-bf16"] if args.no_bf16 else []),
        ]  # fmt: skip

    inits = {n: make_init(args.init, n, out) for n in sorted({t.layers for t in args.teacher})}
    log(out, f"inits ready: {sorted(inits)} ({time.time() - start:.0f}s)")

    jobs = []
    for t in args.teacher:
        member = ["--init-from", str(inits[t.layers]), "--layers", str(t.layers), "--lr", t.lr]
        jobs.append((t.name, [*base(), *member, "--epochs", str(t.epochs), "--seed", str(t.seed)]))
    run_all(jobs, out, args.parallel, start + args.teacher_deadline_s, env)

    splits = ccks_splits(args.ccks)
    y_val = np.array([p.label_index for p in splits.validation])
    summary: dict[str, object] = {"teachers": {}, "students": {}}
    finished: list[Teacher] = []
    total = np.zeros((len(y_val), 3))
    for t in args.teacher:
        score = best_score(out / t.name)
        summary["teachers"][t.name] = score  # type: ignore[index]
        if score is None:
            log(out, f"teacher {t.name}: no finished epoch")
            continue
        finished.append(t)
        total += log_softmax(np.load(out / t.name / "val_logits_best.npy"))
        log(out, f"teacher {t.name}: val macro-F1 {score:.4f}")
    if not finished:
        log(out, "no teacher finished an epoch: nothing to distil")
        return 1
    ensemble, f1s = macro_f1(y_val, total.argmax(axis=1))
    summary["ensemble"] = {"macro_f1": ensemble, "f1": f1s, "members": [t.name for t in finished]}
    log(out, f"ensemble of {len(finished)}: val macro-F1 {ensemble:.4f} (not/partial/exact {f1s})")

    same_depth = [t for t in finished if t.layers == args.student_layers]
    if args.student and same_depth:
        start_from = max(same_depth, key=lambda t: best_score(out / t.name) or -1.0)
        summary["student_init"] = start_from.name
        teachers = [str(out / t.name / "best") for t in finished]
        jobs = []
        for s in args.student:
            member = ["--init-from", str(out / start_from.name / "best"), "--lr", s.lr]
            member += ["--layers", str(args.student_layers)]
            jobs.append((s.name, [*base(s.shenzhen_per_epoch), *member, "--epochs", str(s.epochs),
                                  "--teacher", *teachers]))  # fmt: skip
        run_all(jobs, out, args.parallel, start + args.deadline_s, env)
        for s in args.student:
            score = best_score(out / s.name)
            summary["students"][s.name] = score  # type: ignore[index]
            log(out, f"student {s.name}: val macro-F1 {score}")
            if score is not None and args.pack is not None:
                pack(out / s.name, args.pack / s.name, args.shard_size)
    elif args.student:
        log(out, f"no {args.student_layers}-layer teacher finished: students skipped")
    summary["seconds"] = round(time.time() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if args.pack is not None:
        args.pack.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "summary.json", args.pack / "summary.json")
    log(out, f"done in {summary['seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
