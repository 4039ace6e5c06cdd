"""``--engine ray``: link and dedupe on a Ray cluster with Ray Data, streaming end to end.

Why Ray Data and not a home-made engine: it already schedules CPU tasks and GPU actors, streams blocks
between stages with backpressure, spills to disk, and retries tasks and restarts actors on lost
workers. This module only maps the single-machine pipeline (``geoalign.link.pipeline``) onto it:

    read (Parquet row groups in parallel; CSV/TSV/JSONL/XLSX through geoalign's own readers)
      -> analyze: clean + normalize + parse + blocking keys              (CPU tasks)
      -> explode keys, ``groupby(key)``: each block is joined in one task
      -> ``--ann``: embed (CPU tasks), build the index once on the driver, search (CPU tasks)
      -> ``groupby(query)``: the same ``BlockIndex.candidates`` ranking as the local engine, united
         with the nearest neighbours as the local core does (``ray_engine.retrieval``)
      -> join the candidates' right records                              (hash joins)
      -> ``SamePlaceJudge`` in an actor pool (the scorer loaded once per actor; ``num_gpus`` per actor)
      -> write Parquet (a dataset directory, written by the workers)

The driver holds Parquet metadata, the run counters and object references, never a table: a row goes
from the readers to the writers without passing through it (the benchmark measures its peak memory).
For dedupe the driver collects the *same-place edges* only (a small fraction of the pairs) and builds
the clusters over the records they touch with the local union-find (every other record is its own
cluster), so stable cluster IDs and the giant-cluster guard are exactly the local ones.

Same results as the local engine: candidates are ranked by the very same ``BlockIndex.candidates``
(each query's keys in their original order, blocks in record order, so even float ties break the same
way), and the same judge and row builder are used. Row *order* is not kept (a cluster writes in
parallel): sort by ``left_id`` (link) or ``id`` (dedupe). Carried columns keep their Parquet type and
are text when read from text formats.

Failure handling is Ray's: analysis and blocking tasks are retried; scoring actors are restarted
(``max_restarts``) and their in-flight batch re-run (``max_task_retries``). A batch's output is only
kept once its task succeeds, so a killed worker neither loses nor duplicates rows (tested).

Not supported here (clear errors, use the local engine): resuming a partial run (Ray retries instead),
``--explain-blocking`` / ``--labels``, incremental dedupe (``--existing``), and non-Parquet outputs.
"""

from __future__ import annotations

from geoalign.link.ray_engine.common import RayOptions, ScorerFactory
from geoalign.link.ray_engine.judge import actor_cpus, link_output_schema
from geoalign.link.ray_engine.run import dedupe_ray, init_ray, link_ray

__all__ = [
    "RayOptions",
    "ScorerFactory",
    "actor_cpus",
    "dedupe_ray",
    "init_ray",
    "link_output_schema",
    "link_ray",
]
