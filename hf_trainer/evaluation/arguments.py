"""Arguments of the one test evaluation, the spelling games on the test split and the functional suite."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..selection.arguments import EnsembleDirArguments
from ..utils.errors import InvalidArgument


@dataclass
class EvaluationArguments(EnsembleDirArguments):
    force: bool = field(
        default=False, metadata={"help": "Evaluate the test set again (it is meant to run once)."}
    )
    bootstrap_resamples: int = field(
        default=1000, metadata={"help": "Bootstrap resamples of the test rows for the 95%% intervals."}
    )
    errors_per_label: int = field(
        default=20,
        metadata={"help": "report/errors.tsv: false positives and false negatives listed per label."},
    )
    explain_errors: bool = field(
        default=True,
        metadata={
            "help": "Give each errors.tsv row the spans behind its score (occlusion: loads the members and "
            "rescores each listed comment once per span); --explain_errors false skips it."
        },
    )

    def __post_init__(self) -> None:
        if self.bootstrap_resamples < 100:
            raise InvalidArgument(
                f"--bootstrap_resamples must be at least 100, got {self.bootstrap_resamples}"
            )
        if self.errors_per_label < 0:
            raise InvalidArgument(f"--errors_per_label must be >= 0, got {self.errors_per_label}")


@dataclass
class RobustnessArguments(EnsembleDirArguments):
    rate: float = field(
        default=0.3,
        metadata={
            "help": "Share of the syllables, words or characters each of this project's spelling games "
            "touches (the independent games play at their own rates)."
        },
    )
    seed: int = field(default=42, metadata={"help": "Seed of the perturbed test split (fixed per run)."})
    backend: str = field(default="torch", metadata={"help": "torch or onnx (the exported copies)."})

    def __post_init__(self) -> None:
        if not 0.0 < self.rate <= 1.0:
            raise InvalidArgument(f"--rate must be in (0, 1], got {self.rate}")
        if self.backend not in ("torch", "onnx"):
            raise InvalidArgument(f"--backend must be torch or onnx, got {self.backend!r}")


@dataclass
class FunctionalTestsArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Folder holding ensemble.json."})
    suite: str = field(
        default="",
        metadata={
            "help": "Suite TSV (default: the shipped Korean suite, hf_trainer/evaluation/functional_suite/cases.tsv)."
        },
    )
    backend: str = field(default="torch", metadata={"help": "torch or onnx (the exported copies)."})
    batch_size: int = field(default=64, metadata={"help": "Comments per forward pass."})

    def __post_init__(self) -> None:
        if self.backend not in ("torch", "onnx"):
            raise InvalidArgument(f"--backend must be torch or onnx, got {self.backend!r}")
        if self.batch_size < 1:
            raise InvalidArgument(f"--batch_size must be at least 1, got {self.batch_size}")
