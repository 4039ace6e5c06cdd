"""The geoalign export manifest: what an exported ONNX directory contains and how far it can be trusted.

Why a manifest: a deployed ONNX directory is run without torch or transformers, so everything the torch
loader used to work out from the checkpoint (label order, maximum length, whether token types are fed,
special-token ids) must be written down at export time. It also records where the graph came from (source
path and checksum, geoalign version, export options) and the parity measured against torch, so a
directory that was forced past a failed parity check says so forever.

Pure standard library (json, hashlib): reading a manifest must not need torch, transformers or onnx.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from geoalign.errors import ModelLoadError
from geoalign.io.atomic import atomic_write_text
from geoalign.types import LABELS

MANIFEST_NAME: Final = "geoalign_export.json"
FORMAT: Final = "geoalign-onnx-export"
FORMAT_VERSION: Final = 1
TOKENIZER_FILE: Final = "tokenizer.json"

#: The graph variants an export can hold; a directory always has fp32 (the parity reference).
VARIANTS: Final = ("fp32", "fused", "int8", "fp16")
#: Which variant a scorer runs when none is asked for: the fastest one that exists for that device kind.
#: On CPU the fused fp32 graph measured slightly *slower* than the plain one (ORT's own session fusions
#: already cover LayerNorm/GELU; its fused Attention kernel lost to MLAS matmuls: 44.6 vs 48.5 pairs/s in
#: the prototype, 2.2 vs 2.5 in bench_onnx.py); on CPU it matters as the source of the int8 graph.
CPU_PREFERENCE: Final = ("int8", "fp32", "fused")
GPU_PREFERENCE: Final = ("fp16", "fused", "fp32")

#: ONNX input names, in the order the graph declares them.
INPUT_NAMES: Final = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME: Final = "logits"


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks (graphs are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(slots=True)
class Variant:
    """One graph file of the export and the parity measured for it at export time.

    ``parity`` holds the measured numbers plus ``status``: ``passed``, ``failed`` (kept only because the
    export was forced) or ``not_checked`` (fp16 without a GPU).
    """

    file: str
    sha256: str
    precision: str
    parity: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        """The id a scorer reports: the graph file's checksum (short form, still collision-safe here)."""
        return f"onnx-{self.sha256[:16]}"


