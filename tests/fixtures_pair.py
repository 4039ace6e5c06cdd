"""A tiny XLM-R pair classifier with a SentencePiece-style Unigram ``tokenizer.json`` (no vocab.txt).

The shape of geoalign's own model (an XLM-R-architecture encoder, Unigram tokenizer, label names in
config.json ``id2label``), small enough to build in a test: it must load as "just another checkpoint",
export to ONNX and score through both backends. Built with ``tokenizers`` and ``transformers`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Characters of the toy vocabulary: enough for the test addresses (others become <unk>).
CHARS = "省市区县镇路街道号楼栋单元室层杭州上海北京南京西湖余杭浦东文一二三西中心大厦广场0123456789abcAB"
#: geoalign's own label order (config.json id2label), different from MGeo's.
ID2LABEL = {0: "not_match", 1: "partial_match", 2: "exact_match"}


def unigram_tokenizer() -> Any:
    """A Unigram model, Metaspace pre-tokenization, RoBERTa's pair template (``<s> a </s></s> b </s>``)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("<mask>", 0.0)]
    pieces = [("▁", -2.0)] + [(c, -3.0) for c in CHARS] + [("▁" + c, -3.5) for c in "杭上北南文"]
    pieces += [("路号", -2.5), ("杭州", -2.5)]  # multi-character pieces, as a trained Unigram has
    tokenizer = Tokenizer(models.Unigram(specials + pieces, unk_id=3, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return tokenizer


def write_xlmr_dir(path: Path, *, seed: int = 0, max_positions: int = 34) -> Path:
    """``save_pretrained`` of a random tiny ``XLMRobertaForSequenceClassification`` + its fast tokenizer.

    ``max_positions`` is ``max_position_embeddings``: XLM-R can use 2 fewer tokens (its positions start
    after the padding id), so the default gives a 32-token maximum length.
    """
    import torch
    import transformers

    path.mkdir(parents=True, exist_ok=True)
    raw = unigram_tokenizer()
    raw.save(str(path / "tokenizer.json"))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(path / "tokenizer.json"),
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_input_names=["input_ids", "attention_mask"],
    )
    config = transformers.XLMRobertaConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=max_positions,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        num_labels=3,
        id2label=dict(ID2LABEL),
        label2id={v: k for k, v in ID2LABEL.items()},
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = transformers.XLMRobertaForSequenceClassification(config).eval()
        # larger classifier weights than the init's, so labels differ between test pairs
        with torch.no_grad():
            for p in model.classifier.parameters():
                p.normal_(0, 1.0)
    finally:
        torch.random.set_rng_state(state)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


ROADS = ["文一路", "文二路", "学院路", "延安东路", "人民路", "解放路", "中山路", "建设路"]


def write_invented_ccks(path: Path, n_queries: int = 40) -> None:
    """Invented query/candidate pairs in the CCKS layout (no real data)."""
    lines = []
    for i in range(n_queries):
        road = ROADS[i % len(ROADS)]
        query = f"测试市{road}{i + 1}号"
        lines.append(f"{query}\t{road}{i + 1}号\t2")
        lines.append(f"{query}\t{road}{i + 2}号\t1")
        lines.append(f"{query}\t{ROADS[(i + 3) % len(ROADS)]}{i + 7}号\t0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def tiny_train_config(tmp_path: Path, out: str, **overrides: Any) -> Any:
    """A ``TrainConfig`` for a seconds-long scratch run (1 layer, hidden 32, 1 epoch) on 40 invented CCKS
    pairs written to ``tmp_path/pairs.tsv`` once; ``overrides`` replace any field."""
    from geoalign.neural.train import TrainConfig

    pairs = tmp_path / "pairs.tsv"
    if not pairs.exists():
        write_invented_ccks(pairs, 40)
    fields: dict[str, Any] = {
        "out": str(tmp_path / out),
        "ccks": str(pairs),
        "init": "scratch",
        "layers": 1,
        "hidden": 32,
        "epochs": 1,
        "batch_size": 8,
        "synth_per_epoch": 0,
        "threads": 1,
        "bf16": False,
    }
    return TrainConfig(**(fields | overrides))
