"""Link two address tables, or deduplicate one, end to end: the public entry points in one place.

The work is split by job: ``tables`` (records from files or Python objects), ``settings`` (what
decides the answer vs how a run behaves), ``core`` (per chunk: queries + candidates + judge -> typed
results, shared by every engine), ``rows`` (typed rows and their columns), ``summary`` (typed run
reports), ``driver`` (files: streaming, resumable) and ``memory`` (Python objects). The Ray engine
(``geoalign.link.ray_engine``) calls the same core from its scoring actors.

Link output (one row per left record, unmatched and unusable ones included)::

    left_id, left_address, [left_<carried>...], status, right_id, right_address, [right_<carried>...],
    label, p_exact_match, p_partial_match, p_not_match, p_exact_reverse, same_place, margin,
    second_right_id, n_candidates, explanation, error

``status`` is ``match`` (the best candidate is the same place), ``no_match`` (the best candidate is not
the same place; it is still shown), ``no_candidates`` (blocking found nothing) or ``error`` (the
record cannot take part, e.g. an empty address; ``error`` says why). The best candidate is
the one with the highest forward (left -> right) exact_match probability (1.0 for an identical
normalized text); ``margin`` is its lead over the second best: a small margin means "look at this one".

Dedupe output (one row per record): ``id, address, [carried...], cluster_id, cluster_size, status,
error`` where status is ``existing`` / ``new`` in incremental mode, ``record`` otherwise, and ``error``
for a record that cannot take part (no cluster; ``error`` says why).
"""

from __future__ import annotations

from geoalign.link.driver import dedupe, link
from geoalign.link.memory import dedupe_records, link_records
from geoalign.link.rows import LINK_RESULT_COLUMNS, DedupeStatus, LinkStatus
from geoalign.link.settings import LinkSettings, RunFlags, default_scorer
from geoalign.link.summary import DedupeSummary, LinkSummary, RunSummary, cluster_report
from geoalign.link.tables import TableSpec, read_true_pairs

__all__ = [
    "LINK_RESULT_COLUMNS",
    "DedupeStatus",
    "DedupeSummary",
    "LinkSettings",
    "LinkStatus",
    "LinkSummary",
    "RunFlags",
    "RunSummary",
    "TableSpec",
    "cluster_report",
    "dedupe",
    "dedupe_records",
    "default_scorer",
    "link",
    "link_records",
    "read_true_pairs",
]
