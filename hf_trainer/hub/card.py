"""The model card of a published ensemble: what it is, its members, its test figures with
provenance, usage and limits (spelling games, the functional suite)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ..evaluation.functional import functional_card_md
from ..evaluation.report import KCBERT_BASELINE
from ..members import entry_kind, member_class
from ..selection.ensemble import EnsembleSpec
from ..selection.mention_gate import gate_sentence
from ..serving.app_views import is_synthetic_demo
from ..training.packaged_encoder import packaged_description

# What each canonical-form step undoes, in the card's words (hf_trainer/data/canonical.py).
CANONICAL_STEP_WORDS = {
    "width": "full-width forms", "invisible": "invisible characters", "latin": "Latin look-alikes",
    "compose": "letters typed one by one", "repeats": "long repeats",
}  # fmt: skip


# Gradio's version for a Space when it is not installed here (the card's sdk_version, the Space's pin).
SPACE_REQUIREMENTS = {"gradio": "6.31.0"}


def pinned_version(package: str) -> str | None:
    """The installed version (torch without its local build tag), else SPACE_REQUIREMENTS' pin."""
    from importlib import metadata

    try:
        return metadata.version(package).split("+")[0]
    except metadata.PackageNotFoundError:
        return SPACE_REQUIREMENTS.get(package)


def spelling_games_line(canonical_forms: Mapping[str, Sequence[str]] | None) -> str:
    """The card's line on spelling games, from the canonical form each member records (member.json)."""
    still = (
        "spaces inside words, initial-consonant abbreviations (ㅅㅂ) and look-alike syllables still cost "
        "accuracy (the report's robustness section, where there is one, says how much)."
    )
    forms = {tuple(steps) for steps in (canonical_forms or {}).values()}
    if not forms:
        return f"- Spelling games: {still}"

    def undone(steps: Sequence[str]) -> str:
        words = [CANONICAL_STEP_WORDS[step] for step in steps]
        return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words) or "nothing"

    if len(forms) == 1:
        (steps,) = forms
        served = (
            f"the members serve the canonical form they were trained with ({undone(steps)} undone)"
            if steps
            else "the members were trained and are served without the canonical form (nothing is undone)"
        )
    else:
        served = (
            "each member serves the canonical form it was trained with ("
            + "; ".join(f"{name}: {undone(steps)} undone" for name, steps in canonical_forms.items())
            + ")"
        )
    return f"- Spelling games: {served}; {still}"


