"""The neural character tagger at inference: onnxruntime logits + constrained Viterbi, no torch.

A parser model directory of format ``neural-chartagger`` (``geoalign.neural.tag_export``) holds a BERT
token classifier over one token per visible character (``neural.tag_data.CharVocab``). This is the
accurate parser: a few points of span F1 above the linear tagger at tens of times its cost per address
(models/parser-neural/MODEL_CARD.md), for ``geoalign parse --model neural`` and ``eval-parse``;
the matcher and the linker keep the fast linear tagger.

Addresses are tagged in batches sorted by length (little padding); the decode is the most probable
well-formed BIO sequence of the domain's labels (``neural.tag_decode``), with the gazetteer's admin names
forced where the parser asks (``forced``), as the linear tagger does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geoalign import forksafe
from geoalign.address.chartagger import DOMAINS, FastTagger, Span
from geoalign.errors import ModelLoadError

FORMAT = "neural-chartagger"
#: addresses per onnxruntime call (sorted by length first, so a batch pads little)
BATCH = 64


class OnnxCharTagger(forksafe.LazySession):
    """``spans_many`` over a ``neural-chartagger`` model directory, in one domain's conventions."""

    def __init__(
        self, model_dir: str | Path, domain: str | None = None, *, threads: int | None = None
    ) -> None:
        from geoalign.neural.tag_data import LABELS, CharVocab

        self.model_dir = Path(model_dir)
        manifest_path = self.model_dir / "parser.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format is {manifest.get('format')!r}, not {FORMAT!r}")
            pieces = json.loads((self.model_dir / manifest["pieces"]).read_text(encoding="utf-8"))
            labels, domains = manifest["labels"], manifest["domains"]
            self.domain = domain or manifest["default_domain"]
            self._model_path = self.model_dir / manifest["model"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{manifest_path}: not a neural parser model ({exc})") from exc
        if tuple(labels) != LABELS or tuple(domains) != DOMAINS:
            raise ModelLoadError(
                f"{self.model_dir}: the model's labels or domains differ from this code's (retrain or "
                "re-export it with this version of geoalign)"
            )
        if self.domain not in DOMAINS:
            raise ModelLoadError(f"domain {self.domain!r} is not one of the model's {DOMAINS}")
        if not self._model_path.is_file():
            raise ModelLoadError(f"{self._model_path}: missing (the parser's ONNX graph)")
        self.vocab = CharVocab.from_pieces(pieces)
        self.partner: FastTagger | None = None
        self.neural_weight = 1.0
        partner = manifest.get("linear_partner")
        if partner is not None:
            self._join(partner, manifest, manifest_path)
        self.threads = threads
        self._session = None
        self.session = self._open(threads)

    def _join(self, partner: Any, manifest: dict[str, Any], manifest_path: Path) -> None:
        """Decode with a linear tagger's scores added (``linear_partner``: ``{"model": DIR or "shipped",
        "weight": w}``, ``neural_weight``): the two taggers err in different places, so the sum of the
        linear tagger's emissions and transitions and the neural log-probabilities beats either alone
        (models/parser-neural/MODEL_CARD.md). The partner is opened by ``parse.load_tagger``, with all
        its checks (format, feature version, domain)."""
        from geoalign.address.chartagger import Constraints
        from geoalign.address.parse import DEFAULT_MODEL_DIR, load_tagger
        from geoalign.neural.tag_data import LABELS

        try:
            where = str(partner["model"])
            directory = DEFAULT_MODEL_DIR if where == "shipped" else (self.model_dir / where).resolve()
            linear = load_tagger(directory, self.domain)
            if not isinstance(linear, FastTagger):
                raise ValueError(f"{directory} is not a chartagger model")
            weight = float(partner["weight"])
            self.neural_weight = float(manifest.get("neural_weight", 1.0))
        except (ModelLoadError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{manifest_path}: unusable linear_partner ({exc})") from exc
        missing = [lab for lab in linear.model.labels if lab not in LABELS]
        if missing:
            raise ModelLoadError(f"{manifest_path}: the linear partner has labels the model lacks: {missing}")
        self.partner = linear
        self._partner_weight = np.float32(weight)
        self._partner_columns = np.array([LABELS.index(lab) for lab in linear.model.labels], dtype=np.int64)
        self._partner_constraints = Constraints(linear.model.transitions * weight, linear.allowed)

    def _open(self, threads: int | None) -> Any:
        """A new ONNX Runtime session on the graph (in ``__init__``, and again in a forked child)."""
        return forksafe.cpu_session(self._model_path, threads, "the parser graph")

    def logits(self, ids: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Per-character logits ``(n_chars, n_labels)`` of each token id list (specials stripped)."""
        from geoalign.neural.tag_data import PREFIX

        out: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * len(ids)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for lo in range(0, len(order), BATCH):
            rows = order[lo : lo + BATCH]
            width = max(len(ids[i]) for i in rows)
            batch = np.full((len(rows), width), self.vocab.pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            (logits,) = self.session.run(None, {"input_ids": batch, "attention_mask": mask})
            for r, i in enumerate(rows):
                out[i] = np.asarray(logits[r, PREFIX : len(ids[i]) - 1], dtype=np.float32)
        return out

    def spans_many(
        self, texts: Sequence[str], forced: Sequence[Sequence[Span]] | None = None
    ) -> list[list[Span]]:
        """Spans ``(element, start, end)`` of each text; ``forced[i]``: spans text i must contain."""
        from geoalign.neural.tag_decode import decode_spans

        if self.partner is not None:
            return self._joint_spans(texts, forced)
        encoded = [self.vocab.encode(text, self.domain) for text in texts]
        scores = self.logits([ids for ids, _ in encoded])
        return decode_spans(scores, [raw for _, raw in encoded], self.domain, forced)

    def _joint_spans(self, texts: Sequence[str], forced: Sequence[Sequence[Span]] | None) -> list[list[Span]]:
        """Decode the sum of the linear partner's scores and the neural log-probabilities (the
        domain's labels only) over the characters the linear tagger reads (it also skips invisible
        and private-use characters, which the neural encoding alone would keep). Characters past the
        neural model's reach (``MAX_CHARS``) keep the linear scores alone."""
        from geoalign.neural.tag_data import domain_label_mask
        from geoalign.neural.tag_decode import log_softmax

        partner = self.partner
        assert partner is not None
        batch, em = partner.scores(texts)
        starts, raw_index = batch.starts.tolist(), batch.raw_index.tolist()
        tokens = [
            self.vocab.encode_at(text, self.domain, raw_index[starts[i] : starts[i + 1]])
            for i, text in enumerate(texts)
        ]
        scores = self.logits(tokens)
        em *= self._partner_weight
        outside = ~domain_label_mask(self.domain)
        for i, logits in enumerate(scores):
            if not len(logits):
                continue
            masked = logits.copy()
            masked[:, outside] = -1e4
            lo = starts[i]
            em[lo : lo + len(logits)] += self.neural_weight * log_softmax(masked)[:, self._partner_columns]
        decoded = partner.label_ids(texts, forced, scored=(batch, em), constraints=self._partner_constraints)
        return partner.spans_of(texts, *decoded)


__all__ = ["BATCH", "FORMAT", "OnnxCharTagger"]
