"""The test report: a Markdown page a person can read and act on (the plots are in plots.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from ..data.labels import UNSMILE_LABELS
from ..selection.mention_gate import gate_sentence
from ..training.packaged_encoder import packaged_description
from ..utils import io

logger = logging.getLogger(__name__)

UNSMILE_VALID_ROWS = 3737  # rows of UnSmile v1.0's `valid` split, where the baseline was measured

# The published KcBERT baseline (smilegate-ai/kor_unsmile) on UnSmile's `valid` split, our test split.
KCBERT_BASELINE: dict = {
    "name": "KcBERT baseline (published)",
    "f1_macro": 0.76,
    "f1_micro": 0.77,
    "per_label_f1": dict(
        zip(UNSMILE_LABELS, (0.76, 0.85, 0.83, 0.82, 0.83, 0.88, 0.87, 0.30, 0.67, 0.77), strict=True)
    ),
}


def classification_report_md(result: dict, title: str) -> str:
    """The per-label table in the layout of scikit-learn's classification report."""
    lines = [
        f"**{title}**",
        "",
        "| label | precision | recall | f1-score | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in result["per_label"].items():
        lines.append(
            f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |"
        )
    support = sum(row["support"] for row in result["per_label"].values())
    lines.append(
        f"| micro avg | {result['precision_micro']:.4f} | {result['recall_micro']:.4f} | {result['f1_micro']:.4f} | {support} |"
    )
    lines.append(
        f"| macro avg | {result['precision_macro']:.4f} | {result['recall_macro']:.4f} | "
        f"{result['f1_macro']:.4f} | {support} |"
    )
    lines.append(f"| weighted avg | | | {result['f1_weighted']:.4f} | {support} |")
    lines.append(f"| samples avg | | | {result['f1_samples']:.4f} | {support} |")
    return "\n".join(lines)


def comparison_md(
    systems: dict[str, dict], labels: Sequence[str], baseline: dict | None = KCBERT_BASELINE
) -> str:
    """Per-label F1 of every system side by side, macro/micro F1 at the bottom."""
    names = list(systems)
    header = "| label | " + " | ".join(names) + (f" | {baseline['name']} |" if baseline else " |")
    lines = [header, "|---|" + "---:|" * (len(names) + (1 if baseline else 0))]

    def row(label: str, values: list[float], reference: float | None) -> str:
        best = max(values)
        cells = [f"**{v:.4f}**" if v == best else f"{v:.4f}" for v in values]
        tail = f" | {reference:.2f} |" if baseline else " |"
        return f"| {label} | " + " | ".join(cells) + tail

    for name in labels:
        ref = baseline["per_label_f1"].get(name) if baseline else None
        lines.append(row(name, [systems[s]["per_label"][name]["f1"] for s in names], ref))
    for key, label in (("f1_macro", "**macro F1**"), ("f1_micro", "**micro F1**")):
        lines.append(row(label, [systems[s][key] for s in names], baseline[key] if baseline else None))
    return "\n".join(lines)


def _interval(ci: Sequence[float] | None) -> str:
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def summary_md(result: dict) -> list[str]:
    systems, intervals = result["systems"], result.get("bootstrap_ci", {}).get("systems", {})
    lines = [
        "## Summary",
        "",
        "Brackets: 95% bootstrap interval over the test rows "
        f'({result.get("bootstrap_ci", {}).get("resamples", 0)} resamples). "tuned": thresholds chosen on '
        "validation (see below), never on test.",
        "",
        "| system | macro F1 | micro F1 | Hamming loss | exact match | LRAP | ROC AUC (macro) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in systems.items():
        ci = intervals.get(name, {})
        lines.append(
            f"| {name} | {r['f1_macro']:.4f}{_interval(ci.get('f1_macro'))} | "
            f"{r['f1_micro']:.4f}{_interval(ci.get('f1_micro'))} | {r['hamming_loss']:.4f} | "
            f"{r['exact_match']:.4f} | {r.get('lrap', float('nan')):.4f} | {r.get('roc_auc_macro', float('nan')):.4f} |"
        )
    lines.append(
        f"| {KCBERT_BASELINE['name']} | {KCBERT_BASELINE['f1_macro']:.2f} | {KCBERT_BASELINE['f1_micro']:.2f} | | | | |"
    )
    published = result.get("published_lrap")
    if published:
        lines.append(
            f"| {published['models']} (published LRAP, not ours) | | | | | {published['lrap']:.3f} | |"
        )
        lines += ["", f"Published LRAP: {published['source']} ({published['note']})."]
    if result["test_rows"] != UNSMILE_VALID_ROWS:
        lines += [
            "",
            f"Note: the published rows were measured on UnSmile's `valid` split ({UNSMILE_VALID_ROWS} rows); this "
            f"test set has {result['test_rows']} rows, so they are not a like-for-like comparison.",
        ]
    return lines


def paired_md(result: dict) -> list[str]:
    pairs = result.get("paired_bootstrap") or []
    if not pairs:
        return []
    lines = [
        "## Are the differences real? (paired bootstrap of macro F1)",
        "",
        'Both systems are scored on the same resampled rows. "share <= 0": the share of resamples in '
        "which the first system is not better.",
        "",
        "| difference | on test | mean | 95% interval | share <= 0 | verdict |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for p in pairs:
        if p["inside_noise"]:
            verdict = "inside the noise: the test set cannot tell them apart"
        else:
            verdict = f"{p['a'] if p['ci'][0] > 0 else p['b']} is better beyond the noise"
        lines.append(
            f"| {p['a']} - {p['b']} | {p['observed_difference']:+.4f} | {p['mean_difference']:+.4f} | "
            f"[{p['ci'][0]:+.4f}, {p['ci'][1]:+.4f}] | {p['share_at_or_below_zero']:.3f} | {verdict} |"
        )
    return lines


CV_ROWS = {
    "tuned": "thresholds: every label tuned",
    "per_label": "thresholds: per-label choice (0.5 unless tuning wins out of fold)",
    "weights_and_thresholds": "the whole selection: weights, then thresholds",
}


def cv_md(result: dict, labels: Sequence[str]) -> list[str]:
    cv = result.get("val_cv")
    if not cv:
        return []
    choice = cv["threshold_choice"]
    lines = [
        "## Validation estimates beside the test figure",
        "",
        f"Tuning on validation scores those rows optimistically. {cv['folds']}-fold cross-validation on "
        "validation (multilabel-stratified, seeded) re-makes the weights and the thresholds on the other folds "
        "and scores each held-out fold, before the test split was scored. Thresholds shipped: "
        f"**{choice['chosen']}** (asked: {choice['requested']}; `auto` takes the per-label choice when its CV "
        "estimate is no worse). The test figure of the way not shipped is shown for comparison only.",
        "",
        "What the validation rows chose: each transformer member's checkpoint (the epoch with the best val "
        "macro F1), the members' temperatures (with `--calibrate temperature`), the ensemble weights, the "
        "thresholds and `auto`'s pick between the two ways (a char n-gram member's C is chosen on train rows "
        "only). The folds re-make only the weights and the thresholds; the rest saw every validation row, "
        "held-out folds included. So the CV column estimates the weight and threshold selection on top of "
        "members already chosen on these rows: it is less optimistic than the in-sample column, still "
        "optimistic, and not an estimate of the test figure.",
        "",
        "| macro F1 of | val, in sample | val, CV estimate | test | shipped |",
        "|---|---:|---:|---:|---|",
    ]
    for key, row in cv["estimates"].items():
        lines.append(
            f"| {CV_ROWS.get(key, key)} | {row['val_in_sample']:.4f} | {row['val_cv']:.4f} | {row['test']:.4f} | "
            f"{'yes' if row['shipped'] else ''} |"
        )
    per_label = cv["per_label_choice"]
    lines += ["", "| label | CV F1, tuned | F1 at 0.5 | per-label choice keeps |", "|---|---:|---:|---|"]
    for j, name in enumerate(labels):
        lines.append(
            f"| {name} | {per_label['cv_f1_tuned'][j]:.4f} | {per_label['f1_at_0.5'][j]:.4f} | {per_label['keeps'][j]} |"
        )
    return lines


def members_md(result: dict) -> list[str]:
    """The members, their weights, and the members whose removal changes nothing on validation."""
    section = result.get("members")
    if not section:
        return []
    lines = [
        "## Members and weights",
        "",
        "A weight says how much of the mixed score comes from a member, not how much the member helps: with "
        "thresholds tuned for each candidate, a member whose scores carry little information can take any "
        "weight at almost no cost. So the weights shipped are, of the candidates within two bootstrap standard "
        "deviations of the best one, the one with the least weight on weak members that the validation rows "
        "cannot tell apart from the best (95% paired bootstrap interval of the difference covers 0); and each "
        "member's removal is measured (validation, tuned thresholds, paired bootstrap).",
        "",
        "| member | kind | weight | val macro F1 (tuned) | change in val macro F1 without it | 95% interval | |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for member in section["members"]:
        removal = member.get("removal")
        effect, ci, flag = "", "", ""
        if removal:
            effect, ci = (
                f"{removal['difference']:+.4f}",
                f"[{removal['ci'][0]:+.4f}, {removal['ci'][1]:+.4f}]",
            )
            flag = "**removal changes nothing these rows can show**" if removal["changes_nothing"] else ""
        tuned = member.get("val_f1_macro_tuned")
        lines.append(
            f"| {member['name']} | {member.get('kind') or ''} | {member['weight']:.3f} | "
            f"{'' if tuned is None else f'{tuned:.4f}'} | {effect} | {ci} | {flag} |"
        )
    choice = section.get("weight_choice") or {}
    if choice.get("best") and choice["best"]["weights"] != choice["chosen"]["weights"]:
        best = ", ".join(f"{w:.3f}" for w in choice["best"]["weights"])
        lines += [
            "",
            f"The best weights on validation ({best}; tuned macro F1 {choice['best']['value']:.4f}) cannot be told "
            f"apart from the shipped ones ({choice['chosen']['value']:.4f}), which put less weight on weak members.",
        ]
    return lines + gate_md(section.get("gate"))


def gate_md(gate: dict | None) -> list[str]:
    """The mention gate: which member, its strength and the validation figures it was chosen by."""
    if not gate:
        return []
    choice = gate.get("choice") or {}
    ungated = choice.get("ungated") or {}
    tried = "; ".join(
        f"{s}: {t['cv_f1_macro']:.4f}, {100 * t['clean_rows_flagged']:.1f}%"
        for s, t in (choice.get("tried") or {}).items()
    )
    return [
        "",
        f"**Mention gate**: {gate_sentence(gate)} (hf_trainer/selection/mention_gate.py). The strength is "
        f"{choice.get('rule', 'chosen on validation')}. Out of fold on validation (CV macro F1, clean rows flagged "
        f"with a hate label): ungated {ungated.get('cv_f1_macro', float('nan')):.4f}, "
        f"{100 * ungated.get('clean_rows_flagged', float('nan')):.1f}%; {tried}. The tables' \"ensemble without "
        'the gate" is the same mix without it.',
    ]


def calibration_md(result: dict) -> list[str]:
    calibration = result.get("calibration")
    if not calibration:
        return []
    lines = [
        "## Calibration",
        "",
        "Expected calibration error (10 equal-width bins; mean over labels, and all scores pooled); 0 means a "
        "score of 0.8 is right 80% of the time. The members are trained with pos_weight, which pushes scores "
        "of rare labels up on purpose, so raw scores are not probabilities; the thresholds absorb that.",
        "",
        "| system | temperature | val ECE (mean / pooled) | test ECE (mean / pooled) |",
        "|---|---:|---:|---:|",
    ]
    temperatures = calibration["temperatures"]
    for name, splits in calibration["systems"].items():
        for variant in ("", " calibrated"):
            if f"val{variant}" not in splits:
                continue
            val, test = splits[f"val{variant}"], splits[f"test{variant}"]
            temperature = (
                f"{temperatures[name]:.3f}"
                if name in temperatures and variant
                else ("" if name not in temperatures else "1 (as trained)")
            )
            lines.append(
                f"| {name}{variant} | {temperature} | {val['ece_mean']:.4f} / {val['ece_pooled']:.4f} | "
                f"{test['ece_mean']:.4f} / {test['ece_pooled']:.4f} |"
            )
    if any(t != 1.0 for t in temperatures.values()):
        lines += [
            "",
            "Temperature scaling (`--calibrate temperature`) divides each member's logits by its temperature, "
            "fitted on validation, before mixing: it changes the scores and the mixing, not any member's "
            "ranking of comments. The ensemble above mixes the calibrated scores.",
        ]
    return lines


def confusion_md(result: dict) -> list[str]:
    confusion = result.get("label_confusion")
    if not confusion:
        return []
    lines = [
        "## Labels the ensemble mixes up (test, shipped thresholds)",
        "",
        "Of the comments with gold label A, the share also flagged B although B is not a gold label "
        "(heat map: label_confusion.png; the diagonal there is each label's recall).",
        "",
        "| gold label A | also flagged B | share | comments |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| {c['gold']} | {c['also_predicted']} | {c['rate']:.3f} | {c['count']} |" for c in confusion["top"]
    ]
    return lines


def write_report_md(
    path: Path, result: dict, *, primary: str, labels: Sequence[str], plots: Sequence[str]
) -> Path:
    """report.md: summary with intervals, paired differences, validation estimates, the classic per-label
    report of the final system, comparisons, calibration, confusions, errors, plots, provenance."""
    systems = result["systems"]
    per_label_ci = result.get("bootstrap_ci", {}).get("systems", {}).get(primary, {}).get("per_label_f1", {})
    lines = [
        "# UnSmile test report",
        "",
        f"Evaluated at {result['evaluated_at']} on {result['test_rows']} test rows "
        f"(UnSmile's `valid` split when trained on UnSmile).",
        "",
        f"**Test evaluations of this output folder: {result['test_evaluation']}.** "
        + (
            "This is the first and only score of the test split: weights and thresholds were chosen on "
            "validation alone."
            if result["test_evaluation"] == 1
            else "The test split was scored before (history below), so choices made since may have seen "
            "test scores: treat these numbers as optimistic."
        ),
        "",
        *summary_md(result),
        "",
        *paired_md(result),
        "",
        *cv_md(result, labels),
        "",
        *members_md(result),
        "",
        "## Final system",
        "",
        classification_report_md(systems[primary], primary),
        "",
    ]
    if per_label_ci:
        lines += ["95% bootstrap intervals of each label's F1:", ""]
        lines += ["| label | F1 | 95% interval |", "|---|---:|---:|"]
        lines += [
            f"| {name} | {systems[primary]['per_label'][name]['f1']:.4f} | {_interval(ci).strip()} |"
            for name, ci in per_label_ci.items()
        ]
        lines.append("")
    lines += [
        "## Per-label F1, every system",
        "",
        comparison_md(systems, labels),
        "",
        *calibration_md(result),
        "",
        *confusion_md(result),
        "",
        "## Errors",
        "",
        f"`errors.tsv` lists, per label, the highest-scoring false positives and the lowest-scoring false "
        f"negatives of the final system on test ({result.get('errors_listed', 0)} rows"
        + ("" if result.get("errors_have_texts", True) else "; texts were not available, ids only")
        + ").",
        "",
        "## Plots",
        "",
    ]
    lines += [f"![{p}]({p})" for p in plots]
    io.write_text(path, "\n".join(lines + provenance_md(result)) + "\n")
    return path


def provenance_md(result: dict) -> list[str]:
    """The inputs' hashes, the base models, the data source and the earlier test evaluations."""
    lines = ["", "## Inputs", "", "| file | sha256 |", "|---|---|"]
    lines += [f"| {f} | `{h[:16]}…` |" for f, h in result["inputs"].items()]
    if result.get("base_models"):
        lines += ["", "| member | base model | revision | commit | weights file |", "|---|---|---|---|---|"]
        for name, base in result["base_models"].items():
            base = base or {}
            source = base.get("source", "built from scratch")
            if base.get("package"):
                source = f"package {packaged_description(base['package'])}"
            lines.append(
                f"| {name} | {source} | {base.get('revision') or ''} | "
                f"{base.get('commit') or 'local'} | {base.get('file', '')} |"
            )
    if result.get("data_source"):
        lines += ["", f"Data: `{json.dumps(result['data_source'], ensure_ascii=False)}`"]
    if result.get("history"):
        lines += [
            "",
            "## Earlier test evaluations of this output folder",
            "",
            "| when | macro F1 (tuned) | inputs |",
        ]
        lines += ["|---|---:|---|"]
        lines += [
            f"| {h['evaluated_at']} | {h.get('test_f1_macro_tuned', float('nan')):.4f} | `{h.get('inputs_digest', '')}` |"
            for h in result["history"]
        ]
    return lines


def put_section(report: Path, name: str, lines: Sequence[str]) -> None:
    """A section added to report.md by a later step (robustness, functional tests), between
    <!-- name --> markers: an earlier copy is replaced; it goes before the Inputs section."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = report.read_text(encoding="utf-8")
    if start in text:
        head, rest = text.split(start, 1)
        text = head + rest.split(end, 1)[1].lstrip("\n")
    block = "\n".join([start, *lines, end]) + "\n\n"
    marker = "\n## Inputs\n"
    text = (
        text.replace(marker, "\n" + block + marker.lstrip("\n"), 1) if marker in text else text + "\n" + block
    )
    io.write_text(report, text)