def model_card(
    spec: EnsembleSpec,
    test_metrics: dict | None,
    repo_id: str,
    functional: dict | None = None,
    canonical_forms: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """README.md for the ensemble repository (`functional`: report/functional_tests.json, if any;
    `canonical_forms`: each member's canonical-form steps, from its member.json)."""
    lines = [
        "---",
        "language: ko",
        "license: cc-by-nc-nd-4.0",
        "library_name: hf_trainer_unsmile",
        "pipeline_tag: text-classification",
        "tags: [hate-speech, multi-label, korean, unsmile, ensemble]",
        "datasets: [smilegate-ai/kor_unsmile]",
        # A Space made from this repository runs app.py (the Space bundle, see space_files).
        "sdk: gradio",
        f"sdk_version: {pinned_version('gradio')}",
        "app_file: app.py",
        "---",
        "",
        f"# {repo_id.split('/')[-1]}: Korean multi-label hate-speech classifier (UnSmile ensemble)",
        "",
        f"{len(spec.labels)} labels per comment: "
        + ", ".join(spec.labels)
        + ". "
        + _composition(spec, test_metrics),
        *_members_section(spec),
    ]
    if test_metrics:
        lines += _test_section(spec, test_metrics) + _provenance_lines(test_metrics)
        lines += ["", "The full report with plots is in `report/`."]
    if functional:
        lines += functional_card_md(functional)
    return "\n".join(lines + _usage_and_limits(repo_id, canonical_forms))


def _members_section(spec: EnsembleSpec) -> list[str]:
    """The members' weights and val scores, and what each is and how it loads (from its kind)."""
    lines = [
        "",
        "## Members",
        "",
        "| member | weight | val macro F1 (0.5) | val macro F1 (tuned) |",
        "|---|---:|---:|---:|",
    ]
    for m in spec.members:
        lines.append(
            f"| {m.get('hub_id') or m['name']} | {m['weight']:.3f} | {m.get('val_f1_macro', float('nan')):.4f} | "
            f"{m.get('val_f1_macro_tuned', float('nan')):.4f} |"
        )
    lines.append("")
    for m in spec.members:
        where = m.get("hub_id") or m["name"]
        lines.append(f"- {where}: {member_class(entry_kind(m, None)).card_text.format(repo_id=where)}.")
    if spec.gate is not None:
        lines.append(f"- Mention gate: {gate_sentence(spec.gate)}.")
    return lines


def _test_section(spec: EnsembleSpec, test_metrics: dict) -> list[str]:
    """Every system's test macro F1 with its interval, the published baseline, the per-label table."""
    systems = test_metrics["systems"]
    lines = [
        "",
        "## Test results",
        "",
        "| system | macro F1 [95% bootstrap interval] | micro F1 |",
        "|---|---:|---:|",
    ]
    intervals = test_metrics.get("bootstrap_ci", {}).get("systems", {})
    for name, result in systems.items():
        ci = intervals.get(name, {}).get("f1_macro")
        shown = f"{result['f1_macro']:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
        lines.append(f"| {name} | {shown} | {result['f1_micro']:.4f} |")
    lines.append(
        f"| {KCBERT_BASELINE['name']} | {KCBERT_BASELINE['f1_macro']:.2f} | {KCBERT_BASELINE['f1_micro']:.2f} |"
    )
    final = systems.get("ensemble tuned")
    if final:
        lines += [
            "",
            "| label | threshold | precision | recall | F1 | support |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for j, (name, row) in enumerate(final["per_label"].items()):
            lines.append(
                f"| {name} | {spec.thresholds[j]:.3f} | {row['precision']:.4f} | {row['recall']:.4f} | "
                f"{row['f1']:.4f} | {row['support']} |"
            )
    count = test_metrics.get("test_evaluation", 1)
    return lines + ["", f"Test evaluations of the output folder behind these numbers: {count}."]


def _provenance_lines(test_metrics: dict) -> list[str]:
    """The base models' Hub commits and the data source the report recorded."""
    lines = []
    if test_metrics.get("base_models"):
        lines += ["", "Base models (Hub commit fine-tuned from):", ""]
        for name, base in test_metrics["base_models"].items():
            if not base:
                where = "built from scratch"
            elif base.get("package"):
                where = f"converted from the package {packaged_description(base['package'])}"
            else:
                where = f"`{base['source']}` at commit `{base.get('commit') or 'local'}`"
            lines.append(f"- {name}: {where}")
    if test_metrics.get("data_source"):
        lines += ["", f"Data: `{json.dumps(test_metrics['data_source'], ensure_ascii=False)}`"]
    return lines


def _usage_and_limits(repo_id: str, canonical_forms: Mapping[str, Sequence[str]] | None) -> list[str]:
    return [
        "",
        "## Try it in a browser",
        "",
        "This repository is also a Gradio Space bundle: [app.py](app.py) serves this ensemble (scores, the "
        "decided labels with their thresholds, the spans behind each, a file tab), with the pinned "
        "[requirements.txt](requirements.txt) and the recipe's `hf_trainer` package beside it. Create a Space "
        "from it (same files; the front matter above names the SDK and the app file), or run it locally: "
        "`pip install -r requirements.txt && python app.py` (127.0.0.1:7860, no analytics, no share link; "
        "a Space sets GRADIO_SERVER_NAME=0.0.0.0 itself).",
        "",
        "## How to use",
        "",
        "```python",
        "from hf_trainer import Ensemble  # this recipe's package",
        "",
        f'ens = Ensemble.from_pretrained("{repo_id}")',
        'ens.predict(["분석할 댓글"])  # per comment: every label\'s score and the labels over their thresholds',
        "```",
        "",
        "## Intended use and limitations",
        "",
        "- Meant for research on, and assisted moderation of, Korean online comments. It must not be the only "
        "basis of decisions about people: hate-speech labels are subjective, annotators disagree, and the "
        "model inherits the biases and the period of its training data (Korean news and community comments).",
        "- Rare classes (연령, 기타 혐오) are learnt from few examples (partly AEDA copies); expect lower "
        "precision and recall there. Scores are not calibrated probabilities across domains.",
        spelling_games_line(canonical_forms),
        "- Sarcasm, new slang and text far from the training domain are often misclassified.",
        "",
        "## Data and licence",
        "",
        "Trained on the Korean UnSmile dataset (Smilegate AI, 2022), licensed CC BY-NC-ND 4.0: "
        'non-commercial use only. Cite: "Korean UnSmile dataset: Human-annotated Multi-label Korean Hate '
        'Speech Dataset", Smilegate AI, 2022.',
        "",
    ]


def _composition(spec: EnsembleSpec, test_metrics: dict | None) -> str:
    """The card's first sentences, from the data: what the members are, how often test was scored."""
    kinds = [entry_kind(m, None) for m in spec.members]
    parts = [
        f"{kinds.count(kind)} {member_class(kind).card_noun[kinds.count(kind) != 1]}"
        for kind in dict.fromkeys(kinds)
    ]
    count = (test_metrics or {}).get("test_evaluation")
    scored = (
        "the test split (UnSmile `valid`) was not scored yet"
        if count is None
        else f"the test split (UnSmile `valid`) was scored {count} time{'s' if count != 1 else ''}"
    )
    members = f"An ensemble of {len(spec.members)} member{'s' if len(spec.members) != 1 else ''} ({', '.join(parts)})"
    if is_synthetic_demo(test_metrics):
        return (
            f"{members} trained on the recipe's shipped synthetic sample, a demo that proves the pipeline: "
            f"**its scores mean nothing about hate speech**; {scored.replace('UnSmile `valid`', 'the sample')}."
        )
    return (
        f"{members} trained on the Korean UnSmile dataset; weights and per-label thresholds were chosen on "
        f"a validation split, and {scored}."
    )
