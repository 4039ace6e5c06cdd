"""The usable-CPU count behind every "one per core" default (serve, link/dedupe, parse, torch threads)."""

from __future__ import annotations

import os

import pytest

from geoalign.cpus import usable_cpus


def test_never_more_than_the_affinity_mask_and_at_least_one() -> None:
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


def test_a_cpu_cap_reaches_every_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # LOKY_MAX_CPU_COUNT stands in for a container's CPU quota: loky takes the smallest of the machine's
    # count, the affinity mask, the cgroup quota and this variable
    monkeypatch.setenv("LOKY_MAX_CPU_COUNT", "1")
    from geoalign.engine.pool import resolve_workers as serve_workers
    from geoalign.link.workers import resolve_workers as link_workers
    from geoalign.scorers.backend_torch import default_threads

    assert usable_cpus() == 1
    assert link_workers(0) == 1
    assert serve_workers(None, "structured") == 1
    assert default_threads() == 1


def test_a_quota_is_read_from_the_cgroup(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    # a cgroup v2 cpu.max of "100000 100000" is one CPU's worth of time, on a machine of several cores
    from loky.backend import context

    cpu_max = tmp_path / "cpu.max"  # type: ignore[operator]
    cpu_max.write_text("100000 100000\n")
    assert hasattr(context, "_cpu_count_cgroup"), "loky no longer reads the cgroup quota here"
    real_open = open

    def fake_open(path: object, *args: object, **kwargs: object) -> object:
        if str(path) == "/sys/fs/cgroup/cpu.max":
            return real_open(cpu_max, *args, **kwargs)  # type: ignore[call-overload]
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr(os.path, "exists", lambda p: str(p) == "/sys/fs/cgroup/cpu.max" or os.path.lexists(p))
    assert usable_cpus() == 1
