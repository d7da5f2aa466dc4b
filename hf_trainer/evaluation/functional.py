"""Functional tests in Korean (HateCheck-style): which kinds of text a classifier gets wrong.

The suite (`functional_suite/cases.tsv`, its README and licence beside it) holds cases written for this
project, each with its functionality, target group, gold labels in UnSmile's label set and the labels
its pass/fail rule checks. It is never a training or tuning set: nothing is chosen on it.

The rule: a case passes when, on every label in its `checked` column, the system's decision (score at
or over that label's threshold) equals the gold one. Hateful cases check their target's label (the
hate must be found; other labels are not judged); non-hateful cases check every hate label (none may
be decided); abuse of an individual checks 악플/욕설 too. Per functionality the pass rate comes with
a 95% Wilson interval; per target group, the false positive rate on neutral and positive mentions
(any hate label decided) and the recall of the target's label on hateful cases.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.labels import UNSMILE_CLEAN
from ..selection.mention_gate import UNGATED
from ..utils.errors import InvalidInput

logger = logging.getLogger(__name__)

SUITE_DIR = Path(__file__).with_name("functional_suite")
CASES_FILE = SUITE_DIR / "cases.tsv"
FUNCTIONAL_FILE, FUNCTIONAL_PLOT = "functional_tests.json", "functional_tests.png"  # in the report folder
COLUMNS = ("case_id", "functionality", "target", "term", "text", "gold", "checked")
CLEAN = UNSMILE_CLEAN
# Functionalities whose false positives the per-group table counts: neutral and positive mentions.
MENTIONS = ("neutral_mention", "positive_mention", "neutral_question", "pronoun_neutral")
WORST_CASES = 5  # failing cases listed per functionality and system, most confidently wrong first
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Case:
    case_id: str
    functionality: str
    target: str  # a label name, or "-" for a case about no group
    term: str
    text: str
    gold: tuple[str, ...]
    checked: tuple[str, ...]


def read_cases(path: str | Path = CASES_FILE, labels: Sequence[str] | None = None) -> list[Case]:
    """The cases of a suite TSV (COLUMNS, tab-separated, no quoting), each label checked against
    `labels`; a bad row stops with its file, line and column."""
    from ..utils.io import read_table

    known = set(labels) if labels is not None else None
    cases, seen = [], set()
    for number, row in read_table(path, COLUMNS, "functional test suite"):
        gold = tuple(n for n in row["gold"].split(",") if n)
        checked = tuple(n for n in row["checked"].split(",") if n)
        for column, names in (("gold", gold), ("checked", checked)):
            unknown = [n for n in names if known is not None and n not in known]
            if unknown or not names:
                raise InvalidInput(
                    f"{path}, line {number}, column {COLUMNS.index(column) + 1} ({column}): "
                    + (f"unknown label {unknown[0]!r}" if unknown else "no label")
                )
        if row["case_id"] in seen:
            raise InvalidInput(f"{path}, line {number}, column 1: case id {row['case_id']} appears twice")
        seen.add(row["case_id"])
        if not row["text"].strip():
            raise InvalidInput(f"{path}, line {number}, column 5 (text): empty")
        cases.append(
            Case(row["case_id"], row["functionality"], row["target"], row["term"], row["text"], gold, checked)
        )
    return cases


def passes(decisions: np.ndarray, cases: Sequence[Case], labels: Sequence[str]) -> np.ndarray:
    """Per case: True when the decisions (cases x labels, bool) equal gold on every checked label."""
    index = {name: i for i, name in enumerate(labels)}
    out = np.empty(len(cases), dtype=bool)
    for row, case in enumerate(cases):
        out[row] = all(bool(decisions[row, index[name]]) == (name in case.gold) for name in case.checked)
    return out


def wilson(passed: int, total: int) -> list[float]:
    """95% Wilson score interval of a pass rate (sound at 0% and 100%, unlike the normal one)."""
    if total == 0:
        return [0.0, 1.0]
    rate, z2 = passed / total, Z95 * Z95
    centre = (rate + z2 / (2 * total)) / (1 + z2 / total)
    half = Z95 * math.sqrt(rate * (1 - rate) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"


def _rate(hits: np.ndarray) -> dict:
    return {
        "rate": float(hits.mean()) if len(hits) else None,
        "n": int(len(hits)),
        "ci": wilson(int(hits.sum()), len(hits)),
    }


def score_system(
    probs: np.ndarray, thresholds: np.ndarray, cases: Sequence[Case], labels: Sequence[str]
) -> dict:
    """One system's results on the suite: overall and per-functionality pass rates with intervals,
    the worst failing cases, and per target group the false positive rate on mentions and the
    recall on hateful cases."""
    decisions = probs >= np.asarray(thresholds)[None, :]
    ok = passes(decisions, cases, labels)
    index = {name: i for i, name in enumerate(labels)}
    # How wrong a failing case is: its largest distance to the threshold on a wrongly decided label.
    margin = np.abs(probs - np.asarray(thresholds)[None, :])

    def failure(i: int) -> dict:
        case = cases[i]
        wrong = [name for name in case.checked if decisions[i, index[name]] != (name in case.gold)]
        return {
            "case_id": case.case_id, "text": case.text, "gold": list(case.gold),
            "decided": [name for name in labels if decisions[i, index[name]]], "wrong": wrong,
            "scores": {name: round(float(probs[i, index[name]]), 4) for name in wrong},
            "margin": round(max(float(margin[i, index[name]]) for name in wrong), 4),
        }  # fmt: skip

    functionalities: dict[str, dict] = {}
    for functionality in dict.fromkeys(c.functionality for c in cases):
        rows = [i for i, c in enumerate(cases) if c.functionality == functionality]
        failures = sorted((failure(i) for i in rows if not ok[i]), key=lambda f: -f["margin"])
        functionalities[functionality] = _rate(ok[rows]) | {"worst": failures[:WORST_CASES]}
    # The hate labels: those a mention of a group must not get (its checked labels).
    hate = sorted({index[name] for c in cases if c.functionality in MENTIONS for name in c.checked})
    any_hate = decisions[:, hate].any(axis=1)
    groups: dict[str, dict] = {}
    for target in dict.fromkeys(c.target for c in cases if c.target in index):
        mentions = [i for i, c in enumerate(cases) if c.target == target and c.functionality in MENTIONS]
        hateful = [i for i, c in enumerate(cases) if c.target == target and target in c.gold]
        groups[target] = {
            "false_positive_rate_on_mentions": _rate(any_hate[mentions]),
            "recall_on_hateful": _rate(decisions[hateful, index[target]]),
        }
    return {"overall": _rate(ok), "functionalities": functionalities, "groups": groups}


def run_suite(ensemble, member_thresholds: Sequence[np.ndarray], cases: Sequence[Case],
              batch_size: int = 64, ungated_thresholds: np.ndarray | None = None) -> dict:  # fmt: skip
    """Every member (with its own thresholds) and the ensemble (with its thresholds) on the suite; with
    a mention gate, the ensemble without it too (`ungated_thresholds`)."""
    texts = [c.text for c in cases]
    spec = ensemble.spec
    member_probs = [m.predict_proba(texts, batch_size) for m in ensemble.members]
    systems = {"ensemble": score_system(spec.mix(member_probs), ensemble.thresholds, cases, ensemble.labels)}
    if ungated_thresholds is not None:
        systems[UNGATED] = score_system(spec.mix(member_probs, gated=False), ungated_thresholds, cases,
                                        ensemble.labels)  # fmt: skip
    for entry, probs, thresholds in zip(spec.members, member_probs, member_thresholds, strict=True):
        systems[entry["name"]] = score_system(probs.astype(np.float64), thresholds, cases, ensemble.labels)
    logger.info(
        "Functional tests: %d cases, %d functionalities; ensemble passes %s",
        len(cases), len({c.functionality for c in cases}), percent(systems["ensemble"]["overall"]["rate"]),
    )  # fmt: skip
    return {"cases": len(cases), "systems": systems}


def suite_digest(path: str | Path = CASES_FILE) -> str:
    from ..utils import io

    return io.sha256_file(path)


def seen_in_training(cases: Sequence[Case], member_dirs: Sequence[Path]) -> set[str]:
    """Case ids whose text is a comment of the members' train or validation split (as the members
    read it). Such a case says nothing about unseen text: it is left out of the figures."""
    from ..data.canonical import canonical_all
    from ..data.preparation import splits_rows

    rows = splits_rows(member_dirs, ("train", "validation"))
    if rows is None:
        logger.warning(
            "Functional tests: the train and validation texts could not be read; overlap not checked"
        )
        return set()
    comments = set(rows["train"]["text"]) | set(rows["validation"]["text"])
    forms = canonical_all([c.text for c in cases])  # the prepared splits hold the canonical form
    return {c.case_id for c, form in zip(cases, forms, strict=True) if c.text in comments or form in comments}


def functional_md(result: dict, worst_functionalities: int = 3, examples: int = 3) -> list[str]:
    """The report's section: pass rates per functionality and system, per group false positives on
    mentions and recall on hate, the ensemble's weakest functionalities with examples."""
    systems = result["systems"]

    def cell(rate: dict) -> str:
        if rate["rate"] is None:
            return "-"
        return f"{100 * rate['rate']:.0f}% [{100 * rate['ci'][0]:.0f}, {100 * rate['ci'][1]:.0f}]"

    lines = [
        "## Functional tests (Korean, HateCheck-style)",
        "",
        f"{result['cases']} hand-written and template cases of the project's suite (hf_trainer/evaluation/functional_suite/: "
        f"{len(systems['ensemble']['functionalities'])} functionalities, gold rules in its README), none used to "
        "train or tune anything. A case passes when every label its rule checks is decided as gold says (hate "
        "cases: the target's label found; other cases: no hate label decided; abuse of an individual: 악플/욕설 "
        "decided too). Pass rate with its 95% Wilson "
        f"interval; each system with its own thresholds; scored with the {result.get('backend', 'torch')} backend."
        + (
            f" Left out: {result['excluded']} case(s) whose text is in the train or validation split."
            if result.get("excluded")
            else ""
        ),
        "",
        "| functionality | cases | " + " | ".join(systems) + " |",
        "|---|---:|" + "---:|" * len(systems),
        "| **all** | "
        + f"{systems['ensemble']['overall']['n']} | "
        + " | ".join(cell(s["overall"]) for s in systems.values())
        + " |",
    ]
    for name, rate in systems["ensemble"]["functionalities"].items():
        lines.append(
            f"| {name} | {rate['n']} | "
            + " | ".join(cell(s["functionalities"][name]) for s in systems.values())
            + " |"
        )
    lines += [
        "",
        "Per target group: the false positive rate on neutral and positive mentions (any hate label decided; "
        "lower is better) / the recall of the group's label on hateful cases.",
        "",
        "| group | " + " | ".join(systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for group in systems["ensemble"]["groups"]:
        cells = [
            f"{cell(s['groups'][group]['false_positive_rate_on_mentions'])} / {cell(s['groups'][group]['recall_on_hateful'])}"
            for s in systems.values()
        ]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    weakest = sorted(
        (item for item in systems["ensemble"]["functionalities"].items() if item[1]["rate"] is not None),
        key=lambda item: item[1]["rate"],
    )
    lines += [
        "",
        f"The ensemble's {worst_functionalities} weakest functionalities, with its most confident failures:",
        "",
    ]
    for name, rate in weakest[:worst_functionalities]:
        shown = "; ".join(
            f'"{w["text"]}" (gold {", ".join(w["gold"])}; decided {", ".join(w["decided"]) or "nothing"})'
            for w in rate["worst"][:examples]
        )
        lines.append(f"- **{name}** ({cell(rate)}): {shown or 'no failure'}")
    return lines


def run_functional_tests(folder: str | Path, suite: str | Path = CASES_FILE, backend: str = "torch",
                         batch_size: int = 64) -> dict:  # fmt: skip
    """The suite on an ensemble folder: report/functional_tests.json, report/functional_tests.png and a
    section of report.md (when the test evaluation wrote one). Returns the figures."""
    from ..selection.cross_validation import member_thresholds, ungated_thresholds
    from ..selection.ensemble import EnsembleSpec
    from ..serving.inference import Ensemble
    from ..training.predictions import load_aligned
    from ..utils import io
    from .plots import plot_functional
    from .test_once import REPORT_DIR, evaluation_inputs

    folder = Path(folder)
    spec = EnsembleSpec.load(folder)
    cases = read_cases(suite, spec.labels)
    seen = seen_in_training(cases, spec.member_dirs(folder))
    if seen:
        logger.warning(
            "Functional tests: %d cases are comments of the train or validation split; left out", len(seen)
        )
    kept = [c for c in cases if c.case_id not in seen]
    ensemble = Ensemble.from_pretrained(str(folder), backend=backend)
    val = load_aligned(spec.member_dirs(folder), "val")
    result = run_suite(
        ensemble, member_thresholds(spec, val), kept, batch_size, ungated_thresholds(spec, val)
    )
    root = SUITE_DIR.parents[2]  # the repository: the shipped suite is named by its path there
    where = Path(suite).resolve()
    result |= {
        "suite": str(where.relative_to(root) if where.is_relative_to(root) else where),
        "suite_sha256": suite_digest(suite),
        "excluded": sorted(seen),
        "backend": backend,
        # What was scored (ensemble.json and the members' predictions), so a test evaluation run later
        # takes these results into its report only when they are of the same ensemble.
        "inputs_digest": io.digest(evaluation_inputs(folder, spec.member_dirs(folder))),
    }
    report_dir = folder / REPORT_DIR
    io.write_json(report_dir / FUNCTIONAL_FILE, result)
    plot_functional(report_dir / FUNCTIONAL_PLOT, result)
    if not put_functional_section(report_dir):  # before the test evaluation: its report.md takes it later
        section = functional_md(result | {"excluded": len(seen)})
        io.write_text(report_dir / "functional_tests.md", "\n".join(section) + "\n")
    return result


def put_functional_section(report_dir: Path, inputs_digest: str | None = None) -> bool:
    """The functional tests' section of report.md, from functional_tests.json, when both are there
    (the suite may run before or after the test evaluation). With `inputs_digest` (a test evaluation
    writing its report), results scored on other inputs (another ensemble.json, retrained members) are
    moved aside instead. Returns whether the section was put."""
    from ..utils import io
    from .report import put_section
    from .test_once import REPORT_FILE

    if not (report_dir / REPORT_FILE).is_file() or not (report_dir / FUNCTIONAL_FILE).is_file():
        return False
    result = io.read_json(report_dir / FUNCTIONAL_FILE)
    if inputs_digest is not None and result.get("inputs_digest") != inputs_digest:
        for name in (FUNCTIONAL_FILE, FUNCTIONAL_PLOT, "functional_tests.md"):
            if (report_dir / name).exists():
                logger.warning(
                    "%s was scored on other inputs: moved to %s", name, io.move_aside(report_dir / name)
                )
        return False
    section = functional_md(result | {"excluded": len(result.get("excluded", []))})
    put_section(report_dir / REPORT_FILE, "functional-tests",
                [*section, "", f"![Pass rate per functionality]({FUNCTIONAL_PLOT})"])  # fmt: skip
    return True


def functional_card_md(result: dict, weakest: int = 3) -> list[str]:
    """The model card's summary of the functional tests: overall pass rates, the ensemble's weakest
    functionalities and, per target group, false positives on mentions and recall on hate."""
    systems = result["systems"]
    ensemble = systems["ensemble"]
    rates = ", ".join(f"{name} {percent(s['overall']['rate'])}" for name, s in systems.items())
    scored = [item for item in ensemble["functionalities"].items() if item[1]["rate"] is not None]
    worst = sorted(scored, key=lambda item: item[1]["rate"])[:weakest]
    lines = [
        "",
        "## Limitations and bias: functional tests",
        "",
        f"On the recipe's Korean functional test suite ({result['cases']} cases written for it, HateCheck-style; "
        "none used in training or tuning; `report/functional_tests.json`), the share of cases passed: "
        f"{rates}. The ensemble's weakest functionalities: "
        + "; ".join(f"{name} {percent(rate['rate'])}" for name, rate in worst)
        + ".",
        "",
        "| group | false positives on neutral and positive mentions | recall on hateful cases |",
        "|---|---:|---:|",
    ]
    for group, figures in ensemble["groups"].items():
        fp, recall = figures["false_positive_rate_on_mentions"], figures["recall_on_hateful"]
        lines.append(
            f"| {group} | {percent(fp['rate'])} (of {fp['n']}) | {percent(recall['rate'])} (of {recall['n']}) |"
        )
    return lines
