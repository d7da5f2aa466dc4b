"""Offline stand-ins of the design's three Hub repositories, in a Hugging Face cache layout.

Each replica copies its repository's file names, tokenizer type and the config fields that matter
for loading (issue 9), with small random weights:

- beomi/KcELECTRA-base-v2022: pytorch_model.bin only, an ElectraForPreTraining checkpoint, a
  WordPiece vocab.txt (no tokenizer.json), tokenizer_class BertTokenizer, do_lower_case false.
- jason9693/SoongsilBERT-base-beep: pytorch_model.bin and flax_model.msgpack only, a 3-label
  RobertaForSequenceClassification, byte-level BPE (vocab.json + merges.txt), tokenizer_config
  holding only max_len, max_position_embeddings 514.
- klue/roberta-base: model.safetensors and pytorch_model.bin, RoBERTa weights with a WordPiece
  tokenizer (vocab.txt + tokenizer.json, tokenizer_class BertTokenizer), type_vocab_size 1,
  max_position_embeddings 514.

Layout: <cache>/models--org--name/refs/main holds a commit sha; the files lie in
<cache>/models--org--name/snapshots/<sha>/. With HF_HUB_CACHE=<cache> and HF_HUB_OFFLINE=1,
`from_pretrained("beomi/KcELECTRA-base-v2022")` resolves exactly as on a user's machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import (
    ElectraConfig,
    ElectraForPreTraining,
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaForSequenceClassification,
)

from hf_trainer.training.modeling import build_wordpiece_tokenizer

KCELECTRA = "beomi/KcELECTRA-base-v2022"
SOONGSILBERT = "jason9693/SoongsilBERT-base-beep"
KLUE_ROBERTA = "klue/roberta-base"
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _snapshot(cache: Path, repo_id: str) -> Path:
    sha = hashlib.sha1(repo_id.encode()).hexdigest()  # a 40-hex commit id, fixed per repository
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(sha)
    folder = repo / "snapshots" / sha
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _wordpiece_vocab(texts: list[str], specials: list[str], size: int) -> list[str]:
    # Every printable ASCII character, as the real vocabularies have (AEDA inserts punctuation).
    ascii_chars = " ".join(chr(c) for c in range(33, 127))
    words = list(build_wordpiece_tokenizer([*texts, ascii_chars], vocab_size=size).get_vocab())
    return specials + sorted(w for w in words if w not in specials)


def _write_bert_special_tokens(folder: Path) -> None:
    names = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]"}
    _write_json(folder / "special_tokens_map.json", {**names, "mask_token": "[MASK]"})


def roberta_ids() -> dict:
    """RoBERTa's special token ids in both replicas: <s>/[CLS] 0, pad 1, </s>/[SEP] 2."""
    return dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=514)


def _save_bin(model: torch.nn.Module, folder: Path) -> None:
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, folder / "pytorch_model.bin")


def _config_json(config, architecture: str, **extra) -> dict:
    data = config.to_dict()
    data.pop("transformers_version", None)
    data.update(architectures=[architecture], **extra)
    return data


def build_kcelectra(cache: Path, texts: list[str]) -> Path:
    folder = _snapshot(cache, KCELECTRA)
    # A tag, as the author's pointer `beomi/KcELECTRA-base@v2022` is one: pins resolve through refs/.
    sha = folder.name
    (folder.parent.parent / "refs" / "v2022").write_text(sha)
    vocab = _wordpiece_vocab(texts, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], 3000)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    _write_json(folder / "tokenizer_config.json", {"do_lower_case": False, "model_max_length": 512})
    _write_bert_special_tokens(folder)
    config = ElectraConfig(vocab_size=len(vocab), embedding_size=32, max_position_embeddings=512, **SMALL)
    torch.manual_seed(0)
    _save_bin(ElectraForPreTraining(config), folder)
    _write_json(
        folder / "config.json",
        _config_json(config, "ElectraForPreTraining", tokenizer_class="BertTokenizer"),
    )
    return folder


def build_soongsilbert(cache: Path, texts: list[str]) -> Path:
    from tokenizers import ByteLevelBPETokenizer

    folder = _snapshot(cache, SOONGSILBERT)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=2000, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    bpe.save_model(str(folder))  # vocab.json + merges.txt, as in the repository
    _write_json(folder / "tokenizer_config.json", {"max_len": 512})
    config = RobertaConfig(
        vocab_size=bpe.get_vocab_size(),
        num_labels=3,
        **roberta_ids(),
        **SMALL,
    )
    torch.manual_seed(1)
    _save_bin(RobertaForSequenceClassification(config), folder)
    (folder / "flax_model.msgpack").write_bytes(b"\x80")  # present in the repository, never read
    _write_json(folder / "config.json", _config_json(config, "RobertaForSequenceClassification"))
    return folder


def build_klue_roberta(cache: Path, texts: list[str]) -> Path:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    folder = _snapshot(cache, KLUE_ROBERTA)
    vocab = _wordpiece_vocab(texts, ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"], 3000)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 0), ("[SEP]", 2)],
    )
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(
        folder / "tokenizer_config.json",
        {"do_lower_case": False, "tokenizer_class": "BertTokenizer", "model_max_length": 512},
    )
    _write_bert_special_tokens(folder)
    config = RobertaConfig(
        vocab_size=len(vocab),
        type_vocab_size=1,
        **roberta_ids(),
        **SMALL,
    )
    torch.manual_seed(2)
    model = RobertaForMaskedLM(config)
    _save_bin(model, folder)
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(
        folder / "config.json", _config_json(config, "RobertaForMaskedLM", tokenizer_class="BertTokenizer")
    )
    return folder


def build_replica_cache(cache: str | Path, texts: Iterable[str]) -> dict[str, Path]:
    """Write the three replicas under `cache` (an HF_HUB_CACHE folder); returns repo id -> snapshot."""
    cache, texts = Path(cache), list(texts)
    return {
        KCELECTRA: build_kcelectra(cache, texts),
        SOONGSILBERT: build_soongsilbert(cache, texts),
        KLUE_ROBERTA: build_klue_roberta(cache, texts),
    }
