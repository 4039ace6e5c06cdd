"""Write ``src/geoalign/data/divisions.index``: the gazetteer's indexes, built from the shipped data files.

Run it after changing ``divisions.tsv.gz``, ``changes.tsv`` or how ``gazetteer._Data`` builds its indexes
(then bump ``gazetteer.INDEX_BUILD``), and on a new Python version whose marshal format differs. A stale
index is never used (its key names the data, the build and the marshal format; the process builds the
indexes itself and logs a warning), and ``tests/unit/test_gazetteer.py`` fails until it is regenerated.

    python scripts/build_gazetteer_index.py
"""

from __future__ import annotations

from pathlib import Path

from geoalign.address import gazetteer

TARGET = Path(__file__).resolve().parents[1] / "src" / "geoalign" / "data" / gazetteer.INDEX_FILE


def main() -> None:
    gazetteer.write_index(TARGET)
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
