"""Model loading: the three Korean encoders from the Hub, an encoder converted from a registry package,
and tiny local stand-ins built from scratch."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

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

from ..data.labels import LabelSchema
from ..utils.errors import InvalidArgument, ModelLoadError, UserError
from ..utils.io import read_json
from .packaged_encoder import packaged_description
from .presets import PRESETS, ModelPreset

logger = logging.getLogger(__name__)


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
    raise InvalidArgument(f"unknown tiny architecture {architecture!r}")


def label_config_kwargs(schema: LabelSchema, classifier_dropout: float = 0.3) -> dict:
    """The config fields of a multi-label classifier over `schema`."""
    return dict(
        num_labels=schema.num_labels,
        id2label=schema.id2label,
        label2id=schema.label2id,
        problem_type="multi_label_classification",
        classifier_dropout=classifier_dropout,
    )


SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
TORCH_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights come from: the repository or folder, the file, the Hub commit."""

    source: str
    revision: str | None
    file: str  # one of SAFETENSORS_FILES or TORCH_FILES
    commit: str | None  # the resolved Hub commit sha; None for a local folder
    package: dict | None = None  # a packaged encoder's conversion.json: package, version, file, sha256

    @property
    def is_safetensors(self) -> bool:
        return self.file in SAFETENSORS_FILES

    def describe(self) -> str:
        where = f"{self.source} at commit {self.commit}" if self.commit else self.source
        if self.package:
            where += f" (converted from {packaged_description(self.package)})"
        loader = "safetensors" if self.is_safetensors else "torch weights_only loader: tensors only, no code"
        return f"{where}, weights from {self.file} ({loader})"

    def to_dict(self) -> dict:
        record = {"source": self.source, "revision": self.revision, "file": self.file, "commit": self.commit}
        return record | ({"package": self.package} if self.package else {})


def resolve_weights(
    source: str, revision: str | None = None, use_safetensors: bool | None = None
) -> WeightsSource:
    """Find the weights file of a Hub repository or local folder, without loading it.

    `use_safetensors`: None takes safetensors when the repository has them, else `pytorch_model.bin`
    (read by torch's `weights_only` loader, which refuses pickled code); True takes safetensors only;
    False takes the .bin file only. Two of the design's three repositories ship only a .bin file.
    """
    from transformers.utils import cached_file
    from transformers.utils.hub import extract_commit_hash

    names = {True: SAFETENSORS_FILES, False: TORCH_FILES, None: SAFETENSORS_FILES + TORCH_FILES}[
        use_safetensors
    ]
    for name in names:
        if Path(source).is_dir():
            if (Path(source) / name).is_file():
                return WeightsSource(source, None, name, None)
            continue
        path = cached_file(
            source,
            name,
            revision=revision,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_gated_repo=False,
            _raise_exceptions_for_connection_errors=False,
        )
        if path is not None:
            return WeightsSource(source, revision, name, extract_commit_hash(path, None))
    if use_safetensors:
        raise ModelLoadError(
            f"{source} has no safetensors weights ({', '.join(SAFETENSORS_FILES)}). Leave --use_safetensors "
            "unset to load its pytorch_model.bin with torch's weights_only loader (tensors only, no code)."
        )
    raise ModelLoadError(
        f"found no weights file ({', '.join(names)}) for {source}: it is not in the Hugging Face cache and "
        "the Hub cannot be reached, or it is not a model repository or folder. Without access to the Hub, use "
        "a tiny local preset (--model tiny-electra|tiny-bert|tiny-roberta) or --model_name_or_path LOCAL_DIR."
    )


class LoadedModel(NamedTuple):
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    weights: WeightsSource | None  # None for a tiny preset built from scratch


def load_pretrained_classifier(
    source: str, weights: WeightsSource, config: PretrainedConfig | None = None, **kwargs
) -> PreTrainedModel:
    """`AutoModelForSequenceClassification.from_pretrained` on the file `weights` names, loaded safely.

    Never runs pickled code: safetensors, or torch.load(weights_only=True) for a .bin file. Never asks
    the Hub's conversion bot to open a safetensors pull request on the user's behalf.
    """
    os.environ.setdefault("DISABLE_SAFETENSORS_CONVERSION", "true")
    if config is not None:
        kwargs["config"] = config
    return AutoModelForSequenceClassification.from_pretrained(
        source, use_safetensors=weights.is_safetensors, weights_only=True, **kwargs
    )


