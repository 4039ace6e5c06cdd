"""Load pair-classifier checkpoints for the torch scorer, without ``modelscope``.

Three sources, one result (:class:`Checkpoint`):

* a **ModelScope-layout** directory (MGeo entity alignment): ``config.json`` (BERT fields plus
  ``gis_embedding`` / ``fusion_layer``), ``configuration.json`` (labels), ``pytorch_model.bin`` with
  ``bert.text_encoder.*`` keys, ``vocab.txt``. It is remapped into transformers'
  ``BertForSequenceClassification`` (see /work/shared/reference/mgeo-checkpoint.md §3);
* a plain **Hugging Face** ``*ForSequenceClassification`` directory (e.g. the tiny classifier that
  ``scripts/train_tiny_pair_classifier.py`` writes);
* a **ModelScope model id** (``damo/...``, ``iic/...``), only when the ``modelscope`` package is installed
  and the machine is online; it is downloaded, then loaded as a directory.

Why so strict: the classic failure with MGeo is a checkpoint that "loads" with every encoder weight
missing (transformers only warns) and then produces confident garbage. Every load here asserts zero missing
and zero unexpected keys, and label mappings that disagree between files are an error, never a guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from geoalign._extras import require
from geoalign.errors import ModelLoadError
from geoalign.types import LABELS, Label

#: Key prefixes of MGeo's GIS encoder / fusion projection: never used by the text-only EA pipeline.
_GIS_PREFIXES: Final = (
    "bert.gis_encoder.",
    "bert.gis2text.",
    "bert.gis_type.",
    "gis_encoder.",
    "gis2text.",
    "gis_type.",
)
_LAYER_RE: Final = re.compile(r"^bert\.encoder\.layer\.(\d+)\.")
_TEXT_ENCODER_RE: Final = re.compile(r"^(bert\.)?text_encoder\.")
#: ModelScope's pipeline pads/truncates to 512 unless configuration.json's preprocessor says otherwise.
MODELSCOPE_DEFAULT_MAX_LENGTH: Final = 512
#: config.json fields copied into transformers' BertConfig (everything else is ModelScope-specific).
_BERT_FIELDS: Final = (
    "vocab_size",
    "hidden_size",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
)
_HF_DEFAULT_LABEL_RE: Final = re.compile(r"^LABEL_\d+$")


@dataclass(slots=True)
class Checkpoint:
    """A loaded pair classifier: a torch module in eval mode (CPU, fp32) plus what is needed to run it.

    ``id2label`` maps the model's output index to a canonical label name (the model's own order, which
    for MGeo differs from the CCKS file order; it never leaks into outputs). ``model_id`` is a checksum
    of the weights, or ``random-init:...`` for random weights (``is_random``).
    """

    model: Any
    tokenizer: Any
    id2label: dict[int, Label]
    model_id: str
    source: str
    path: Path | None
    max_length: int
    use_token_type: bool = True
    is_random: bool = False
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- entry


def load_checkpoint(spec: str | Path, *, revision: str | None = None) -> Checkpoint:
    """Load a checkpoint from a directory (ModelScope or Hugging Face layout) or a ModelScope model id.

    ``random-init:mgeo-base`` (see :mod:`geoalign.scorers.random_init`) gives
    random weights of MGeo's exact shape for speed work.
    """
    text = str(spec)
    if text.startswith("random-init:"):
        from geoalign.scorers.random_init import build_random

        return build_random(text.removeprefix("random-init:"))
    path = Path(text).expanduser()
    if path.is_dir():
        return load_directory(path)
    if path.exists():
        raise ModelLoadError(f"{path} is a file; a model is a directory (config.json, weights, vocab)")
    if re.fullmatch(r"[\w.-]+/[\w.-]+", text) and not text.startswith((".", "/")):
        return load_directory(_download_modelscope(text, revision))
    raise ModelLoadError(f"model directory not found: {path}")


def load_directory(path: Path) -> Checkpoint:
    """Detect the layout of ``path`` and load it."""
    layout = detect_layout(path)
    if layout == "modelscope":
        return load_modelscope_dir(path)
    return load_hf_dir(path)


def detect_layout(path: Path) -> str:
    """``"modelscope"`` or ``"huggingface"``; ModelLoadError when it is neither.

    A ModelScope directory has ``configuration.json`` or ModelScope-only config fields; a Hugging Face
    classifier names a ``*ForSequenceClassification`` architecture in ``config.json``.
    """
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"{path} has no config.json: not a ModelScope or Hugging Face model directory")
    config = _read_json(config_path)
    if (path / "configuration.json").is_file() or "fusion_layer" in config or "gis_embedding" in config:
        return "modelscope"
    architectures = config.get("architectures") or []
    if any(str(a).endswith("ForSequenceClassification") for a in architectures):
        return "huggingface"
    raise ModelLoadError(
        f"{path}: config.json names no *ForSequenceClassification architecture "
        f"(got {architectures or 'none'}) and no configuration.json: not a pair-classifier checkpoint"
    )


# ------------------------------------------------------------------------------------------- labels


def _as_id2label(source: str, mapping: Any, *, inverted: bool) -> dict[int, str]:
    """Normalise a ``{label: id}`` (inverted) or ``{id: label}`` mapping to ``{int id: label}``."""
    if not isinstance(mapping, Mapping) or not mapping:
        raise ModelLoadError(f"label source {source} is not a non-empty mapping")
    pairs = [(v, k) for k, v in mapping.items()] if inverted else list(mapping.items())
    out: dict[int, str] = {}
    for raw_id, name in pairs:
        try:
            idx = int(raw_id)
        except (TypeError, ValueError):
            raise ModelLoadError(f"label source {source}: id {raw_id!r} is not an integer") from None
        if idx in out:
            raise ModelLoadError(f"label source {source}: id {idx} appears twice")
        out[idx] = str(name)
    return out


def collect_label_sources(path: Path) -> list[tuple[str, dict[int, str]]]:
    """Every label mapping present in a model directory, in ModelScope's precedence order.

    Order (reference doc §3.4): ``configuration.json`` dataset.train.labels, ``label_mapping.json``,
    ``configuration.json`` model.label2id / model.id2label / preprocessor.label2id /
    preprocessor.id2label, ``config.json`` label2id / id2label (ignoring transformers' LABEL_N defaults).
    """
    sources: list[tuple[str, dict[int, str]]] = []
    configuration = _read_json(path / "configuration.json") if (path / "configuration.json").is_file() else {}
    train_labels = ((configuration.get("dataset") or {}).get("train") or {}).get("labels")
    if train_labels is not None:
        if not isinstance(train_labels, list) or not train_labels:
            raise ModelLoadError("configuration.json dataset.train.labels must be a non-empty list")
        sources.append(("configuration.json dataset.train.labels", dict(enumerate(map(str, train_labels)))))
    if (path / "label_mapping.json").is_file():
        sources.append(
            (
                "label_mapping.json",
                _as_id2label("label_mapping.json", _read_json(path / "label_mapping.json"), inverted=True),
            )
        )
    for section in ("model", "preprocessor"):
        block = configuration.get(section) or {}
        for key, inverted in (("label2id", True), ("id2label", False)):
            if block.get(key) is not None:
                name = f"configuration.json {section}.{key}"
                sources.append((name, _as_id2label(name, block[key], inverted=inverted)))
    config = _read_json(path / "config.json") if (path / "config.json").is_file() else {}
    for key, inverted in (("label2id", True), ("id2label", False)):
        if config.get(key) is not None:
            mapping = _as_id2label(f"config.json {key}", config[key], inverted=inverted)
            if not all(_HF_DEFAULT_LABEL_RE.match(v) for v in mapping.values()):
                sources.append((f"config.json {key}", mapping))
    return sources


def read_labels(path: Path) -> dict[int, Label]:
    """The model's id → canonical label mapping; ModelLoadError if absent, invalid or inconsistent."""
    sources = collect_label_sources(path)
    if not sources:
        raise ModelLoadError(
            f"{path}: no label mapping found (looked in configuration.json, label_mapping.json, "
            "config.json); the id order cannot be guessed"
        )
    first_name, first = sources[0]
    for _name, mapping in sources[1:]:
        if mapping != first:
            listing = "; ".join(f"{n}: {dict(sorted(m.items()))}" for n, m in sources)
            raise ModelLoadError(f"{path}: label sources disagree ({listing})")
    if sorted(first) != list(range(len(first))):
        raise ModelLoadError(
            f"{path}: label ids in {first_name} are not 0..{len(first) - 1}: {sorted(first)}"
        )
    unknown = [v for v in first.values() if v not in LABELS]
    if unknown or len(set(first.values())) != len(LABELS) or len(first) != len(LABELS):
        raise ModelLoadError(
            f"{path}: labels {dict(sorted(first.items()))} in {first_name} are not exactly {list(LABELS)}"
        )
    return {i: first[i] for i in sorted(first)}  # type: ignore[misc]


# --------------------------------------------------------------------------------------- ModelScope


def remap_modelscope_state_dict(
    state_dict: Mapping[str, Any], n_layers: int
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Rename MGeo keys to ``BertForSequenceClassification`` keys; return (kept, dropped-by-reason).

    ``bert.text_encoder.`` (or a backbone's ``text_encoder.``) becomes ``bert.``; position_ids buffers,
    GIS keys, cross-attention keys and layers at or beyond ``n_layers`` (never run in text mode) are
    dropped. Anything else passes through unchanged, so unknown keys surface as "unexpected" on load.
    """
    kept: dict[str, Any] = {}
    dropped: dict[str, list[str]] = {
        "position_ids": [],
        "gis": [],
        "crossattention": [],
        "layers_beyond_fusion": [],
    }
    for key, value in state_dict.items():
        if key.endswith("position_ids"):
            dropped["position_ids"].append(key)
            continue
        if key.startswith(_GIS_PREFIXES):
            dropped["gis"].append(key)
            continue
        if ".crossattention." in key:
            dropped["crossattention"].append(key)
            continue
        new = _TEXT_ENCODER_RE.sub("bert.", key)
        match = _LAYER_RE.match(new)
        if match and int(match.group(1)) >= n_layers:
            dropped["layers_beyond_fusion"].append(key)
            continue
        kept[new] = value
    return kept, dropped


def _check_crossattention(dropped: Iterable[str], n_layers: int, n_total: int, path: Path) -> None:
    """MGeo puts cross-attention in exactly the layers >= fusion_layer: anything else is another model."""
    layers_with = set()
    for key in dropped:
        m = re.search(r"encoder\.layer\.(\d+)\.crossattention\.", key)
        if m:
            layers_with.add(int(m.group(1)))
    early = sorted(i for i in layers_with if i < n_layers)
    if early:
        raise ModelLoadError(
            f"{path}: layers {early} have cross-attention weights but run in text mode "
            f"(fusion_layer={n_layers}); this is not an MGeo text encoder"
        )
    expected = set(range(n_layers, n_total))
    if layers_with != expected:
        raise ModelLoadError(
            f"{path}: fusion_layer={n_layers} < num_hidden_layers={n_total} implies cross-attention "
            f"in layers {sorted(expected)}, found it in {sorted(layers_with)}"
        )


def load_modelscope_dir(path: Path) -> Checkpoint:
    """Load an MGeo (ModelScope layout) directory into ``BertForSequenceClassification``."""
    torch = require("torch", "torch", "the MGeo torch scorer")
    transformers = require("transformers", "torch", "the MGeo torch scorer")
    for name in ("config.json", "pytorch_model.bin", "vocab.txt"):
        if not (path / name).is_file():
            raise ModelLoadError(
                f"{path}: missing {name} (a ModelScope MGeo directory needs config.json, "
                "configuration.json, pytorch_model.bin and vocab.txt)"
            )
    config = _read_json(path / "config.json")
    notes: list[str] = []
    if config.get("gis_embedding", 0) != 0:
        raise ModelLoadError(f"{path}: gis_embedding={config['gis_embedding']}; the text encoder must have 0")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ModelLoadError(
            f"{path}: position_embedding_type={config['position_embedding_type']!r} is not supported"
        )
    if config.get("is_decoder") or config.get("add_cross_attention"):
        raise ModelLoadError(f"{path}: a decoder / cross-attention config is not an MGeo text encoder")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ModelLoadError(f"{path}: hidden_act={config['hidden_act']!r}, expected 'gelu'")
    missing_fields = [
        f
        for f in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
        )
        if f not in config
    ]
    if missing_fields:
        raise ModelLoadError(f"{path}: config.json lacks {missing_fields}")
    n_total = int(config["num_hidden_layers"])
    fusion = int(config.get("fusion_layer", n_total))
    if "fusion_layer" not in config:
        notes.append("config.json has no fusion_layer: running all layers")
    n_layers = min(n_total, fusion)
    id2label = read_labels(path)

    weights = path / "pytorch_model.bin"
    try:
        state_dict = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt/pickled-object file: say which file, keep the cause
        raise ModelLoadError(f"{weights}: cannot be read as a plain state dict ({exc})") from exc
    if not isinstance(state_dict, Mapping) or not all(torch.is_tensor(v) for v in state_dict.values()):
        raise ModelLoadError(f"{weights}: expected a raw state dict of tensors")
    if not any(_TEXT_ENCODER_RE.match(k) for k in state_dict):
        raise ModelLoadError(f"{weights}: no text_encoder.* keys; not an MGeo checkpoint")
    kept, dropped = remap_modelscope_state_dict(state_dict, n_layers)
    _check_crossattention(dropped["crossattention"], n_layers, n_total, path)
    for reason, keys in dropped.items():
        if keys:
            notes.append(f"dropped {len(keys)} {reason} keys")

    bert_kwargs = {k: config[k] for k in _BERT_FIELDS if k in config}
    bert_config = transformers.BertConfig(
        **bert_kwargs,
        num_hidden_layers=n_layers,
        num_labels=len(id2label),
        id2label=dict(id2label),
        label2id={v: k for k, v in id2label.items()},
    )
    model = transformers.BertForSequenceClassification(bert_config)
    _load_exact(model, kept, weights)
    model.eval()
    tokenizer = _load_bert_tokenizer(path)
    max_length = _modelscope_max_length(path, bert_config.max_position_embeddings)
    return Checkpoint(
        model=model,
        tokenizer=tokenizer,
        id2label=id2label,
        model_id=weights_checksum([weights]),
        source="modelscope",
        path=path,
        max_length=max_length,
        use_token_type=True,  # the EA head feeds token_type_ids (use_token_type=True in MGeo)
        notes=notes,
    )


def _load_exact(model: Any, state_dict: dict[str, Any], where: Path) -> None:
    """``load_state_dict`` that tolerates nothing: no missing, no unexpected, no shape mismatch."""
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as exc:  # size mismatches are raised even with strict=False
        raise ModelLoadError(f"{where}: weights do not fit the configured model ({exc})") from exc
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise ModelLoadError(
            f"{where}: weights do not match the model: {len(missing)} missing {missing[:5]}, "
            f"{len(result.unexpected_keys)} unexpected {list(result.unexpected_keys)[:5]}"
        )


def _modelscope_max_length(path: Path, max_positions: int) -> int:
    configuration = _read_json(path / "configuration.json") if (path / "configuration.json").is_file() else {}
    pre = configuration.get("preprocessor") or {}
    value = pre.get("max_length", MODELSCOPE_DEFAULT_MAX_LENGTH)
    return min(int(value), int(max_positions))


def _load_bert_tokenizer(path: Path) -> Any:
    """``BertTokenizerFast`` over the directory's vocab.txt (tokenizer_config.json honoured if present)."""
    transformers = require("transformers", "torch", "the MGeo torch scorer")
    try:
        return transformers.BertTokenizerFast.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot build a BERT tokenizer from vocab.txt ({exc})") from exc


# -------------------------------------------------------------------------------------- Hugging Face


def load_hf_dir(path: Path) -> Checkpoint:
    """Load a plain Hugging Face ``*ForSequenceClassification`` directory, asserting an exact load."""
    torch = require("torch", "torch", "the torch scorer")
    transformers = require("transformers", "torch", "the torch scorer")
    id2label = read_labels(path)
    weight_files = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))
    if not weight_files:
        raise ModelLoadError(f"{path}: no weights (*.safetensors or pytorch_model*.bin)")
    transformers.utils.logging.disable_progress_bar()  # a per-load progress bar is noise in CLI output
    try:
        model, info = transformers.AutoModelForSequenceClassification.from_pretrained(
            str(path), local_files_only=True, output_loading_info=True
        )
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load as a Hugging Face classifier ({exc})") from exc
    problems = {
        key: [k for k in info.get(key, []) if not str(k).endswith("position_ids")]
        for key in ("missing_keys", "unexpected_keys", "mismatched_keys")
    }
    if any(problems.values()):
        raise ModelLoadError(
            f"{path}: weights do not match the model: { {k: v[:5] for k, v in problems.items()} }"
        )
    model = model.to(torch.float32).eval()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load the tokenizer ({exc})") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"{path}: the tokenizer is not a fast (tokenizers-backed) tokenizer")
    max_length = min(512, usable_positions(model.config, default=512))
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 4 <= limit < 1_000_000:  # transformers' "no limit" is a huge number
        max_length = min(max_length, limit)
    return Checkpoint(
        model=model,
        tokenizer=tokenizer,
        id2label=id2label,
        model_id=weights_checksum(weight_files),
        source="huggingface",
        path=path,
        max_length=max_length,
        use_token_type="token_type_ids" in getattr(tokenizer, "model_input_names", ()),
    )


# ------------------------------------------------------------------------------------------- helpers

#: Model types whose position ids start after ``padding_idx`` (RoBERTa's scheme): ``pad_token_id + 1``
#: of their ``max_position_embeddings`` can never be used (XLM-R base: 514 embeddings, 512 tokens).
_OFFSET_POSITION_MODELS: Final = frozenset(
    {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "roberta-prelayernorm", "data2vec-text"}
    | {"mpnet"}
)


def usable_positions(config: Any, *, default: int) -> int:
    """How many tokens the model can take: ``max_position_embeddings``, less RoBERTa's padding offset."""
    positions = int(getattr(config, "max_position_embeddings", default) or default)
    if getattr(config, "model_type", None) in _OFFSET_POSITION_MODELS:
        positions -= int(getattr(config, "pad_token_id", 1) or 0) + 1
    return positions


def weights_checksum(files: Iterable[Path]) -> str:
    """``sha256:<16 hex>`` over the weight files' bytes: the model id in every Match and cache key."""
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:16]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return data


def _download_modelscope(model_id: str, revision: str | None) -> Path:
    """Fetch a ModelScope model id into the local cache (needs ``modelscope`` and a network)."""
    try:
        from modelscope.hub.snapshot_download import snapshot_download  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        raise ModelLoadError(
            f"{model_id!r} is not a local directory; to download a ModelScope model id install the "
            "`modelscope` package and be online, or pass the path of a downloaded model directory"
        ) from None
    download: Callable[..., str] = snapshot_download
    try:
        return Path(download(model_id, revision=revision))
    except Exception as exc:
        raise ModelLoadError(f"cannot download {model_id!r} from ModelScope ({exc})") from exc