@dataclass(slots=True)
class Manifest:
    """The contents of ``geoalign_export.json``.

    ``labels`` are canonical names (exact_match / partial_match / not_match) in the model's output id
    order; ``source_labels`` are the names the source checkpoint used, in the same order. Files only ever
    carry names, never the model's ids.
    """

    labels: list[str]
    source_labels: list[str]
    max_length: int
    uses_token_type_ids: bool
    special_tokens: dict[str, int]
    source: dict[str, Any]
    geoalign_version: str
    export_options: dict[str, Any]
    variants: dict[str, Variant]
    tokenizer: dict[str, str] = field(default_factory=dict)
    created: str = ""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # ordered for humans: identity first, then what a runtime needs, then provenance
        keys = (
            "format",
            "format_version",
            "geoalign_version",
            "created",
            "labels",
            "source_labels",
            "max_length",
            "uses_token_type_ids",
            "special_tokens",
            "tokenizer",
            "variants",
            "source",
            "export_options",
        )
        return {k: data[k] for k in keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        validate_dict(data)
        variants = {name: Variant(**v) for name, v in data["variants"].items()}
        return cls(
            labels=list(data["labels"]),
            source_labels=list(data["source_labels"]),
            max_length=int(data["max_length"]),
            uses_token_type_ids=bool(data["uses_token_type_ids"]),
            special_tokens={k: int(v) for k, v in data["special_tokens"].items()},
            source=dict(data["source"]),
            geoalign_version=str(data["geoalign_version"]),
            export_options=dict(data["export_options"]),
            variants=variants,
            tokenizer=dict(data.get("tokenizer", {})),
            created=str(data.get("created", "")),
            format=data["format"],
            format_version=int(data["format_version"]),
        )

    def default_variant(self, *, gpu: bool) -> str:
        """The variant to run when the caller names none: fastest first for the device kind.

        int8 (MatMulInteger) is a CPU format and fp16 a GPU one, so each is only preferred on its side.
        """
        for name in GPU_PREFERENCE if gpu else CPU_PREFERENCE:
            if name in self.variants:
                return name
        return "fp32" if "fp32" in self.variants else next(iter(self.variants))


_REQUIRED: Final[dict[str, type | tuple[type, ...]]] = {
    "format": str,
    "format_version": int,
    "geoalign_version": str,
    "labels": list,
    "source_labels": list,
    "max_length": int,
    "uses_token_type_ids": bool,
    "special_tokens": dict,
    "variants": dict,
    "source": dict,
    "export_options": dict,
}


def validate_dict(data: Any) -> None:
    """Raise ModelLoadError naming the first problem of a manifest's JSON; return None if it is sound."""
    if not isinstance(data, dict):
        raise ModelLoadError("export manifest must be a JSON object")
    if data.get("format") != FORMAT:
        raise ModelLoadError(f"not a geoalign export manifest (format={data.get('format')!r})")
    for key, kind in _REQUIRED.items():
        if key not in data:
            raise ModelLoadError(f"export manifest lacks {key!r}")
        if not isinstance(data[key], kind):
            raise ModelLoadError(f"export manifest field {key!r} has the wrong type")
    if data["format_version"] > FORMAT_VERSION:
        raise ModelLoadError(
            f"export manifest format_version {data['format_version']} is newer than this geoalign "
            f"understands ({FORMAT_VERSION}); upgrade geoalign"
        )
    labels = data["labels"]
    if sorted(labels) != sorted(LABELS):
        raise ModelLoadError(f"manifest labels must be a permutation of {list(LABELS)}, got {labels}")
    if len(data["source_labels"]) != len(labels):
        raise ModelLoadError("manifest source_labels and labels differ in length")
    if data["max_length"] < 4:
        raise ModelLoadError(f"manifest max_length {data['max_length']} is too small for a pair")
    for name in ("cls", "sep", "pad"):
        if not isinstance(data["special_tokens"].get(name), int):
            raise ModelLoadError(f"manifest special_tokens lacks an integer {name!r} id")
    if not data["variants"]:
        # a shipped model may hold only its int8 graph (the fp32 one is 4x larger than a package allows)
        raise ModelLoadError("export manifest lists no variant")
    for name, variant in data["variants"].items():
        if name not in VARIANTS:
            raise ModelLoadError(
                f"unknown variant {name!r} in export manifest (known: {', '.join(VARIANTS)})"
            )
        if not isinstance(variant, dict) or not {"file", "sha256", "precision"} <= variant.keys():
            raise ModelLoadError(f"variant {name!r} needs file, sha256 and precision")
        if Path(variant["file"]).name != variant["file"]:
            raise ModelLoadError(f"variant {name!r} file must be a plain name inside the directory")


def is_export_dir(path: str | Path) -> bool:
    """True when ``path`` is a directory holding a geoalign export manifest (the registry's test)."""
    return (Path(path) / MANIFEST_NAME).is_file()


def read_manifest(directory: str | Path, *, verify_files: bool = True) -> Manifest:
    """Read and validate ``directory``'s manifest.

    With ``verify_files`` every graph and the tokenizer must exist and match their recorded checksums:
    the model id *is* the graph checksum, so a swapped or truncated file must not run under the old id.
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelLoadError(f"{directory} is not a geoalign ONNX export (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    manifest = Manifest.from_dict(data)
    if verify_files:
        verify(directory, manifest)
    return manifest


def verify(directory: str | Path, manifest: Manifest, variants: Sequence[str] | None = None) -> None:
    """Check that the tokenizer and the graphs of ``variants`` (default: all) exist and match their
    checksums. A scorer checks only the graph it runs: hashing every variant would read ~1 GB per load."""
    directory = Path(directory)
    names = list(manifest.variants) if variants is None else list(variants)
    checks = [(manifest.variants[n].file, manifest.variants[n].sha256) for n in names]
    if manifest.tokenizer.get("sha256"):
        checks.append((manifest.tokenizer.get("file", TOKENIZER_FILE), manifest.tokenizer["sha256"]))
    for name, digest in checks:
        file = directory / name
        if not file.is_file():
            raise ModelLoadError(f"export directory {directory} lacks {name}")
        if sha256_file(file) != digest:
            raise ModelLoadError(f"{file} does not match the checksum in {MANIFEST_NAME}")


def write_manifest(directory: str | Path, manifest: Manifest) -> Path:
    """Validate and write the manifest atomically (a reader never sees half a manifest)."""
    data = manifest.to_dict()
    validate_dict(data)
    path = Path(directory) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    path.chmod(0o644)  # the temporary file was private (0600); a deployed directory is read by services
    return path
