"""Multi-label classification metrics as a local `evaluate` module (loads offline by path)."""

import datasets
import evaluate
import numpy as np
from sklearn import metrics

_DESCRIPTION = """
Metrics for multi-label classification from 0/1 predictions (and optionally scores):
macro, micro, weighted and samples F1; per-label precision, recall, F1 and support;
Hamming loss; exact match (subset accuracy); with `scores`, label ranking average precision
and macro ROC AUC (over the labels that have both classes in the references).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of 0/1 lists, shape (n_samples, n_labels).
    references: list of 0/1 lists, same shape.
    scores: optional float array (n_samples, n_labels), e.g. sigmoid probabilities.
    label_names: optional list of names for the per-label entries (default "0", "1", ...).
Returns:
    dict with f1_macro, f1_micro, f1_weighted, f1_samples, precision_macro, recall_macro,
    precision_micro, recall_micro,
    hamming_loss, exact_match, per_label {name: {precision, recall, f1, support}},
    and with scores: lrap, roc_auc_macro.
"""


class Multilabel(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("int8")),
                    "references": datasets.Sequence(datasets.Value("int8")),
                }
            ),
        )

    def _compute(self, predictions, references, scores=None, label_names=None):
        y_pred = np.asarray(predictions, dtype=np.int8)
        y_true = np.asarray(references, dtype=np.int8)
        if y_pred.shape != y_true.shape or y_pred.ndim != 2:
            raise ValueError(
                f"predictions {y_pred.shape} and references {y_true.shape} must be equal 2-D shapes"
            )
        n_labels = y_true.shape[1]
        names = list(label_names) if label_names is not None else [str(i) for i in range(n_labels)]
        if len(names) != n_labels:
            raise ValueError(f"{len(names)} label names for {n_labels} labels")
        precision, recall, f1, support = metrics.precision_recall_fscore_support(
            y_true, y_pred, average=None, zero_division=0
        )
        result = {
            "f1_macro": float(np.mean(f1)),
            "f1_micro": float(metrics.f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "f1_weighted": float(metrics.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
            "f1_samples": float(metrics.f1_score(y_true, y_pred, average="samples", zero_division=0)),
            "precision_macro": float(np.mean(precision)),
            "recall_macro": float(np.mean(recall)),
            "precision_micro": float(
                metrics.precision_score(y_true, y_pred, average="micro", zero_division=0)
            ),
            "recall_micro": float(metrics.recall_score(y_true, y_pred, average="micro", zero_division=0)),
            "hamming_loss": float(metrics.hamming_loss(y_true, y_pred)),
            "exact_match": float(metrics.accuracy_score(y_true, y_pred)),
            "per_label": {
                name: {
                    "precision": float(precision[i]),
                    "recall": float(recall[i]),
                    "f1": float(f1[i]),
                    "support": int(support[i]),
                }
                for i, name in enumerate(names)
            },
        }
        if scores is not None:
            y_score = np.asarray(scores, dtype=np.float64)
            if y_score.shape != y_true.shape:
                raise ValueError(f"scores {y_score.shape} must have the shape of references {y_true.shape}")
            result["lrap"] = float(metrics.label_ranking_average_precision_score(y_true, y_score))
            both_classes = [j for j in range(n_labels) if 0 < y_true[:, j].sum() < len(y_true)]
            result["roc_auc_macro"] = (
                float(np.mean([metrics.roc_auc_score(y_true[:, j], y_score[:, j]) for j in both_classes]))
                if both_classes
                else float("nan")
            )
        return result
