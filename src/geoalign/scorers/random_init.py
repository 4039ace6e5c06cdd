"""Random weights of MGeo's exact shape, for speed work when no real checkpoint is at hand.

Speed does not depend on weight values, so ``--random-init mgeo-base`` (BERT-base: 12 layers, hidden 768,
12 heads, FFN 3072, vocab 21,128, 3 labels) measures what the real model costs. Its outputs are not
predictions: the model id is ``random-init:<preset>`` and a warning is emitted wherever it is used.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any, Final

from geoalign._extras import require
from geoalign.errors import ModelLoadError
from geoalign.scorers.charvocab import VOCAB_SIZE, write_char_vocab

#: BertConfig fields per preset. ``tiny`` has the same vocabulary but a toy encoder, for fast tests.
PRESETS: Final[dict[str, dict[str, Any]]] = {
    "mgeo-base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
}

#: The id order expected for the released MGeo EA checkpoint (alphabetical; reference doc §2.6).
MGEO_ID2LABEL: Final = {0: "exact_match", 1: "not_match", 2: "partial_match"}

RANDOM_WARNING: Final = (
    "WARNING: random-init weights: outputs are NOT predictions (speed work only); "
    "the tokenizer uses a home-made 21,128-entry character vocab, so real token counts may differ slightly"
)


def build_random(preset: str, *, seed: int = 0) -> Any:
    """A :class:`~geoalign.scorers.checkpoints.Checkpoint` with random weights of the preset's shape."""
    torch = require("torch", "torch", "random-init models")
    transformers = require("transformers", "torch", "random-init models")
    from geoalign.scorers.checkpoints import Checkpoint

    if preset not in PRESETS:
        raise ModelLoadError(f"unknown random-init preset {preset!r}; choose one of {sorted(PRESETS)}")
    config = transformers.BertConfig(
        vocab_size=VOCAB_SIZE,
        max_position_embeddings=512,
        type_vocab_size=2,
        num_labels=3,
        id2label=dict(MGEO_ID2LABEL),
        label2id={v: k for k, v in MGEO_ID2LABEL.items()},
        **PRESETS[preset],
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = transformers.BertForSequenceClassification(config).eval()
    finally:
        torch.random.set_rng_state(generator_state)  # do not disturb the caller's random stream
    with tempfile.TemporaryDirectory(prefix="geoalign-vocab-") as tmp:
        write_char_vocab(Path(tmp) / "vocab.txt")
        tokenizer = transformers.BertTokenizerFast.from_pretrained(tmp, local_files_only=True)
    warnings.warn(RANDOM_WARNING, stacklevel=2)
    return Checkpoint(
        model=model,
        tokenizer=tokenizer,
        id2label=dict(MGEO_ID2LABEL),  # type: ignore[arg-type]
        model_id=f"random-init:{preset}",
        source="random-init",
        path=None,
        max_length=512,
        use_token_type=True,
        is_random=True,
        notes=[RANDOM_WARNING],
    )
