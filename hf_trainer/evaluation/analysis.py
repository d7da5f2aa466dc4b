"""What the one test evaluation adds to the point figures: intervals, the validation estimates beside
the test figure, calibration, and the errors behind the numbers. Each function returns plain JSON-able
data for test_metrics.json; report.py renders it and plots.py draws it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics.multilabel import binarize, macro_f1
from ..metrics.uncertainty import CONFIDENCE, f1_intervals, paired_difference, resample_counts
from ..selection.calibration import apply_temperature, calibration_errors
from .error_analysis import label_confusion, top_confusions

# The LRAP the UnSmile dataset paper reports for its base model (trained on its 24K initial comments;
# .919 with 11K more): published, on the authors' data and splits, not measured by this recipe.
PUBLISHED_LRAP = {
    "lrap": 0.892,
    "models": "UnSmile paper's base model",
    "source": "Kang et al. 2022, Korean Online Hate Speech Dataset for Multilabel Classification, arXiv:2204.03262",
    "note": "published on the authors' own data and splits; not measured by this recipe",
}


def classification_report(result: dict) -> dict:
    """The per-label table of the UnSmile README (scikit-learn's classification report layout)."""
    report = {
        name: {
            "precision": row["precision"],
            "recall": row["recall"],
            "f1-score": row["f1"],
            "support": row["support"],
        }
        for name, row in result["per_label"].items()
    }
    support = sum(row["support"] for row in result["per_label"].values())
    report["micro avg"] = {
        "precision": result["precision_micro"],
        "recall": result["recall_micro"],
        "f1-score": result["f1_micro"],
        "support": support,
    }
    report["macro avg"] = {
        "precision": result["precision_macro"],
        "recall": result["recall_macro"],
        "f1-score": result["f1_macro"],
        "support": support,
    }
    report["weighted avg"] = {"f1-score": result["f1_weighted"], "support": support}
    report["samples avg"] = {"f1-score": result["f1_samples"], "support": support}
    return report


def bootstrap_section(
    predictions: dict[str, np.ndarray],
    references: np.ndarray,
    label_names: Sequence[str],
    comparisons: Sequence[tuple[str, str]],
    resamples: int,
    seed: int,
) -> dict:
    """95% intervals of every system's F1 and paired differences of macro F1, all on the same resamples."""
    counts = resample_counts(len(references), resamples, seed)
    return {
        "bootstrap_ci": {
            "resamples": resamples,
            "seed": seed,
            "confidence": CONFIDENCE,
            "systems": {
                name: f1_intervals(pred, references, counts, label_names)
                for name, pred in predictions.items()
            },
        },
        "paired_bootstrap": [
            paired_difference(a, predictions[a], b, predictions[b], references, counts).to_dict()
            for a, b in comparisons
        ],
    }


def cv_section(
    threshold_report: dict | None,
    val_mixed: np.ndarray,
    val_labels: np.ndarray,
    test_mixed: np.ndarray,
    test_labels: np.ndarray,
) -> dict | None:
    """Per way of choosing thresholds: val macro F1 in sample, its cross-validated estimate, and test.

    The test figure of the way not shipped is shown for the comparison only; nothing is chosen by it.
    """
    evidence = (threshold_report or {}).get("cv")
    if not evidence:
        return None  # thresholds tuned by an older version: no cross-validation to show

    def macro(probs: np.ndarray, labels: np.ndarray, thresholds: Sequence[float]) -> float:
        return macro_f1(binarize(probs, thresholds), labels)

    rows = {}
    for choice in ("tuned", "per_label"):
        thresholds = evidence["thresholds"][choice]
        rows[choice] = {
            "val_in_sample": macro(val_mixed, val_labels, thresholds),
            "val_cv": evidence["cv"][choice]["cv_f1_macro"],
            "test": macro(test_mixed, test_labels, thresholds),
            "shipped": choice == evidence["chosen"],
        }
    shipped = evidence["thresholds"][evidence["chosen"]]
    rows["weights_and_thresholds"] = {
        "val_in_sample": macro(val_mixed, val_labels, shipped),
        "val_cv": evidence["cv"]["weights_and_thresholds"]["cv_f1_macro"],
        "test": macro(test_mixed, test_labels, shipped),
        "shipped": True,
    }
    return {
        "folds": evidence["folds"],
        "seed": evidence["seed"],
        "threshold_choice": {"requested": evidence["requested"], "chosen": evidence["chosen"]},
        "estimates": rows,
        "per_label_choice": evidence["per_label_choice"],
    }


def calibration_section(
    systems: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
    label_names: Sequence[str],
    temperatures: dict[str, float],
) -> dict:
    """ECE per label of each system's scores on val and test; for a member with a temperature other
    than 1, also of its calibrated scores (`<split> calibrated`), the ones the ensemble mixes."""
    result: dict = {"temperatures": temperatures, "systems": {}}
    for name, splits in systems.items():
        result["systems"][name] = {
            split: calibration_errors(probs, labels, label_names) for split, (probs, labels) in splits.items()
        }
        temperature = temperatures.get(name, 1.0)
        if temperature != 1.0:
            result["systems"][name] |= {
                f"{split} calibrated": calibration_errors(
                    apply_temperature(probs, temperature), labels, label_names
                )
                for split, (probs, labels) in splits.items()
            }
    return result


def confusion_section(predictions: np.ndarray, references: np.ndarray, label_names: Sequence[str]) -> dict:
    confusion = label_confusion(predictions, references)
    return {
        "labels": list(label_names),
        "rate": confusion["rate"].round(4).tolist(),
        "counts": confusion["counts"].astype(int).tolist(),
        "gold_cooccurrence": confusion["gold_cooccurrence"].astype(int).tolist(),
        "top": top_confusions(confusion, label_names),
    }