def _head_mismatch(source: str, schema: LabelSchema, hub_kwargs: dict) -> str | None:
    """A sentence naming the checkpoint's own classifier head when its size differs from ours."""
    original = AutoConfig.from_pretrained(source, **hub_kwargs)
    architectures = original.architectures or []
    if not any(a.endswith("ForSequenceClassification") for a in architectures):
        return None  # a pre-training checkpoint: no head to mismatch, the classifier starts fresh
    if original.num_labels == schema.num_labels:
        return None
    theirs = ", ".join(str(v) for v in original.id2label.values())
    return (
        f"{source} is a {architectures[0]} with a {original.num_labels}-label head ({theirs}); "
        f"this run needs {schema.num_labels} labels"
    )


def set_label_config(config: PretrainedConfig, schema: LabelSchema, classifier_dropout: float = 0.3) -> None:
    """Make `config` (built from scratch) a multi-label classifier over `schema`."""
    for key, value in label_config_kwargs(schema, classifier_dropout).items():
        setattr(config, key, value)


def build_tiny(
    preset, schema: LabelSchema, train_texts: Iterable[str] | None, max_length: int, classifier_dropout: float,
    attn_implementation: str | None, vocab_size: int,
) -> LoadedModel:  # fmt: skip
    """A tiny preset built from scratch: a WordPiece tokenizer from the train texts, a random-init model."""
    if train_texts is None:
        raise InvalidArgument("a tiny preset needs train_texts to train its tokenizer")
    tokenizer = build_wordpiece_tokenizer(train_texts, vocab_size, max_length)
    config = tiny_config(preset.tiny_architecture, tokenizer, max_length)
    set_label_config(config, schema, classifier_dropout)
    if attn_implementation:
        config._attn_implementation = attn_implementation
    classifier = AutoModelForSequenceClassification.from_config(config)
    logger.info(
        "Built %s from scratch: %s, %.1fM parameters, vocab %d",
        preset.name,
        type(classifier).__name__,
        classifier.num_parameters() / 1e6,
        len(tokenizer),
    )
    return LoadedModel(classifier, tokenizer, None)


def _source_and_defaults(
    model_preset: ModelPreset | None,
    model_name_or_path: str | None,
    ignore_mismatched_sizes: bool | None,
    revision: str | None,
) -> tuple[str, bool, str | None]:
    """Where the weights come from, and the preset's defaults for what the user left unset (an explicit
    --model_name_or_path takes none of the preset's: its head size and pinned revision are another model's)."""
    source = model_name_or_path or (model_preset.hub_id if model_preset else None)
    if source is None:
        raise InvalidArgument("give --model PRESET or --model_name_or_path")
    preset_applies = model_preset is not None and model_name_or_path is None
    if ignore_mismatched_sizes is None:
        ignore_mismatched_sizes = bool(preset_applies and model_preset.ignore_mismatched_sizes)
    if revision is None:
        revision = model_preset.revision if preset_applies else None
    return source, ignore_mismatched_sizes, revision


def packaged_folder(preset: ModelPreset) -> str:
    """The converted folder of a preset whose encoder ships in a registry package (converted once)."""
    from .packaged_encoder import packaged_encoder_folder

    return str(packaged_encoder_folder(preset.package))


def freeze_word_embeddings(model: PreTrainedModel) -> None:
    """Leave the word-embedding table out of training (a large multilingual table on a CPU budget:
    no gradient, no optimiser state for it)."""
    table = model.get_input_embeddings().weight
    table.requires_grad_(False)
    logger.info("Word embeddings frozen: %.1fM parameters not trained", table.numel() / 1e6)


def loaded_note(classifier, tokenizer, weights: WeightsSource, max_length: int) -> None:
    """Log what was loaded; give a tokenizer without a usable max length the recipe's."""
    # Some Korean tokenizers (SoongsilBERT) carry no usable max length; the recipe's is explicit.
    if tokenizer.model_max_length is None or tokenizer.model_max_length > 100_000:
        tokenizer.model_max_length = max_length
    logger.info(
        "Loaded %s: %s, %.1fM parameters",
        weights.describe(),
        type(classifier).__name__,
        classifier.num_parameters() / 1e6,
    )


