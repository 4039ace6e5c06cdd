"""Export a pair classifier to ONNX once, check it against torch, write a directory that runs without torch.

Steps, each recorded in the manifest:

1. fp32 graph from an ``attn_implementation="eager"`` copy with the TorchScript exporter (``dynamo=False``,
   opset 17, dynamic batch and sequence axes). torch>=2.9 defaults to the dynamo exporter, whose legacy
   ``dynamic_axes`` support is incomplete, so the choice is explicit.
2. ``--optimize``: ONNX Runtime's transformer optimizer fuses embeddings+LayerNorm, attention, bias+GELU and
   skip+LayerNorm (model_type bert, heads/hidden from the config).
3. ``--int8``: ``quantize_dynamic`` (weights QInt8, activations quantized at run time: MatMulInteger /
   QAttention, which use VNNI on CPUs that have it). It quantizes the *fused* graph, so attention becomes
   one QAttention node; without ``--optimize`` the fused graph is only an intermediate.
4. ``--fp16``: the fused graph for GPU (use_gpu fusions) with fp16 weights and fp32 inputs/outputs.
5. Parity, run through the deployed path (``OnnxScorer``: tokenizer.json + pair assembly + ORT) against
   the torch model on a sample of address pairs: tokens identical to the Hugging Face tokenizer's pair
   encoding; fp32 and fused logits within ``fp32_atol`` (1e-4); int8 label agreement and probability
   drift within their tolerances; fp16 only where a CUDA provider exists (else "not_checked" + warning).
   A miss refuses the export (``ExportParityError``, the manifest is not written) unless ``force``.

Needs torch + transformers + onnx (extra ``export``); the directory it writes needs none of them.
Over 500 lines because the export and its parity check are one transaction (the manifest is written
provisionally, checked, then rewritten or removed); about 40 of them are the invented parity sample.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from geoalign import __version__
from geoalign._extras import require
from geoalign.errors import GeoalignError, InputError, ModelLoadError
from geoalign.scorers.manifest import (
    INPUT_NAMES,
    MANIFEST_NAME,
    OUTPUT_NAME,
    TOKENIZER_FILE,
    Manifest,
    Variant,
    sha256_file,
    write_manifest,
)
from geoalign.types import LABELS

log = logging.getLogger(__name__)

_FEATURE: Final = "geoalign export"
GRAPH_FILES: Final[dict[str, str]] = {
    "fp32": "model_fp32.onnx",
    "fused": "model_fused.onnx",
    "int8": "model_int8.onnx",
    "fp16": "model_fp16.onnx",
}


class ExportParityError(GeoalignError):
    """The exported graph does not reproduce the torch model within tolerance (export refused)."""

    code = "export_parity_failed"


@dataclass(slots=True)
class ExportOptions:
    """What to produce and how strictly to check it. Tolerances are written to the manifest with the
    measured values, so a reader sees both what was promised and what was found."""

    optimize: bool = False
    int8: bool = False
    fp16: bool = False
    per_channel: bool = False
    #: also quantize MatMuls whose both inputs are activations (attention scores Q.K^T and probs.V) where
    #: the graph still has them (an unfused graph); in the fused graph they live inside QAttention. Off by
    #: default: at address lengths (~60 tokens) they are ~1-3% of the FLOPs, and quantizing attention
    #: scores per tensor costs accuracy (see docs/benchmarks.md, "ONNX int8 profile (pairscorer)").
    int8_attention_matmuls: bool = False
    opset: int = 17
    max_length: int | None = None
    force: bool = False
    fp32_atol: float = 1e-4
    int8_min_agreement: float = 0.95
    int8_max_prob_diff: float = 0.1
    fp16_atol: float = 2e-2


@dataclass(slots=True)
class ExportSource:
    """The model to export, in the shape geoalign's torch loader produces.

    ``labels`` are canonical names in the model's id order; ``source_labels`` the checkpoint's own names.
    """

    model: Any  # transformers BertForSequenceClassification (or any *ForSequenceClassification)
    tokenizer: Any  # a fast (tokenizers-backed) Hugging Face tokenizer
    labels: list[str]
    source_labels: list[str]
    uses_token_type_ids: bool
    max_length: int
    info: dict[str, Any] = field(default_factory=dict)  # path, kind, checksum: provenance only


@dataclass(slots=True)
class ExportReport:
    manifest: Manifest
    directory: Path
    timings_s: dict[str, float]
    refused: list[str]


#: Parity sample: invented addresses in the shapes real data has (full address vs POI record, same place
#: written differently, same road another number, another unit/room, another city). Invented, so the
#: tests and the export need no research data; ``parity_pairs`` may replace it with a real sample.
_PARITY_QUERIES: Final = (
    ("浙江省杭州市西湖区文三路398号东方通信大厦7楼", "杭州市西湖区文三路398号", "文三路400号华星科技大厦"),
    ("上海市浦东新区张江镇碧波路690号3号楼201室", "浦东新区碧波路690号3号楼", "浦东新区碧波路690号5号楼"),
    ("北京市海淀区中关村大街27号中关村大厦", "海淀区中关村大街27号", "朝阳区建国路88号SOHO现代城"),
    ("广东省深圳市南山区科技园南区高新南七道12号", "南山区高新南七道12号", "南山区高新南九道10号"),
    (
        "江苏省南京市鼓楼区中山北路283号2幢1单元502室",
        "南京市中山北路283号2幢",
        "南京市中山北路283号2幢1单元601室",
    ),
    ("四川省成都市武侯区人民南路四段11号附1号", "成都市人民南路四段11号附1号", "成都市锦江区春熙路1号"),
    (
        "湖北省武汉市洪山区珞喻路1037号华中科技大学",
        "珞喻路1037号华中科技大学东校区",
        "武汉市江汉区解放大道688号",
    ),
    ("陕西省西安市雁塔区小寨东路126号百隆广场", "西安市小寨东路126号", "雁塔区小寨西路232号"),
    ("河南省郑州市金水区花园路39号省人民医院门诊楼", "郑州市花园路39号", "金水区花园路139号国贸中心"),
    ("山东省青岛市市南区香港中路10号颐和国际A座", "市南区香港中路10号颐和国际", "市北区辽宁路80号"),
    ("福建省厦门市思明区湖滨南路62号建设科技大厦", "厦门湖滨南路62号", "思明区湖滨北路72号"),
    ("天津市和平区南京路189号津汇广场2座1508", "和平区南京路189号津汇广场", "天津市河西区友谊路35号"),
    ("重庆市渝中区解放碑民权路28号英利国际金融中心", "渝中区民权路28号", "渝北区龙溪街道金龙路16号"),
    ("安徽省合肥市蜀山区长江西路669号高新区管委会", "合肥市长江西路669号", "蜀山区长江西路689号"),
    ("湖南省长沙市岳麓区麓山南路932号湖南大学", "长沙市麓山南路932号", "长沙市芙蓉区五一大道389号"),
    ("辽宁省沈阳市和平区青年大街286号华润大厦", "沈阳市青年大街286号", "和平区青年大街386号"),
)


def default_parity_pairs() -> list[tuple[str, str]]:
    """48 pairs: each query against a same-place, a near-miss and a different-place candidate, plus
    the reversed direction of the first (MGeo's input is ordered, so both orders are exercised)."""
    pairs: list[tuple[str, str]] = []
    for query, same, other in _PARITY_QUERIES:
        pairs += [(query, same), (query, other), (same, query)]
    return pairs


def _onnx_modules() -> tuple[Any, Any, Any]:
    torch = require("torch", "export", _FEATURE)
    onnx = require("onnx", "export", _FEATURE)
    ort = require("onnxruntime", "export", _FEATURE)
    return torch, onnx, ort


class _LogitsOnly:
    """Factory for a wrapper module returning plain logits: exporters cannot return ModelOutput."""

    @staticmethod
    def wrap(torch: Any, model: Any, inputs: Sequence[str]) -> Any:
        names = tuple(inputs)

        class Wrapper(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *args: Any) -> Any:
                return self.inner(**dict(zip(names, args, strict=True))).logits

        return Wrapper(model).eval()


def graph_inputs(uses_token_type_ids: bool) -> tuple[str, ...]:
    """The graph's inputs: a model that takes no token types (RoBERTa/XLM-R) gets no such input."""
    return INPUT_NAMES if uses_token_type_ids else tuple(n for n in INPUT_NAMES if n != "token_type_ids")


def _eager_copy(model: Any) -> Any:
    """A copy with eager attention: it traces to plain MatMul/Softmax (bit-exact with MGeo's code and what
    the transformer optimizer recognises), where SDPA adds IsNaN guards and trace-time branches."""
    eager = copy.deepcopy(model).eval()
    if hasattr(eager, "set_attn_implementation"):
        eager.set_attn_implementation("eager")
    else:  # transformers < 4.48 reads the choice from the config at forward time
        eager.config._attn_implementation = "eager"
    return eager


def _export_fp32(torch: Any, model: Any, example: dict[str, np.ndarray], path: Path, opset: int) -> None:
    inputs = tuple(example)
    wrapper = _LogitsOnly.wrap(torch, _eager_copy(model), inputs)
    args = tuple(torch.from_numpy(example[name]) for name in inputs)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    axes[OUTPUT_NAME] = {0: "batch"}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript tracer warnings about Python control flow are expected
        torch.onnx.export(
            wrapper,
            args,
            str(path),
            input_names=list(inputs),
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def _fuse(src: Path, dst: Path, config: Any, *, use_gpu: bool, fp16: bool) -> dict[str, int]:
    from onnxruntime.transformers import optimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = optimizer.optimize_model(
            str(src),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,  # the transformer fusions only; runtime graph optimizations stay the session's job
            use_gpu=use_gpu,
        )
    if fp16:
        model.convert_float_to_float16(keep_io_types=True)  # ids in, fp32 logits out
    model.save_model_to_file(str(dst))
    return {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}


def _quantize(onnx: Any, src: Path, dst: Path, *, per_channel: bool, attention_matmuls: bool = False) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Contrib ops of the fused graph (Attention, SkipLayerNormalization) defeat ONNX shape inference, so
    # the quantizer must be told that untyped tensors are float. MatMulConstBOnly=False (dynamic mode's
    # default is True) also quantizes activation x activation MatMuls (unfused attention).
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": not attention_matmuls}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a "consider pre-processing" warning on the root logger
    try:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel, extra_options=extra
        )
    finally:
        root.setLevel(level)


def _op_counts(onnx: Any, path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def _hf_pair_ids(tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int) -> list[list[int]]:
    enc = tokenizer(
        [a for a, _ in pairs], [b for _, b in pairs], truncation="longest_first", max_length=max_length
    )
    return [list(ids) for ids in enc["input_ids"]]


def _torch_logits(torch: Any, model: Any, batches: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for feed in batches:
            tensors = {k: torch.from_numpy(v.astype(np.int64)) for k, v in feed.items()}
            out.append(model(**tensors).logits.float().numpy())
    return np.concatenate(out)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Logit and probability agreement of two (n, labels) logit arrays."""
    p_ref, p_cand = _softmax(reference), _softmax(candidate)
    return {
        "max_abs_logit_diff": float(np.abs(reference - candidate).max()),
        "max_prob_diff": float(np.abs(p_ref - p_cand).max()),
        "label_agreement": float((p_ref.argmax(-1) == p_cand.argmax(-1)).mean()),
    }


def judge(
    variant: str, measured: dict[str, float], options: ExportOptions, *, random_weights: bool = False
) -> tuple[str, dict[str, Any]]:
    """(status, tolerance) for one variant's measurements against the options' tolerances.

    int8 label agreement is only gated for trained weights: random weights give near-uniform
    probabilities whose argmax flips on noise, so there it is measured and recorded, not judged.
    """
    if variant in {"fp32", "fused"}:
        tol: dict[str, Any] = {"max_abs_logit_diff": options.fp32_atol}
        ok = measured["max_abs_logit_diff"] <= options.fp32_atol
    elif variant == "int8":
        tol = {"label_agreement": options.int8_min_agreement, "max_prob_diff": options.int8_max_prob_diff}
        if random_weights:
            tol["label_agreement"] = "not gated (random weights)"
            return ("passed" if measured["max_prob_diff"] <= options.int8_max_prob_diff else "failed"), tol
        ok = (
            measured["label_agreement"] >= options.int8_min_agreement
            and measured["max_prob_diff"] <= options.int8_max_prob_diff
        )
    else:
        tol = {"max_abs_logit_diff": options.fp16_atol}
        ok = measured["max_abs_logit_diff"] <= options.fp16_atol
    return ("passed" if ok else "failed"), tol


def _chunks(tokens: Sequence[Any], size: int = 16) -> list[Sequence[Any]]:
    return [tokens[start : start + size] for start in range(0, len(tokens), size)]


def _batches(
    chunks: Sequence[Sequence[Any]], pad_id: int, inputs: Sequence[str]
) -> list[dict[str, np.ndarray]]:
    from geoalign.engine.batching import pad_batch

    out = []
    for chunk in chunks:
        ids, mask = pad_batch([t.input_ids for t in chunk], pad_id)
        types, _ = pad_batch([t.token_type_ids for t in chunk], 0)
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out.append({name: arrays[name] for name in inputs})
    return out


def _cuda_available(ort: Any) -> bool:
    return "CUDAExecutionProvider" in ort.get_available_providers()


def _special_ids(source: ExportSource, encoder: Any) -> dict[str, int]:
    """cls/sep (informational: the scorer reads the pair template from tokenizer.json) and pad ids."""
    tok, template = source.tokenizer, encoder.template
    pad = tok.pad_token_id
    if pad is None:
        pad = getattr(source.model.config, "pad_token_id", None)
    ids: dict[str, Any] = {
        "cls": template.prefix[0] if template.prefix else tok.cls_token_id,
        "sep": template.suffix[-1] if template.suffix else tok.sep_token_id,
        "pad": pad,
    }
    if any(v is None for v in ids.values()):
        raise ModelLoadError(f"the tokenizer lacks special tokens for a pair classifier ({ids})")
    return {name: int(v) for name, v in ids.items()}


def export_model(
    source: ExportSource,
    out_dir: str | Path,
    options: ExportOptions | None = None,
    *,
    parity_pairs: Sequence[tuple[str, str]] | None = None,
    before_parity: Callable[[Path], None] | None = None,
    echo: Callable[[str], None] = print,
) -> ExportReport:
    """Export ``source`` into ``out_dir`` and check it; see the module docstring.

    ``before_parity`` is a test hook called with the fp32 graph's path right after export (and before any
    derived graph is built), so a test can damage the graph and prove the parity check refuses it.
    """
    from geoalign.scorers.checkpoints import usable_positions
    from geoalign.scorers.mgeo_onnx import OnnxScorer
    from geoalign.scorers.pair_classifier import PairEncoder

    options = options or ExportOptions()
    torch, onnx, ort = _onnx_modules()
    if sorted(source.labels) != sorted(LABELS):
        raise ModelLoadError(f"labels must be a permutation of {list(LABELS)}, got {source.labels}")
    backend = getattr(source.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelLoadError("export needs a fast (tokenizers-backed) tokenizer to write tokenizer.json")
    max_length = int(options.max_length or source.max_length)
    positions = usable_positions(source.model.config, default=max_length)
    if not 4 <= max_length <= positions:
        raise InputError(f"max length {max_length} must be within 4..{positions} (the model's positions)")
    pairs = list(parity_pairs or default_parity_pairs())
    if len(pairs) < 2:
        raise InputError("parity needs at least 2 pairs")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = out / MANIFEST_NAME
    stale.unlink(missing_ok=True)  # the directory is not a valid export until parity has passed
    for name in GRAPH_FILES.values():  # graphs of an earlier export with other options (only our names)
        (out / name).unlink(missing_ok=True)
    timings: dict[str, float] = {}
    model = source.model.eval()
    t = time.perf_counter()
    backend.save(str(out / TOKENIZER_FILE))
    encoder = PairEncoder.from_file(
        out / TOKENIZER_FILE, max_length=max_length, token_types=source.uses_token_type_ids
    )
    special = _special_ids(source, encoder)
    tokens = encoder.encode_pairs(pairs)
    # the graph takes exactly the raw text's tokens the torch scorer feeds: prove the assembled ids equal
    # the Hugging Face tokenizer's own pair encoding on the sample
    hf_ids = _hf_pair_ids(source.tokenizer, pairs, max_length)
    token_mismatches = sum(pair.input_ids != ref for pair, ref in zip(tokens, hf_ids, strict=True))
    chunks = _chunks(tokens)
    inputs = graph_inputs(source.uses_token_type_ids)
    batches = _batches(chunks, special["pad"], inputs)
    example = batches[0]  # >= 2 pairs (checked above) and >= 4 tokens: no 0/1 shape specialisation

    _export_fp32(torch, model, example, out / GRAPH_FILES["fp32"], options.opset)
    timings["export"] = time.perf_counter() - t
    if before_parity is not None:
        before_parity(out / GRAPH_FILES["fp32"])
    built = ["fp32"]
    fusion: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="geoalign-export-") as tmp:
        fused_path = out / GRAPH_FILES["fused"] if options.optimize else Path(tmp) / GRAPH_FILES["fused"]
        if options.optimize or options.int8:
            t = time.perf_counter()
            fusion["fused"] = _fuse(
                out / GRAPH_FILES["fp32"], fused_path, model.config, use_gpu=False, fp16=False
            )
            timings["optimize"] = time.perf_counter() - t
            if options.optimize:
                built.append("fused")
        if options.int8:
            t = time.perf_counter()
            _quantize(
                onnx,
                fused_path,
                out / GRAPH_FILES["int8"],
                per_channel=options.per_channel,
                attention_matmuls=options.int8_attention_matmuls,
            )
            timings["quantize"] = time.perf_counter() - t
            built.append("int8")
    if options.fp16:
        t = time.perf_counter()
        fusion["fp16"] = _fuse(
            out / GRAPH_FILES["fp32"], out / GRAPH_FILES["fp16"], model.config, use_gpu=True, fp16=True
        )
        timings["fp16"] = time.perf_counter() - t
        built.append("fp16")

    variants = {
        name: Variant(
            GRAPH_FILES[name],
            sha256_file(out / GRAPH_FILES[name]),
            "int8" if name == "int8" else "fp16" if name == "fp16" else "fp32",
        )
        for name in built
    }
    for name, variant in variants.items():
        variant.parity["ops"] = _op_counts(onnx, out / variant.file)
        if name in fusion:
            variant.parity["fused_ops"] = fusion[name]
    export_options = {k: v for k, v in asdict(options).items() if k != "force"}
    manifest = Manifest(
        labels=list(source.labels),
        source_labels=list(source.source_labels),
        max_length=max_length,
        uses_token_type_ids=source.uses_token_type_ids,
        special_tokens=special,
        # a directory whose export died during the parity check must not load as if checked
        source={**source.info, "parity_pending": True},
        geoalign_version=__version__,
        export_options={
            **export_options,
            "exporter": "torch.onnx (TorchScript, dynamo=False)",
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
        },
        variants=variants,
        tokenizer={"file": TOKENIZER_FILE, "sha256": sha256_file(out / TOKENIZER_FILE)},
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    # the scorer reads the manifest: write it provisionally, check, then rewrite or remove it
    write_manifest(out, manifest)

    t = time.perf_counter()
    reference = _torch_logits(torch, model, batches)
    refused: list[str] = []
    if token_mismatches:
        refused.append(f"tokens: {token_mismatches}/{len(pairs)} assembled pairs differ from the tokenizer's")
    try:
        for name, variant in variants.items():
            sample = {"pairs": len(pairs), "token_mismatches": token_mismatches}
            if name == "fp16" and not _cuda_available(ort):
                variant.parity.update(sample, status="not_checked", reason="fp16 parity needs a CUDA GPU")
                warnings.warn(
                    "fp16 graph written but NOT checked (no CUDA provider here); check it on a GPU",
                    stacklevel=2,
                )
                echo("parity fp16: not checked (no CUDA provider here)")
                continue
            provider = "cuda" if name == "fp16" else "cpu"
            scorer = OnnxScorer(out, variant=name, provider=provider, verify_files=False, _pending_ok=True)
            logits = np.concatenate([scorer.forward(chunk) for chunk in chunks])
            measured = compare(reference, logits)
            status, tolerance = judge(
                name, measured, options, random_weights=bool(source.info.get("random_weights"))
            )
            variant.parity.update(
                sample,
                **measured,
                tolerance=tolerance,
                status=status,
                reference="torch fp32 " + str(model.config._attn_implementation),
            )
            echo(
                f"parity {name}: " + ", ".join(f"{k}={v:.3g}" for k, v in measured.items()) + f" -> {status}"
            )
            if status == "failed":
                refused.append(f"{name}: {measured} outside {tolerance}")
    except BaseException:
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        raise
    timings["parity"] = time.perf_counter() - t
    if token_mismatches:
        for variant in variants.values():
            variant.parity["status"] = "failed"
    if refused and not options.force:
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        raise ExportParityError(
            "export refused, parity check failed: "
            + "; ".join(refused)
            + f". The graphs are left in {out} for inspection but the directory has no manifest; "
            "pass --force to keep it anyway (the manifest then records the failure)."
        )
    manifest.source = {k: v for k, v in manifest.source.items() if k != "parity_pending"}
    manifest.source["forced"] = bool(refused)
    manifest.export_options["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    write_manifest(out, manifest)
    return ExportReport(manifest, out, timings, refused)


def source_from_checkpoint(checkpoint: Any) -> ExportSource:
    """The torch loader's ``Checkpoint`` (scorers.checkpoints) as an export source."""
    labels = [checkpoint.id2label[i] for i in range(len(checkpoint.id2label))]
    return ExportSource(
        model=checkpoint.model,
        tokenizer=checkpoint.tokenizer,
        labels=labels,
        # the loader accepts only canonical names, so the checkpoint's names are the canonical ones
        source_labels=list(labels),
        uses_token_type_ids=bool(checkpoint.use_token_type),
        max_length=int(checkpoint.max_length),
        info={
            "path": str(checkpoint.path) if checkpoint.path is not None else None,
            "kind": checkpoint.source,
            "checksum": checkpoint.model_id,
            "random_weights": bool(checkpoint.is_random),
            "notes": list(checkpoint.notes),
        },
    )


def export_checkpoint(
    spec: str | Path, out_dir: str | Path, options: ExportOptions | None = None, **kwargs: Any
) -> ExportReport:
    """Load ``spec`` with the torch scorer's loader (ModelScope / Hugging Face directory or
    ``random-init:PRESET``) and export it; ``kwargs`` go to :func:`export_model`."""
    from geoalign.scorers.checkpoints import load_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-init warns; the manifest records random_weights instead
        checkpoint = load_checkpoint(spec)
    return export_model(source_from_checkpoint(checkpoint), out_dir, options, **kwargs)
