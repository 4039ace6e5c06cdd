"""File I/O at the edges: table readers/writers, labelled-pair files, atomic writes and resumable jobs.

Nothing in here knows about scorers; the CLI glues these pieces to a scorer.
"""

from __future__ import annotations

from geoalign.io.atomic import atomic_path, atomic_write_text
from geoalign.io.formats import FORMATS, detect_format
from geoalign.io.labels import LabelledPair, parse_label, read_labelled_pairs
from geoalign.io.tables import Table, TableRow, read_table
from geoalign.io.writers import write_table

__all__ = [
    "FORMATS",
    "LabelledPair",
    "Table",
    "TableRow",
    "atomic_path",
    "atomic_write_text",
    "detect_format",
    "parse_label",
    "read_labelled_pairs",
    "read_table",
    "write_table",
]
