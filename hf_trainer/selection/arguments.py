"""Arguments of the ensemble-weight and threshold stages."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..utils.errors import InvalidArgument


@dataclass
class EnsembleArguments:
    members: list[str] = field(
        default_factory=lambda: ["outputs/kcelectra", "outputs/soongsilbert", "outputs/roberta"],
        metadata={"help": "Member output folders (each with predictions/val.npz)."},
    )
    output_dir: str = field(default="outputs/ensemble", metadata={"help": "Where ensemble.json goes."})
    objective: str = field(
        default="f1_macro_tuned",
        metadata={"help": "f1_macro_tuned (val macro F1 with tuned thresholds) or logloss."},
    )
    calibrate: str = field(
        default="none",
        metadata={
            "help": "none, or temperature: fit one temperature per member on val (minimum log loss) and "
            "mix the calibrated scores; stored in ensemble.json and applied at inference too."
        },
    )
    gate_member: str | None = field(
        default=None,
        metadata={
            "help": "One of --members (its folder or folder name), trained blind to group names "
            "(char-ngram-blind), to serve as the mention gate: it gets weight 0 and scales the hate labels "
            "by its hate score, at the strongest strength that costs at most 0.005 of CV val macro F1 "
            "(hf_trainer/selection/mention_gate.py)."
        },
    )

    def __post_init__(self) -> None:
        from .calibration import CALIBRATIONS
        from .weight_search import OBJECTIVES

        if self.objective not in OBJECTIVES:
            raise InvalidArgument(
                f"--objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"
            )
        if self.calibrate not in CALIBRATIONS:
            raise InvalidArgument(
                f"--calibrate must be one of {', '.join(CALIBRATIONS)}, got {self.calibrate!r}"
            )


@dataclass
class EnsembleDirArguments:
    ensemble_dir: str = field(default="outputs/ensemble", metadata={"help": "Folder holding ensemble.json."})
    seed: int = field(
        default=42, metadata={"help": "Seed of the cross-validation folds and the bootstrap resamples."}
    )


@dataclass
class ThresholdArguments(EnsembleDirArguments):
    threshold_choice: str = field(
        default="auto",
        metadata={
            "help": "tuned: tune every label's threshold on val; per_label: a label keeps 0.5 unless its "
            "tuned threshold beats 0.5 out of fold; auto (default): per_label when its cross-validated "
            "val macro F1 is no worse than tuned, else tuned."
        },
    )
    cv_folds: int = field(default=5, metadata={"help": "Folds of the cross-validation on val."})

    def __post_init__(self) -> None:
        from .cross_validation import THRESHOLD_CHOICES

        if self.threshold_choice not in THRESHOLD_CHOICES:
            raise InvalidArgument(
                f"--threshold_choice must be one of {', '.join(THRESHOLD_CHOICES)}, got {self.threshold_choice!r}"
            )
        if self.cv_folds < 2:
            raise InvalidArgument(f"--cv_folds must be at least 2, got {self.cv_folds}")
