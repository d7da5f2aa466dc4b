"""The Korean functional test suite (hf_trainer/evaluation/functional_suite/) and its runner (hf_trainer/evaluation/functional.py)."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest

from hf_trainer.data.canonical import canonical
from hf_trainer.data.labels import UNSMILE_LABELS
from hf_trainer.evaluation.functional import (
    CASES_FILE,
    COLUMNS,
    Case,
    passes,
    read_cases,
    run_functional_tests,
    score_system,
    wilson,
)
from hf_trainer.evaluation.functional_suite import build_cases
from hf_trainer.utils.errors import InvalidInput
from tests.helpers import DEMO_TEST, DEMO_TRAIN

HATE = UNSMILE_LABELS[:8]  # the seven group labels and 기타 혐오
LABELS = ["여성/가족", "남성", "악플/욕설", "clean"]


def mini_suite() -> list[Case]:
    """Hand-made cases whose outcome under the decisions below is known."""
    hate_checked = ("여성/가족", "남성")
    return [
        Case("m1", "derog", "여성/가족", "여자", "a", ("여성/가족",), ("여성/가족",)),  # found: pass
        Case("m2", "derog", "여성/가족", "여자", "b", ("여성/가족",), ("여성/가족",)),  # missed: fail
        Case("m3", "derog", "남성", "남자", "c", ("남성", "악플/욕설"), ("남성",)),  # found (+ other): pass
        Case("m4", "neutral_mention", "여성/가족", "여자", "d", ("clean",), hate_checked),  # nothing: pass
        Case(
            "m5", "neutral_mention", "여성/가족", "여자", "e", ("clean",), hate_checked
        ),  # 남성 decided: fail
        Case("m6", "neutral_mention", "남성", "남자", "f", ("clean",), hate_checked),  # only 악플: pass
        Case("m7", "abuse_individual", "-", "-", "g", ("악플/욕설",), (*hate_checked, "악플/욕설")),  # pass
        Case(
            "m8", "abuse_individual", "-", "-", "h", ("악플/욕설",), (*hate_checked, "악플/욕설")
        ),  # missed: fail
    ]


# Scores per case (columns LABELS); thresholds 0.5 except 남성 at 0.7.
SCORES = np.array([
    [0.9, 0.1, 0.1, 0.0], [0.2, 0.1, 0.1, 0.9], [0.1, 0.8, 0.9, 0.0], [0.1, 0.1, 0.1, 0.9],
    [0.1, 0.95, 0.1, 0.1], [0.1, 0.6, 0.9, 0.0], [0.1, 0.1, 0.8, 0.1], [0.1, 0.1, 0.3, 0.7],
])  # fmt: skip
THRESHOLDS = np.array([0.5, 0.7, 0.5, 0.5])


def test_the_pass_rule_on_a_mini_suite_with_known_outcomes():
    cases = mini_suite()
    decisions = SCORES >= THRESHOLDS
    assert passes(decisions, cases, LABELS).tolist() == [True, False, True, True, False, True, True, False]
    result = score_system(SCORES, THRESHOLDS, cases, LABELS)
    assert result["overall"]["rate"] == pytest.approx(5 / 8) and result["overall"]["n"] == 8
    derog = result["functionalities"]["derog"]
    assert derog["rate"] == pytest.approx(2 / 3) and derog["ci"] == pytest.approx(wilson(2, 3))
    assert [w["case_id"] for w in derog["worst"]] == ["m2"] and derog["worst"][0]["wrong"] == ["여성/가족"]
    # The most confidently wrong failure first: m5 (남성 0.95 over 0.7) before nothing else failing there.
    mention = result["functionalities"]["neutral_mention"]
    assert mention["worst"][0]["case_id"] == "m5" and mention["worst"][0]["decided"] == ["남성"]
    assert mention["worst"][0]["margin"] == pytest.approx(0.25)
    groups = result["groups"]
    assert groups["여성/가족"]["false_positive_rate_on_mentions"]["rate"] == pytest.approx(1 / 2)
    assert groups["남성"]["false_positive_rate_on_mentions"]["rate"] == 0.0  # 악플/욕설 is not hate
    assert groups["여성/가족"]["recall_on_hateful"]["rate"] == pytest.approx(1 / 2)
    assert groups["남성"]["recall_on_hateful"] == {"rate": 1.0, "n": 1, "ci": wilson(1, 1)}


def test_the_worst_failures_come_most_confidently_wrong_first_and_are_cut(monkeypatch):
    import hf_trainer.evaluation.functional as functional

    monkeypatch.setattr(functional, "WORST_CASES", 2)
    checked = ("여성/가족", "남성")
    cases = [
        Case(f"w{i}", "neutral_mention", "여성/가족", "여자", "t", ("clean",), checked) for i in range(4)
    ]
    # w0: one wrong label by 0.1; w1: two wrong labels, the larger by 0.25; w2 passes; w3: wrong by 0.3.
    scores = np.array(
        [[0.6, 0.1, 0.1, 0.9], [0.55, 0.95, 0.1, 0.9], [0.1, 0.1, 0.1, 0.9], [0.8, 0.1, 0.1, 0.9]]
    )
    worst = score_system(scores, THRESHOLDS, cases, LABELS)["functionalities"]["neutral_mention"]["worst"]
    assert [w["case_id"] for w in worst] == ["w3", "w1"]  # by margin, w0 (0.1) cut at WORST_CASES
    assert worst[1]["wrong"] == ["여성/가족", "남성"] and worst[1]["margin"] == pytest.approx(0.25)
    assert worst[0]["margin"] == pytest.approx(0.3)


def test_wilson_intervals():
    assert wilson(0, 10)[0] == 0.0 and 0.25 < wilson(0, 10)[1] < 0.35  # not the degenerate [0, 0]
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson(0, 0) == [0.0, 1.0]


def test_the_shipped_suite_is_what_its_builder_writes_and_meets_the_design(tmp_path):
    rebuilt = tmp_path / "cases.tsv"
    build_cases.write(build_cases.build(), rebuilt)
    assert rebuilt.read_bytes() == CASES_FILE.read_bytes(), (
        "run python -m hf_trainer.evaluation.functional_suite.build_cases"
    )
    cases = read_cases(CASES_FILE, UNSMILE_LABELS)
    functionalities = Counter(c.functionality for c in cases)
    assert len(cases) >= 1500 and len(functionalities) >= 25
    assert len({c.text for c in cases}) == len(cases)  # no duplicate text
    assert {c.target for c in cases} - {"-"} == set(HATE)  # every target label has cases
    for case in cases:
        if case.target in case.gold:  # hateful: the target's label is checked
            assert case.checked == (case.target,)
        else:  # not hateful: every hate label is checked and none is gold
            assert set(HATE) <= set(case.checked) and not set(case.gold) & set(HATE)
    # The README's table counts are the suite's.
    readme = (CASES_FILE.parent / "README.md").read_text(encoding="utf-8")
    for name, count in functionalities.items():
        assert f"| `{name}` | {count} |" in readme, name
    assert f"{len(cases):,} Korean test cases in {len(functionalities)} functionalities" in readme


def suite_texts_among_comments(files) -> list[str]:
    """Case texts (as written or in their canonical form) that are comments of the files."""
    comments = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").split("\n")[1:]:
            text = line.split("\t")[0]
            comments |= {text.strip(), canonical(text).strip()}
    cases = read_cases(CASES_FILE, UNSMILE_LABELS)
    return [c.text for c in cases if c.text in comments or canonical(c.text) in comments]


def test_no_suite_text_is_in_the_demo_data():
    """Never a training or tuning set: no case is a comment of the shipped sample (whose train and
    validation splits the demo trains and tunes on)."""
    assert suite_texts_among_comments([DEMO_TRAIN, DEMO_TEST]) == []


def test_no_suite_text_is_in_the_real_data(unsmile_dir):
    assert suite_texts_among_comments(sorted(unsmile_dir.glob("unsmile_*.tsv"))) == []


def test_a_bad_suite_file_names_its_line_and_column(tmp_path):
    header = "\t".join(COLUMNS)
    path = tmp_path / "suite.tsv"
    path.write_text(f"{header}\nk1\tf\t남성\t남자\t남자는 싫다\t남성\t남성\nk2\tf\t-\t-\t글\tclean\t남자들\n")
    with pytest.raises(
        InvalidInput, match=r"suite.tsv, line 3, column 7 \(checked\): unknown label '남자들'"
    ):
        read_cases(path, UNSMILE_LABELS)
    path.write_text(f"{header}\nk1\tf\t남성\t남자\t남자는 싫다\t남성\n")
    with pytest.raises(InvalidInput, match="line 2: 6 fields, 7 expected"):
        read_cases(path, UNSMILE_LABELS)
    path.write_text("text\tlabels\n")
    with pytest.raises(InvalidInput, match="line 1: the header must be"):
        read_cases(path, UNSMILE_LABELS)
    # A suite saved by Excel starts with a byte-order mark: read, not refused.
    path.write_bytes("\ufeff".encode() + f"{header}\nk1\tf\t남성\t남자\t남자는 싫다\t남성\t남성\n".encode())
    assert [c.case_id for c in read_cases(path, UNSMILE_LABELS)] == ["k1"]


def test_the_runner_scores_every_system_and_adds_its_section(mixed, tmp_path):
    from hf_trainer import Ensemble
    from hf_trainer.selection.cross_validation import member_thresholds
    from hf_trainer.selection.ensemble import EnsembleSpec
    from hf_trainer.training.predictions import load_aligned

    root, _ = mixed
    folder = tmp_path / "ensemble"
    shutil.copytree(root / "ensemble", folder)  # the runner writes into the report folder
    spec = json.loads((folder / "ensemble.json").read_text(encoding="utf-8"))
    for member in spec["members"]:  # the members where they are
        member["path"] = str((root / "ensemble" / member["path"]).resolve())
    (folder / "ensemble.json").write_text(json.dumps(spec), encoding="utf-8")
    # A small suite: the shipped file's first case of each functionality, and one case whose text
    # is a training comment (left out and counted).
    cases = read_cases(CASES_FILE, UNSMILE_LABELS)
    firsts = list({c.functionality: c for c in reversed(cases)}.values())
    train_text = DEMO_TRAIN.read_text(encoding="utf-8").split("\n")[1].split("\t")[0]
    lines = [
        "\t".join(COLUMNS),
        *("\t".join([c.case_id, c.functionality, c.target, c.term, c.text, ",".join(c.gold), ",".join(c.checked)])
          for c in firsts),
        "\t".join(["seen", "neutral_mention", "남성", "남자", train_text, "clean", ",".join(HATE)]),
    ]  # fmt: skip
    suite = tmp_path / "suite.tsv"
    suite.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_functional_tests(folder, suite)
    assert result["excluded"] == ["seen"] and result["cases"] == len(firsts)
    assert list(result["systems"]) == ["ensemble", "tiny-bert", "tiny-roberta", "char-ngram"]
    # Each system's figures are its served decisions under the pass rule.
    ensemble = Ensemble.from_pretrained(str(folder), device="cpu")
    texts = [c.text for c in firsts]
    probs = ensemble.predict_proba(texts)
    expected = passes(probs >= ensemble.thresholds, firsts, ensemble.labels)
    assert result["systems"]["ensemble"]["overall"]["rate"] == pytest.approx(expected.mean())
    char_ngram = ensemble.members[2].predict_proba(texts).astype(np.float64)
    loaded = EnsembleSpec.load(folder)
    thresholds = member_thresholds(loaded, load_aligned(loaded.member_dirs(folder), "val"))[2]
    assert result["systems"]["char-ngram"]["overall"]["rate"] == pytest.approx(
        passes(char_ngram >= thresholds, firsts, ensemble.labels).mean()
    )
    saved = json.loads((folder / "report" / "functional_tests.json").read_text(encoding="utf-8"))
    assert saved["systems"] == result["systems"] and (folder / "report" / "functional_tests.png").is_file()
    run_functional_tests(folder, suite)  # again: one section, before the inputs
    report = (folder / "report" / "report.md").read_text(encoding="utf-8")
    assert report.count("## Functional tests") == 1 and report.index("## Functional tests") < report.index(
        "## Inputs"
    )
    assert "Left out: 1 case(s) whose text is in the train or validation split" in report
    # The model card's limitations part shows the summary, from the same figures.
    from hf_trainer.hub.publish import stage_bundle

    staged = stage_bundle(
        folder, tmp_path / "staged", {m["path"]: f"org/{m['name']}" for m in spec["members"]}, "org/x"
    )
    card = (staged / "README.md").read_text(encoding="utf-8")
    overall = result["systems"]["ensemble"]["overall"]["rate"]
    assert "## Limitations and bias: functional tests" in card and f"ensemble {100 * overall:.0f}%" in card
    recall = result["systems"]["ensemble"]["groups"]["여성/가족"]["recall_on_hateful"]
    assert "| 여성/가족 | " in card and f"{100 * recall['rate']:.0f}% (of {recall['n']}) |" in card


def test_the_card_summary_copes_with_a_group_without_mentions():
    from hf_trainer.evaluation.functional import functional_card_md, functional_md

    cases = mini_suite()[:3]  # hateful cases only: no mention of any group
    result = {"cases": 3, "systems": {"ensemble": score_system(SCORES[:3], THRESHOLDS, cases, LABELS)}}
    card = "\n".join(functional_card_md(result))
    assert "| 여성/가족 | - (of 0) | 50% (of 2) |" in card and "ensemble 67%" in card
    assert "## Functional tests" in "\n".join(functional_md(result))


def test_cases_seen_in_train_or_validation_are_left_out(monkeypatch):
    from hf_trainer.data import preparation
    from hf_trainer.evaluation.functional import Case, seen_in_training

    def case(case_id: str, text: str) -> Case:
        return Case(case_id, "neutral_mention", "지역", "-", text, ("clean",), ("clean",))

    splits = {
        "train": {"text": ["훈련에 있던 댓글"]},
        "validation": {"text": ["검증에 있던 댓글", "ㅋㅋㅋ 웃기다"]},
    }
    monkeypatch.setattr(preparation, "splits_rows", lambda member_dirs, names: {n: splits[n] for n in names})
    cases = [
        case("a", "훈련에 있던 댓글"),
        case("b", "검증에 있던 댓글"),
        case("c", "처음 보는 댓글"),
        case("d", "ㅋㅋㅋㅋㅋㅋ 웃기다"),
    ]  # fmt: skip  (d: the same comment in canonical form)
    assert seen_in_training(cases, []) == {"a", "b", "d"}


# Profanity and insults of the spell cases' words (as written), for the swap check below.
INSULTS = (
    "시발",
    "씨발",
    "병신",
    "븅신",
    "새끼",
    "존나",
    "미친",
    "미쳤",
    "지랄",
    "꺼져",
    "쓰레기",
    "닥쳐",
    "찐따",
)


def differing(a: str, b: str) -> tuple[str, str, int, int]:
    """The parts of a and b between their common prefix and common suffix, and the lengths of both."""
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    return a[i : len(a) - j], b[i : len(b) - j], i, j


def test_every_spell_case_is_decided_by_its_disguised_word_alone():
    from hf_trainer.data.canonical import latin
    from hf_trainer.data.perturb import LOOKALIKE_SYLLABLES
    from hf_trainer.evaluation.functional_suite.spell_items import SPELL_ITEMS

    slurs = {s for _, group_slurs in build_cases.GROUPS.values() for s in group_slurs} | {
        "맘충",
        "급식충",
        "한남",
    }
    nouns = {n for group_nouns, _ in build_cases.GROUPS.values() for n in group_nouns}
    cases = {c.text: c for c in read_cases()}
    assert {c.functionality for c in cases.values() if c.functionality.startswith("spell_")} == set(
        SPELL_ITEMS
    )
    for functionality, items in SPELL_ITEMS.items():
        assert len(items) >= 14, functionality
        for disguised, plain, neutral, label in items:
            case = cases[disguised]
            assert case.functionality == functionality and case.gold == (label,) and label in case.checked
            word, swap, before, after = differing(plain, neutral)
            # As written the word is an insult (악플/욕설) or a slur (its group) ...
            assert (
                any(i in word for i in INSULTS) if label == "악플/욕설" else any(s in word for s in slurs)
            ), plain
            # ... and with a neutral word in its place nothing is left to flag: the gold changes to clean.
            assert not any(w in neutral for w in (*INSULTS, *slurs, *nouns)), neutral
            # The disguise changes only the word, and the word is all of what the neutral swap replaces.
            assert disguised != plain and disguised[:before] == plain[:before]
            assert after == 0 or disguised[-after:] == plain[-after:]
            # ... and every word of what the swap replaces is disguised (no plain insult rides along).
            _, _, start, tail = differing(disguised, plain)
            end, offset = len(plain) - tail, before
            for token in word.split(" "):
                assert offset < end and offset + len(token) > start, (token, disguised)
                offset += len(token) + 1
            # Not a disguise of the project's own tables: the canonical form does not read it back,
            # and no look-alike syllable of perturb's table stands for the plain one.
            assert latin(disguised) != plain
            pairs = set(zip(disguised, plain, strict=False)) if len(disguised) == len(plain) else set()
            assert not any(LOOKALIKE_SYLLABLES.get(p) == d for d, p in pairs), disguised


def test_functional_tests_run_before_the_test_evaluation_keep_their_results(mixed, tmp_path):
    from tests.helpers import load_recipe

    root, _ = mixed
    folder = tmp_path / "ensemble"
    shutil.copytree(
        root / "ensemble", folder, ignore=shutil.ignore_patterns("report", "test_evaluations.json")
    )
    spec = json.loads((folder / "ensemble.json").read_text(encoding="utf-8"))
    for member in spec["members"]:
        member["path"] = str((root / "ensemble" / member["path"]).resolve())
    (folder / "ensemble.json").write_text(json.dumps(spec), encoding="utf-8")
    cases = read_cases(CASES_FILE, UNSMILE_LABELS)[:40]
    suite = tmp_path / "suite.tsv"
    rows = ["\t".join([c.case_id, c.functionality, c.target, c.term, c.text, ",".join(c.gold), ",".join(c.checked)])
            for c in cases]  # fmt: skip
    suite.write_text("\n".join(["\t".join(COLUMNS), *rows]) + "\n", encoding="utf-8")
    functional = run_functional_tests(folder, suite, backend="torch")
    assert (folder / "report" / "functional_tests.md").is_file()
    load_recipe("evaluate_test").main(["--ensemble_dir", str(folder), "--explain_errors", "false"])
    assert not list(folder.glob("report.old-*"))  # nothing moved aside: there was no evaluation to keep
    saved = json.loads((folder / "report" / "functional_tests.json").read_text(encoding="utf-8"))
    report = (folder / "report" / "report.md").read_text(encoding="utf-8")
    assert saved["systems"] == functional["systems"] and report.count("## Functional tests") == 1
    assert "scored with the torch backend" in report
    # Results scored on other inputs (say, thresholds rerun since) never go into a later evaluation's report.
    other = tmp_path / "other" / "ensemble"
    shutil.copytree(folder, other, ignore=shutil.ignore_patterns("report"))
    run_functional_tests(other, suite, backend="torch")
    saved = json.loads((other / "report" / "functional_tests.json").read_text(encoding="utf-8"))
    (other / "report" / "functional_tests.json").write_text(json.dumps(saved | {"inputs_digest": "other"}))
    load_recipe("evaluate_test").main(["--ensemble_dir", str(other), "--explain_errors", "false"])
    report = (other / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Functional tests" not in report and not (other / "report" / "functional_tests.json").exists()
    assert list((other / "report").glob("functional_tests.json.old-*"))  # moved aside, not deleted
