"""Scoring on Ray: each query packed with its candidates' records (hash joins), then judged in an
actor pool by the same per-chunk core as the local engine (``geoalign.link.core``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geoalign.link.candidates import Record, RecordAnalyzer, SamePlaceJudge, featurizer_of
from geoalign.link.core import Candidates, judge_dedupe, judge_link
from geoalign.link.ray_engine.common import (
    RayOptions,
    ScorerFactory,
    record_from_row,
    require_pyarrow,
    require_ray,
)
from geoalign.link.rows import LINK_RESULT_COLUMNS, carried_names, link_values
from geoalign.link.settings import LinkSettings


def _explode_candidates(batch: Any, *, n_carry: int) -> Any:
    """One row per (query, candidate) with the query's payload; a query without candidates keeps one
    row (rank -1) so it still reaches the output as ``no_candidates`` / ``error``."""
    pa = require_pyarrow()
    cols = ["pos", "id", "address", "line", "error", *(f"c{i}" for i in range(n_carry))]
    out: dict[str, list[Any]] = {name: [] for name in (*cols, "rank", "rpos", "n_cands", "src")}
    for row in batch.to_pylist():
        cands = row.get("cands") or []
        sources = row.get("sources")  # --ann: each candidate's source; else null (all "rules")
        for rank, rpos in enumerate(cands) if cands else [(-1, -1)]:
            for name in cols:
                out[name].append(row[name])
            out["rank"].append(rank)
            out["rpos"].append(rpos)
            out["n_cands"].append(len(cands))
            out["src"].append(sources[rank] if sources and rank >= 0 else None)
    schema = batch.select(cols).schema
    types = (("rank", pa.int32()), ("rpos", pa.int64()), ("n_cands", pa.int64()), ("src", pa.string()))
    for name, typ in types:
        schema = schema.append(pa.field(name, typ))
    return pa.Table.from_pydict(out, schema=schema)


def _rename_right(batch: Any, *, n_carry: int) -> Any:
    names = ["rpos", "r_id", "r_address", "r_line", *(f"r_c{i}" for i in range(n_carry))]
    return batch.select(["pos", "id", "address", "line", *(f"c{i}" for i in range(n_carry))]).rename_columns(
        names
    )


def _pack(group: Any, *, n_carry: int, n_rcarry: int) -> Any:
    """One query record with its candidates' records, in rank order (a list column per field)."""
    pa = require_pyarrow()
    rows = sorted(group.to_pylist(), key=lambda r: r["rank"])
    first = rows[0]
    cands = [r for r in rows if r["rank"] >= 0]
    if len(cands) != first["n_cands"]:
        # a join that lost a candidate would silently change results; this must never happen
        raise RuntimeError(f"query {first['pos']}: {len(cands)} of {first['n_cands']} candidates joined")
    schema = group.schema
    fields = [pa.field(n, schema.field(n).type) for n in ("pos", "id", "address", "line", "error")]
    fields += [schema.field(f"c{i}") for i in range(n_carry)]
    fields.append(pa.field("n_cands", pa.int64()))
    data: dict[str, list[Any]] = {f.name: [first[f.name]] for f in fields}
    # output list column <- the exploded rows' column (``src``: each candidate's source, --ann)
    lists = {name: name for name in ("r_id", "r_address", "r_line", *(f"r_c{i}" for i in range(n_rcarry)))}
    lists["r_src"] = "src"
    for name, column in lists.items():
        fields.append(pa.field(name, pa.list_(schema.field(column).type)))
        data[name] = [[r[column] for r in cands]]
    return pa.Table.from_pydict(data, schema=pa.schema(fields))


def with_records(query: Any, ranked: Any, index: Any, ropts: RayOptions, n_carry: int, n_rcarry: int) -> Any:
    """Each query record packed with its candidates' records (two hash joins and a group-by)."""
    joined = query.join(ranked, "left_outer", ropts.partitions, on=("pos",), right_on=("q",))
    exploded = joined.map_batches(_explode_candidates, fn_kwargs={"n_carry": n_carry}, batch_format="pyarrow")
    right = index.map_batches(_rename_right, fn_kwargs={"n_carry": n_rcarry}, batch_format="pyarrow")
    paired = exploded.join(right, "left_outer", ropts.partitions, on=("rpos",))
    return paired.groupby("pos", num_partitions=ropts.partitions).map_groups(
        _pack, fn_kwargs={"n_carry": n_carry, "n_rcarry": n_rcarry}, batch_format="pyarrow"
    )


def link_output_schema(
    left_types: Sequence[Any],
    right_types: Sequence[Any],
    left_carry: Sequence[str],
    right_carry: Sequence[str],
) -> Any:
    pa = require_pyarrow()
    f64 = pa.float64()
    left_names, right_names = carried_names(left_carry, right_carry)
    fields = [pa.field("left_id", pa.string()), pa.field("left_address", pa.string())]
    fields += [pa.field(n, t) for n, t in zip(left_names, left_types, strict=True)]
    fields += [
        pa.field("status", pa.string()),
        pa.field("right_id", pa.string()),
        pa.field("right_address", pa.string()),
    ]
    fields += [pa.field(n, t) for n, t in zip(right_names, right_types, strict=True)]
    types = {
        "label": pa.string(),
        "p_exact_match": f64,
        "p_partial_match": f64,
        "p_not_match": f64,
        "p_exact_reverse": f64,
        "same_place": pa.bool_(),
        "margin": f64,
        "second_right_id": pa.string(),
        "n_candidates": pa.int64(),
        "candidate_source": pa.string(),
        "explanation": pa.string(),
        "error": pa.string(),
    }
    fields += [pa.field(name, types[name]) for name in LINK_RESULT_COLUMNS[1:]]
    return pa.schema(fields)