def load_model_and_tokenizer(
    *,
    schema: LabelSchema,
    model: str | None = None,
    model_name_or_path: str | None = None,
    tokenizer_name: str | None = None,
    train_texts: Iterable[str] | None = None,
    max_length: int = 128,
    classifier_dropout: float = 0.3,
    ignore_mismatched_sizes: bool | None = None,
    attn_implementation: str | None = "sdpa",
    trust_remote_code: bool = False,
    use_safetensors: bool | None = None,
    revision: str | None = None,
    freeze_embeddings: bool | None = None,
    tiny_vocab_size: int = 8000,
) -> LoadedModel:
    """Load (or build, for tiny presets) a multi-label classifier, its tokenizer and where it came from.

    `model` is a preset name (`PRESETS`); `model_name_or_path` (a Hub id or local folder) wins over
    the preset's Hub id. The keyword arguments are ModelArguments' fields, so a recipe passes
    `**dataclasses.asdict(model_args)`. `revision` defaults
    to the preset's pinned revision, else the repository's main branch. Weights load as in
    `resolve_weights`; a checkpoint with a classifier head of another size (SoongsilBERT's 3 BEEP
    labels) gets a fresh head when `ignore_mismatched_sizes` (on by default for such a preset). A
    packaged preset (e5-small) loads from its converted folder; `freeze_embeddings` (default: on for
    such a preset) keeps the word-embedding table out of training.
    """
    model_preset = PRESETS.get(model) if model else None
    if model and model_preset is None:
        raise InvalidArgument(f"unknown model preset {model!r}; choose one of {sorted(PRESETS)}")
    label_kwargs = label_config_kwargs(schema, classifier_dropout)

    if model_name_or_path is None and model_preset is not None and model_preset.tiny_architecture:
        loaded = build_tiny(model_preset, schema, train_texts, max_length, classifier_dropout,
                            attn_implementation, tiny_vocab_size)  # fmt: skip
        if freeze_embeddings:
            freeze_word_embeddings(loaded.model)
        return loaded
    packaged = model_name_or_path is None and model_preset is not None and model_preset.package is not None
    if packaged:
        model_name_or_path = packaged_folder(model_preset)
    source, ignore_mismatched_sizes, revision = _source_and_defaults(
        model_preset, model_name_or_path, ignore_mismatched_sizes, revision
    )
    hub_kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        weights = resolve_weights(source, revision, use_safetensors)
        # Tokenizer, config and weights from the one commit the weights were resolved at.
        hub_kwargs["revision"] = weights.commit or revision
        tokenizer_kwargs = hub_kwargs if tokenizer_name is None else {**hub_kwargs, "revision": None}
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name or source, **tokenizer_kwargs)
        mismatch = _head_mismatch(source, schema, hub_kwargs)
        if mismatch and not ignore_mismatched_sizes:
            raise InvalidArgument(f"{mismatch}. Pass --ignore_mismatched_sizes true to start a fresh head.")
        if mismatch:
            logger.warning("%s: its classifier head is re-initialised (ignore_mismatched_sizes).", mismatch)
        config = AutoConfig.from_pretrained(source, **label_kwargs, **hub_kwargs)
        classifier = load_pretrained_classifier(
            source,
            weights,
            config,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
            attn_implementation=attn_implementation,
            **hub_kwargs,
        )
    except UserError:
        raise
    except OSError as err:
        raise ModelLoadError(
            f"Could not load '{source}' ({err}). Without access to the Hugging Face Hub, use a tiny local "
            "preset (--model tiny-electra|tiny-bert|tiny-roberta) or --model_name_or_path LOCAL_DIR."
        ) from err
    loaded_note(classifier, tokenizer, weights, max_length)
    if packaged:  # the package it came from, for run_config, metrics, the report and the model card
        weights = dataclasses.replace(weights, package=read_json(Path(source) / "conversion.json"))
    if freeze_embeddings if freeze_embeddings is not None else packaged:
        freeze_word_embeddings(classifier)
    return LoadedModel(classifier, tokenizer, weights)
