"""``ScorerSpec``: the one description of "which scorer, loaded how", for every way geoalign is driven.

Why one spec: the CLI commands (match, score, eval, serve, profile, verify-mgeo, link, dedupe and their
Ray engine), the Python API (``geoalign.Matcher``), process pools and Ray actors all need to build the same
scorer from the same options. Before this module they were declared five ways and built by three
functions, and they drifted (``serve --model DIR`` could not choose a device). A ``ScorerSpec`` is a
small frozen dataclass: it pickles (a process pool or a Ray actor receives the spec and calls
``build()`` itself, so a model is loaded once per worker), ``add_arguments`` declares every scorer
option once (each command shows the subset it uses), ``from_args`` reads them back, and ``build()``
goes through the registry (``geoalign.scorers.registry``), whose builders are the only code that
knows a backend's constructor.

Which scorer: ``scorer`` names a registered one; without it ``model`` picks it from the directory
(``registry.detect_backend``: a structured model, a geoalign ONNX export, else a ModelScope / Hugging
Face checkpoint for torch); with neither, the embedded ``structured`` matcher. An option that does not
apply to the scorer chosen (``--provider`` for torch, ``--device`` for structured, ...) is an error, not
silently ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from geoalign.errors import InputError
from geoalign.types import Explains, Scorer

#: torch precisions (``auto``: bf16 where the device runs it fast, else fp32) and ONNX graph variants
#: (see ``scorers.manifest.VARIANTS``); ``variant`` holds either, depending on the scorer.
TORCH_DTYPES: Final = ("fp32", "bf16", "fp16", "auto")

#: Which spec fields each scorer takes (the rest must stay unset); ``explain`` and ``rules`` apply to all.
#: A cascade takes its own options plus those of its neural stage's backend. ``max_chars`` (the one
#: length limit) applies to every scorer and the rule layer; ``parse_cache`` bounds the parsed-address
#: cache of whatever parses (the structured scorer or stage, else the rule layer).
_APPLIES: Final[dict[str, frozenset[str]]] = {
    "structured": frozenset({"max_chars", "parse_cache"}),
    "torch": frozenset({"device", "variant", "threads", "max_tokens", "max_batch", "compile", "max_chars"}),
    "onnx": frozenset({"device", "provider", "variant", "threads", "max_tokens", "max_batch", "max_chars"}),
}
_CASCADE_OWN: Final = frozenset({"structured_model", "cascade_threshold", "max_chars", "parse_cache"})
_OPTIONAL: Final = frozenset().union(_CASCADE_OWN, *_APPLIES.values())

#: The options of the commands that score (match, score, eval, serve, profile).
SCORING_FIELDS: Final = (
    "scorer",
    "model",
    "device",
    "provider",
    "variant",
    "threads",
    "max_tokens",
    "max_batch",
    "compile",
    "max_chars",
    "parse_cache",
    "rules",
)
#: The options of link and dedupe (local and Ray): always the cascade, ``--model`` is its neural stage.
TABLE_FIELDS: Final = (
    "model",
    "cascade_threshold",
    "structured_model",
    "device",
    "provider",
    "variant",
    "threads",
    "max_tokens",
    "max_batch",
    "compile",
    "max_chars",
    "parse_cache",
    "rules",
)

#: Namespace names that differ from the field: link's blocking ``--rules`` already owns ``args.rules``.
#: The default judge: structured matcher first, the shipped neural matcher + stack for its uncertain band,
#: the rule layer on top. ``--scorer structured`` keeps the fast embedded path.
DEFAULT_SCORER: Final = "cascade"
_DESTS: Final = {"rules": "rule_layer"}


@dataclass(frozen=True, slots=True)
class ScorerSpec:
    """Which scorer and how to load it; ``build()`` makes it (see the module docstring).

    Fields left ``None`` take the scorer's own default. ``variant`` is the torch dtype (fp32, bf16,
    fp16, auto) or the ONNX graph variant (fp32, fused, int8, fp16). ``device`` is ``cpu`` or
    ``cuda[:N]``; for ONNX it chooses the provider (cpu / cuda) and the GPU. ``max_chars`` is the one
    length limit (CLI, Python and HTTP alike): a longer address is scored on its first ``max_chars``
    characters and the cut is recorded in ``explanation.truncated`` (default
    ``address.clean.DEFAULT_MAX_CHARS``). ``parse_cache`` bounds the parsed-address cache in
    entries (0: none kept; default ``address.analyze.DEFAULT_PARSE_CACHE``). ``explain`` asks for
    per-component explanations (turn off for bulk files), ``rules`` for the address rule layer on top
    of the scorer. ``structured_model`` and ``cascade_threshold`` configure the cascade's first stage;
    ``cascade_without_model`` lets a cascade run with no neural stage (what link and dedupe do
    without ``--model``: the uncertain band is counted, not sent anywhere).
    """

    scorer: str | None = None
    model: str | None = None
    device: str | None = None
    provider: str | None = None
    variant: str | None = None
    threads: int | None = None
    max_tokens: int | None = None
    max_batch: int | None = None
    compile: bool = False
    max_chars: int | None = None
    parse_cache: int | None = None
    explain: bool = True
    rules: bool = True
    structured_model: str | None = None
    cascade_threshold: float | None = None
    cascade_without_model: bool = False

    def __post_init__(self) -> None:
        # paths are kept as text: the spec is shown in reprs and sent to other processes
        for name in ("model", "structured_model"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
        for name in ("threads", "max_tokens", "max_batch", "max_chars"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InputError(f"{_flag(name)} must be a whole number >= 1, got {value!r}")
        cache = self.parse_cache
        if cache is not None and (not isinstance(cache, int) or isinstance(cache, bool) or cache < 0):
            raise InputError(f"--parse-cache must be a whole number >= 0, got {self.parse_cache!r}")
        if self.cascade_threshold is not None and not 0.0 < self.cascade_threshold <= 1.0:
            raise InputError(f"--cascade-threshold must be in (0, 1], got {self.cascade_threshold}")

    # ------------------------------------------------------------------------------------ choosing

    @property
    def backend(self) -> str:
        """The registered scorer this spec builds: ``scorer``, else detected from ``model``, else
        the default judge (``DEFAULT_SCORER``: the cascade over geoalign's shipped neural matcher).
        Raises InputError for an unknown name or a model directory that is missing."""
        from geoalign.scorers.registry import BUILDERS, detect_backend

        if self.scorer is not None:
            if self.scorer not in BUILDERS:
                raise InputError(f"unknown scorer {self.scorer!r}; choose one of {', '.join(BUILDERS)}")
            return self.scorer
        if self.model is not None:
            return detect_backend(self.model)
        return DEFAULT_SCORER

    def _applying(self, backend: str) -> tuple[str | None, frozenset[str]]:
        """(the neural backend, or ``backend`` itself outside a cascade; the options that apply)."""
        neural: str | None = backend
        applies = _APPLIES.get(backend, frozenset())
        if backend == "cascade":
            neural = self._neural_backend()
            applies = _CASCADE_OWN | _APPLIES.get(neural or "", frozenset())
        elif self.rules:
            applies = applies | {"parse_cache"}  # the rule layer parses what a neural scorer does not
        return neural, applies

    def applies(self, option: str) -> bool:
        """Whether ``option`` (a field name) configures the scorer this spec builds."""
        return option in self._applying(self.backend)[1]

    def for_workers(self, workers: int) -> ScorerSpec:
        """The spec each of ``workers`` processes builds: without ``threads``, a model with intra-op
        threads (the default judge's neural stage, onnx, torch) gets its share of the usable cores.
        Each worker taking every core oversubscribed the machine: the default judge on 6,000 CCKS
        pairs, 2 cores, ran 830 rows/s with two workers, 1,136-1,181 with each on one thread and 949-975
        in one process (session 39)."""
        if self.threads is not None or workers <= 1 or not self.applies("threads"):
            return self
        from geoalign.cpus import cpu_share

        return dataclasses.replace(self, threads=cpu_share(workers))

    def options_for(self, backend: str) -> dict[str, Any]:
        """The keyword options the registry's ``backend`` builder gets (unset fields left out), after
        checking that every set option applies to that scorer."""
        neural, applies = self._applying(backend)
        given = [
            f.name
            for f in dataclasses.fields(self)
            if f.name in _OPTIONAL and getattr(self, f.name) not in (None, False)
        ]
        stray = [name for name in given if name not in applies]
        if stray:
            flags = ", ".join(_flag(name) for name in stray)
            if backend == "cascade" and neural is None:
                raise InputError(f"{flags} configures the neural stage: give --model DIR too")
            where = f"the {backend!r} scorer"
            if backend == "cascade":
                where = f"the cascade's {neural} stage"
            elif stray == ["parse_cache"]:
                where += " without the rule layer (nothing is parsed)"
            raise InputError(f"{flags} does not apply to {where}")
        options: dict[str, Any] = {}
        if neural == "onnx":
            provider, device_id = _onnx_provider(self.device, self.provider)
            if provider is not None:
                options["provider"] = provider
            if device_id:
                options["device_id"] = device_id
            if self.variant is not None:
                options["variant"] = self.variant
        else:
            if self.variant is not None:
                if self.variant not in TORCH_DTYPES:
                    raise InputError(f"--variant for torch is a dtype: one of {', '.join(TORCH_DTYPES)}")
                options["dtype"] = self.variant
            if self.device is not None:
                options["device"] = self.device
        for name in ("threads", "max_tokens", "max_batch", "max_chars"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        if self.compile:
            options["compile"] = True
        if self.parse_cache is not None and backend in ("structured", "cascade"):
            options["cache_size"] = self.parse_cache
        if backend == "cascade":
            if self.structured_model is not None:
                options["structured_model"] = self.structured_model
            if self.cascade_threshold is not None:
                options["threshold"] = self.cascade_threshold
        return options

    def _neural_backend(self) -> str | None:
        """A cascade's second stage: the backend of ``model``; without one, geoalign's shipped neural
        matcher (an ONNX export), or None for link/dedupe's accounting-only cascade."""
        from geoalign.scorers.registry import detect_backend

        if self.model is None:
            return None if self.cascade_without_model else "onnx"
        found = detect_backend(self.model)
        if found in ("structured", "cascade"):
            raise InputError(f"--model {self.model!r} is a structured model; the cascade needs a neural one")
        return found

    # ------------------------------------------------------------------------------------ building

    def build(self) -> Scorer:
        """Load the scorer (in this process; a worker calls this on the spec it was sent)."""
        from geoalign.scorers.registry import build_scorer

        backend = self.backend
        options = self.options_for(backend)
        if backend == "cascade" and self.model is None and self.cascade_without_model:
            scorer = _structured_only_cascade(options, self.explain)
        else:
            scorer = build_scorer(backend, self.model, **options)
            _set_explain(scorer, self.explain)
        return self.wrap(scorer)

    def wrap(self, scorer: Scorer) -> Scorer:
        """``scorer`` under the address rule layer when ``rules`` asks for it (``build`` does this; a
        caller that constructs a scorer itself, as ``profile`` does, calls it too)."""
        if not self.rules:
            return scorer
        from geoalign.scorers.rules import with_rules

        options: dict[str, Any] = {}
        if self.max_chars is not None:
            options["max_chars"] = self.max_chars
        if self.parse_cache is not None:
            options["cache_size"] = self.parse_cache
        return with_rules(scorer, **options)

    # ------------------------------------------------------------------------------------ the CLI

    @staticmethod
    def add_arguments(
        parser: Any,
        fields: tuple[str, ...] = SCORING_FIELDS,
        *,
        model_positional: bool = False,
        model_help: str | None = None,
    ) -> None:
        """Declare the scorer options ``fields`` on ``parser`` (an ArgumentParser or a group).

        Every option is declared here once; a command picks the subset that means something for it
        (``SCORING_FIELDS``, ``TABLE_FIELDS``, or a few, as verify-mgeo's ``("model", "device")``).
        ``model_positional`` declares the model as the positional ``DIR`` argument instead of ``--model``;
        ``model_help`` says what a command's model must be when that is narrower than "any".
        """
        unknown = [name for name in fields if name not in _DECLARATIONS]
        if unknown:
            raise ValueError(f"no scorer option named {unknown}")
        tables = "cascade_threshold" in fields
        for name in fields:
            flags, kwargs = _DECLARATIONS[name]()
            if name == "model":
                if model_positional:
                    flags = ("model",)
                    kwargs = {"metavar": "DIR", "help": kwargs["help"]}
                if model_help is not None:
                    kwargs["help"] = model_help
                elif tables:
                    kwargs["help"] = (
                        "neural model for the cascade's uncertain band: a ModelScope / Hugging Face "
                        "checkpoint (torch) or a 'geoalign export' directory (onnx)"
                    )
            parser.add_argument(*flags, **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> ScorerSpec:
        """The spec the parsed ``args`` describe. Only the options ``add_arguments`` declares are read
        (a command's own ``--max-chars`` or blocking ``--rules`` mean something else); the others stay
        unset, and ``overrides`` (e.g. ``explain=False``) win over both."""
        values: dict[str, Any] = {}
        for name in _DECLARATIONS:
            dest = _DESTS.get(name, name)
            if hasattr(args, dest):
                values[name] = getattr(args, dest)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def for_tables(cls, args: argparse.Namespace, **overrides: Any) -> ScorerSpec:
        """link / dedupe (local and Ray engines): always the cascade, so the per-stage counts are
        reported either way; its neural stage is ``--model`` when given, else the shipped one (the
        default judge, as ``geoalign match``), none with ``--judge structured`` (the fast path)."""
        judge = getattr(args, "judge", None)
        if judge == "structured" and getattr(args, "model", None) is not None:
            raise InputError("--judge structured scores with the embedded matcher alone; drop --model")
        without = judge == "structured"
        return cls.from_args(args, scorer="cascade", cascade_without_model=without, **overrides)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _onnx_provider(device: str | None, provider: str | None) -> tuple[str | None, int]:
    """(provider, GPU index) of an ONNX model from ``--device`` and ``--provider``: ``--device`` alone
    picks the provider (cpu or cuda); both must agree."""
    if device is None:
        return provider, 0
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise InputError(f"--device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if provider is None:
        return kind, int(index or 0)
    if provider != "auto" and (kind == "cuda") == (provider == "cpu"):
        raise InputError(f"--device {device} contradicts --provider {provider}")
    return provider, int(index or 0)


def _set_explain(scorer: Any, explain: bool) -> None:
    """Turn explanations off on the scorers that build them (a cascade passes the switch to its
    structured stage); a scorer without explanations has nothing to turn off."""
    if isinstance(scorer, Explains):
        scorer.explain = explain


def _structured_only_cascade(options: dict[str, Any], explain: bool) -> Scorer:
    """The cascade of link/dedupe without ``--model`` (``options_for`` refused any neural option)."""
    from geoalign.scorers.cascade import CASCADE_CONFIDENCE_THRESHOLD, CascadeScorer
    from geoalign.scorers.structured import StructuredScorer

    own = {key: options[key] for key in ("max_chars", "cache_size") if key in options}
    structured = StructuredScorer(options.get("structured_model"), explain=explain, **own)
    return CascadeScorer(structured, None, threshold=options.get("threshold", CASCADE_CONFIDENCE_THRESHOLD))


def _scorer_option() -> tuple[tuple[str, ...], dict[str, Any]]:
    from geoalign.scorers.registry import SCORER_NAMES

    return ("--scorer",), {
        "choices": SCORER_NAMES,
        "default": None,
        "help": "scorer (default: picked from --model DIR, else the default judge 'cascade': the embedded "
        "matcher, geoalign's shipped neural matcher for the pairs it is unsure of, and the rule layer; "
        "'structured' is the fast embedded path alone)",
    }


def _cascade_threshold_option() -> tuple[tuple[str, ...], dict[str, Any]]:
    from geoalign.scorers.cascade import CASCADE_CONFIDENCE_THRESHOLD

    # default None, not the constant: the shipped neural stage's stack was fitted for its own band
    # (stack.json's threshold), which a CLI default must not override
    return ("--cascade-threshold",), {
        "type": float,
        "default": None,
        "help": "pairs whose top structured probability is below this go to the neural stage (default: "
        "the threshold its stack was fitted for, 0.85 for the shipped model; "
        f"{CASCADE_CONFIDENCE_THRESHOLD:g} for a model without a stack)",
    }


def _option(*flags: str, **kwargs: Any) -> Any:
    return lambda: (flags, dict(kwargs))


#: name -> a function giving (flags, argparse keyword arguments); functions so that ``--scorer``'s
#: choices are read from the registry when a parser is built, not frozen at import.
_DECLARATIONS: Final[dict[str, Any]] = {
    "scorer": _scorer_option,
    "model": _option(
        "--model",
        metavar="DIR",
        default=None,
        help="model directory; picks the scorer: a structured model, a 'geoalign export' directory "
        "(onnx) or a ModelScope / Hugging Face checkpoint (torch)",
    ),
    "device": _option(
        "--device", default=None, help="cpu or cuda[:N] (torch: default cpu; onnx: picks the provider)"
    ),
    "provider": _option(
        "--provider",
        default=None,
        help="onnx: auto (default; the chosen one is reported), cpu, cuda, tensorrt, openvino",
    ),
    "variant": _option(
        "--variant",
        "--dtype",
        dest="variant",
        default=None,
        help="torch dtype: fp32 (default), bf16, fp16, auto; onnx graph: fp32, fused, int8, fp16 "
        "(default: the fastest the export holds for the device)",
    ),
    "threads": _option(
        "--threads", type=int, default=None, help="intra-op threads of the model (default: usable CPUs)"
    ),
    "max_tokens": _option(
        "--max-tokens", type=int, default=None, help="neural: padded tokens per model batch at most"
    ),
    "max_batch": _option("--max-batch", type=int, default=None, help="neural: pairs per model batch at most"),
    "max_chars": _option(
        "--max-chars",
        type=int,
        default=None,
        metavar="N",
        help="longest address scored, in characters (default 256); a longer one is scored on its first N "
        "characters and flagged in explanation.truncated, never refused or dropped",
    ),
    "parse_cache": _option(
        "--parse-cache",
        type=int,
        default=None,
        metavar="ENTRIES",
        help="parsed addresses kept in memory (default 50000, ~2.5 KB each; 0: none). Bounds the "
        "memory of long jobs and of serve; a bigger cache only helps when addresses repeat",
    ),
    "compile": _option(
        "--compile",
        action="store_true",
        default=False,
        help="torch: torch.compile (inductor, frozen weights)",
    ),
    "rules": _option(
        "--no-rules",
        dest="rule_layer",
        action="store_false",
        default=True,
        help="score without the address rule layer (the model's own verdict)",
    ),
    "structured_model": _option(
        "--structured-model", metavar="DIR", default=None, help="another embedded (structured) model"
    ),
    "cascade_threshold": _cascade_threshold_option,
}


__all__ = ["SCORING_FIELDS", "TABLE_FIELDS", "TORCH_DTYPES", "ScorerSpec"]
