"""Multi-label classification metrics as a local `evaluate` module (loads offline by path)."""

import datasets
import evaluate

from hf_trainer.metrics.multilabel import compute_multilabel

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
        # The computation lives in the library, so the stages that need no Trainer get the same
        # figures without importing `evaluate` (whose import pulls in transformers.pipelines).
        return compute_multilabel(predictions, references, scores, label_names)
