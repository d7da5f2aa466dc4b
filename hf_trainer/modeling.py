"""Model presets and loading: the three Korean encoders from the Hub, and tiny local stand-ins."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    ElectraConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
)

from .labels import LabelSchema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPreset:
    name: str
    hub_id: str | None = None  # None: a tiny local model, built from scratch
    tiny_architecture: str | None = None
    # SoongsilBERT is already a fine-tuned classifier: its head has another shape.
    ignore_mismatched_sizes: bool = False


PRESETS: dict[str, ModelPreset] = {
    "kcelectra": ModelPreset("kcelectra", hub_id="beomi/KcELECTRA-base-v2022"),
    "soongsilbert": ModelPreset(
        "soongsilbert", hub_id="jason9693/SoongsilBERT-base-beep", ignore_mismatched_sizes=True
    ),
    "roberta": ModelPreset("roberta", hub_id="klue/roberta-base"),
    "tiny-electra": ModelPreset("tiny-electra", tiny_architecture="electra"),
    "tiny-bert": ModelPreset("tiny-bert", tiny_architecture="bert"),
    "tiny-roberta": ModelPreset("tiny-roberta", tiny_architecture="roberta"),
}

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TINY_SIZES = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256)


def build_wordpiece_tokenizer(
    texts: Iterable[str], vocab_size: int = 8000, model_max_length: int = 128, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """A WordPiece tokenizer built from `texts`, deterministic and safe for Korean across save/reload.

    The vocabulary is the special tokens, every character seen (alone and as a `##` continuation, so
    no text is [UNK]) and the most frequent words (ties broken by the word itself). The `tokenizers`
    WordPiece trainer is not used: its tie-breaking varies between processes, which would give a
    resumed run another vocabulary than the checkpoint it resumes.
    No lower-casing or accent stripping: BERT's accent stripping decomposes Hangul syllables into
    jamo, which turns every Korean word into [UNK] after a reload. NFC keeps syllables composed.
    """
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    normalizer = normalizers.NFC()
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter = Counter()
    for text in texts:
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in counts for c in word})
    vocab_list = list(SPECIAL_TOKENS) + chars + [f"##{c}" for c in chars]
    budget = max(0, vocab_size - len(vocab_list))
    seen = set(vocab_list)
    frequent = sorted(
        (w for w, n in counts.items() if n >= min_frequency and w not in seen), key=lambda w: (-counts[w], w)
    )
    vocab_list += frequent[:budget]
    tokenizer = Tokenizer(models.WordPiece({tok: i for i, tok in enumerate(vocab_list)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = vocab_list.index("[CLS]"), vocab_list.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],
    )


def tiny_config(architecture: str, tokenizer: PreTrainedTokenizerFast, max_length: int) -> PretrainedConfig:
    """A small random-init config of the given architecture (hidden 128, 2 layers)."""
    common = dict(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=max_length + 2,  # RoBERTa offsets positions by padding_idx + 1
        **TINY_SIZES,
    )
    if architecture == "bert":
        return BertConfig(**common)
    if architecture == "electra":
        return ElectraConfig(embedding_size=TINY_SIZES["hidden_size"], **common)
    if architecture == "roberta":
        return RobertaConfig(
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            type_vocab_size=1,
            **common,
        )
    raise ValueError(f"unknown tiny architecture {architecture!r}")


def _label_config_kwargs(schema: LabelSchema, classifier_dropout: float) -> dict:
    return dict(
        num_labels=schema.num_labels,
        id2label=schema.id2label,
        label2id=schema.label2id,
        problem_type="multi_label_classification",
        classifier_dropout=classifier_dropout,
    )


def load_model_and_tokenizer(
    *,
    schema: LabelSchema,
    preset: str | None = None,
    model_name_or_path: str | None = None,
    tokenizer_name: str | None = None,
    train_texts: Iterable[str] | None = None,
    max_length: int = 128,
    classifier_dropout: float = 0.3,
    ignore_mismatched_sizes: bool | None = None,
    attn_implementation: str | None = "sdpa",
    trust_remote_code: bool = False,
    use_safetensors: bool = True,
    revision: str = "main",
    tiny_vocab_size: int = 8000,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Load (or build, for tiny presets) a multi-label classifier and its tokenizer.

    `model_name_or_path` (a Hub id or local folder) wins over the preset's Hub id.
    """
    spec = PRESETS.get(preset) if preset else None
    if preset and spec is None:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(PRESETS)}")
    label_kwargs = _label_config_kwargs(schema, classifier_dropout)

    if model_name_or_path is None and spec is not None and spec.tiny_architecture:
        if train_texts is None:
            raise ValueError("a tiny preset needs train_texts to train its tokenizer")
        tokenizer = build_wordpiece_tokenizer(train_texts, tiny_vocab_size, max_length)
        config = tiny_config(spec.tiny_architecture, tokenizer, max_length)
        for key, value in label_kwargs.items():
            setattr(config, key, value)
        if attn_implementation:
            config._attn_implementation = attn_implementation
        model = AutoModelForSequenceClassification.from_config(config)
        logger.info(
            "Built %s from scratch: %s, %.1fM parameters, vocab %d",
            spec.name,
            type(model).__name__,
            model.num_parameters() / 1e6,
            len(tokenizer),
        )
        return model, tokenizer

    source = model_name_or_path or (spec.hub_id if spec else None)
    if source is None:
        raise ValueError("give --model PRESET or --model_name_or_path")
    if ignore_mismatched_sizes is None:
        ignore_mismatched_sizes = bool(spec and spec.ignore_mismatched_sizes and model_name_or_path is None)
    hub_kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name or source, **hub_kwargs)
        config = AutoConfig.from_pretrained(source, **label_kwargs, **hub_kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            config=config,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
            use_safetensors=use_safetensors,
            attn_implementation=attn_implementation,
            **hub_kwargs,
        )
    except OSError as err:
        raise OSError(
            f"Could not load '{source}' ({err}). Without access to the Hugging Face Hub, use a tiny local "
            "preset (--model tiny-electra|tiny-bert|tiny-roberta) or --model_name_or_path LOCAL_DIR. "
            "If the repository has no safetensors weights, --use_safetensors false loads its .bin "
            "file with torch's weights_only loader."
        ) from err
    # Some Korean tokenizers (SoongsilBERT) carry no usable max length; the recipe's is explicit.
    if tokenizer.model_max_length is None or tokenizer.model_max_length > 100_000:
        tokenizer.model_max_length = max_length
    logger.info(
        "Loaded %s (%s, %.1fM parameters)", source, type(model).__name__, model.num_parameters() / 1e6
    )
    return model, tokenizer
