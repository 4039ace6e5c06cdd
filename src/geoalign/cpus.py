"""How many CPUs this process may use: the number every "one per core" default starts from.

``os.cpu_count()`` is the machine's count, and ``os.sched_getaffinity`` only sees ``taskset`` and
cpusets; a container limited by a CPU *quota* (``docker --cpus 2``, a Kubernetes CPU limit) sees every
core of its host in both, so a default of one worker per core would start dozens of processes that
share two cores' worth of time and each hold their own models and caches. loky (joblib's process
executor) reads all of them, the cgroup v1/v2 quota included, and the ``LOKY_MAX_CPU_COUNT``
environment variable, and returns the smallest.
"""

from __future__ import annotations

from geoalign.errors import InputError


def usable_cpus() -> int:
    """CPUs this process may run on: the machine's, the affinity mask and the container's CPU quota,
    whichever is smallest (at least 1)."""
    from loky.backend.context import cpu_count  # imported here: ~50 ms, and only the pool defaults ask

    return max(1, int(cpu_count()))


def cpu_share(workers: int) -> int:
    """Intra-op threads for the model of each of ``workers`` processes: an equal share of the usable
    CPUs, at least 1 (each worker's runtime taking every core oversubscribes the machine)."""
    return max(1, usable_cpus() // max(1, workers))


def resolve_workers(requested: int) -> int:
    """A ``--workers`` option of the batch commands (``parse --file``, ``link``, ``dedupe``): 0 means
    one per usable CPU; otherwise at least 1."""
    if requested < 0:
        raise InputError(f"--workers must be 0 (one per core) or more, got {requested}")
    return requested or usable_cpus()


__all__ = ["cpu_share", "resolve_workers", "usable_cpus"]