class _Judge:
    """The scoring actor: the scorer is built once per actor (a model loaded once, on its GPU where
    the actor has one); each batch of query records goes through the local engine's per-chunk core."""

    def __init__(
        self,
        factory: ScorerFactory,
        rules: Sequence[str],
        settings: LinkSettings,
        with_explanation: bool,
        n_carry: int,
        n_rcarry: int,
        out_schema: Any,
        dedupe: bool,
    ) -> None:
        from geoalign.collector import pace_for_long_runs

        pace_for_long_runs()  # the actor's process is geoalign's for its life: score as the CLI does
        self.scorer = factory()
        self.scorer.warmup()
        self.analyzer = RecordAnalyzer(featurizer_of(self.scorer), rules)
        self.judge = SamePlaceJudge(self.scorer, threshold=settings.threshold, batch_size=settings.batch_size)
        self.with_explanation = with_explanation
        self.n_carry = n_carry
        self.n_rcarry = n_rcarry
        self.out_schema = out_schema
        self.dedupe = dedupe

    def _unpack(self, batch: Any) -> tuple[list[Record], Candidates]:
        """The batch's query records and their candidates (already ranked, records joined)."""
        queries: list[Record] = []
        records: list[Record] = []
        per_query: list[list[int]] = []
        sources: list[list[str]] = []
        for row in batch.to_pylist():
            sources.append(row["r_src"])
            carry = [row[f"c{i}"] for i in range(self.n_carry)]
            queries.append(record_from_row(row["id"], row["address"], row["line"], row["error"], carry))
            positions = []
            for k, rid in enumerate(row["r_id"]):
                rcarry = [row[f"r_c{i}"][k] for i in range(self.n_rcarry)]
                positions.append(len(records))
                records.append(record_from_row(rid, row["r_address"][k], row["r_line"][k], None, rcarry))
            per_query.append(positions)
        self.analyzer.analyze_many([*queries, *records])  # one batched parse of the block's addresses
        # with --ann every candidate carries its source (rules / ann / both); without, none does
        with_sources = any(None not in tags for tags in sources if tags)
        return queries, Candidates(records, per_query, sources if with_sources else None)

    def __call__(self, batch: Any) -> Any:
        pa = require_pyarrow()
        queries, candidates = self._unpack(batch)
        if self.dedupe:
            edges = [e for per_query in judge_dedupe(queries, candidates, self.judge) for e in per_query]
            return pa.table(
                {
                    "a": pa.array([e.a for e in edges], pa.string()),
                    "b": pa.array([e.b for e in edges], pa.string()),
                    "score": pa.array([e.score for e in edges], pa.float64()),
                }
            )
        names = self.out_schema.names
        rows = [
            dict(zip(names, link_values(result, self.n_rcarry, self.with_explanation), strict=True))
            for result in judge_link(queries, candidates, self.judge)
        ]
        return pa.Table.from_pylist(rows, schema=self.out_schema)


def actor_cpus(ropts: RayOptions, cluster_cpus: float) -> float:
    """CPUs reserved per scoring actor. Upstream stages (reads, parse, shuffles) run while the actors
    score; if the pool reserved every CPU they could never be scheduled and the run would hang (seen
    on 2 cores with 2 actors). So the pool leaves one CPU free, sharing the rest among its actors
    (the cores are then shared in time, not reserved: the throughput is what it is)."""
    spare = max(cluster_cpus - 1.0, 0.1)
    return min(ropts.cpus_per_actor, spare / max(ropts.actors[1], 1))


def judged(
    packed: Any,
    factory: ScorerFactory,
    rules: Sequence[str],
    settings: LinkSettings,
    with_explanation: bool,
    ropts: RayOptions,
    n_carry: int,
    n_rcarry: int,
    out_schema: Any,
    dedupe: bool,
) -> Any:
    ray = require_ray()
    remote: dict[str, Any] = {"max_restarts": ropts.max_restarts, "max_task_retries": ropts.max_task_retries}
    return packed.map_batches(
        _Judge,
        fn_constructor_args=(
            factory,
            tuple(rules),
            settings,
            with_explanation,
            n_carry,
            n_rcarry,
            out_schema,
            dedupe,
        ),
        batch_format="pyarrow",
        batch_size=ropts.batch_records,
        compute=ray.data.ActorPoolStrategy(min_size=ropts.actors[0], max_size=ropts.actors[1]),
        num_cpus=actor_cpus(ropts, ray.cluster_resources().get("CPU", 1.0)),
        num_gpus=ropts.num_gpus or None,
        **remote,
    )
