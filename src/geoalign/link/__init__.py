"""Table alignment: link two address tables or deduplicate one (blocking, cascade scoring, clusters).

The Python API mirrors the CLI (``geoalign link`` / ``geoalign dedupe``)::

    from geoalign.link import TableSpec, LinkSettings, link, dedupe
    summary = link(TableSpec("shops.csv", "addr", "shop_id"), TableSpec("poi.parquet", "address", "id"),
                   "links.csv", settings=LinkSettings(max_candidates=20))
    rows, summary = link_records([("a1", "杭州市西湖区文三路369号")], [("b1", "文三路３６９号")])

Submodules: ``blocking`` (keys, index, diagnostics), ``candidates`` (records, same-place judge),
``cluster`` (stable-id union-find), ``core`` (the per-chunk core every engine calls), ``pipeline`` (the
end-to-end entry points, see its docstring for the output columns). Imports are lazy so
``import geoalign.link`` stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "LinkSettings": "geoalign.link.pipeline",
    "RunFlags": "geoalign.link.pipeline",
    "LinkStatus": "geoalign.link.pipeline",
    "DedupeStatus": "geoalign.link.pipeline",
    "LinkSummary": "geoalign.link.pipeline",
    "DedupeSummary": "geoalign.link.pipeline",
    "RunSummary": "geoalign.link.pipeline",
    "TableSpec": "geoalign.link.pipeline",
    "dedupe": "geoalign.link.pipeline",
    "dedupe_records": "geoalign.link.pipeline",
    "link_records": "geoalign.link.pipeline",
    "link": "geoalign.link.pipeline",
    "default_scorer": "geoalign.link.pipeline",
    "read_true_pairs": "geoalign.link.pipeline",
    "Clusters": "geoalign.link.cluster",
    "Edge": "geoalign.link.cluster",
    "build_clusters": "geoalign.link.cluster",
    "BlockIndex": "geoalign.link.blocking",
    "format_report": "geoalign.link.blocking",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'geoalign.link' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
