"""Every recipe turns a user mistake into one line and exit code 2 (`--debug`: the traceback too);
predict.py keeps output line N on input line N and streams long files in flat memory."""

from __future__ import annotations

import json
import shutil
import tracemalloc

import pytest

from hf_trainer.serving.inference import Ensemble
from hf_trainer.utils.errors import InvalidInput, run_recipe
from tests.helpers import DEMO_TEST, DEMO_TRAIN, load_recipe


def run(recipe: str, argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = run_recipe(load_recipe(recipe).main, argv)
    except SystemExit as exit_:  # argparse's own check of a flag's type: its usage line, then the error
        code = exit_.code
        lines = capsys.readouterr().err.splitlines()
        assert lines[0].startswith("usage:"), lines
        return code, "\n".join(line for line in lines if ": error: " in line)
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error: " in lines[0], err
    for text in expected:
        assert text in lines[0], (text, lines[0])


@pytest.fixture
def ensemble_copy(pipeline_dir, tmp_path):
    """A copy of the trained ensemble and its members, free to break."""
    for name in ("ensemble", "tiny-electra", "tiny-bert", "tiny-roberta"):
        shutil.copytree(pipeline_dir / name, tmp_path / name)
    (tmp_path / "test_evaluations.json").write_text('{"count": 0, "history": []}')
    return tmp_path / "ensemble"


# recipe -> (arguments naming a missing file, words of the message), (a bad flag value, words)
CASES = {
    "train": (
        (["--model", "tiny-bert", "--train_file", "nope.tsv"], ["nope.tsv", "not found"]),
        (["--model", "tiny-bert", "--precision", "fp8"], ["--precision", "fp8"]),
    ),
    "prepare_data": (
        (["--data_dir", "no_such_dir"], ["no_such_dir", "not found"]),
        (["--train_file", str(DEMO_TRAIN), "--prepared_data_dir", "x"], ["--prepared_data_dir"]),
    ),
    "ensemble": (
        (["--members", "no_member"], ["no_member", "train this member first"]),
        (["--members", "a", "--objective", "accuracy"], ["--objective", "accuracy"]),
    ),
    "thresholds": (
        (["--ensemble_dir", "no_ensemble"], ["ensemble.json not found"]),
        (["--ensemble_dir", "x", "--unknown_flag", "1"], ["--unknown_flag"]),
    ),
    "robustness": (
        (["--ensemble_dir", "no_ensemble"], ["ensemble.json not found"]),
        (["--ensemble_dir", "x", "--rate", "2"], ["--rate"]),
    ),
    "evaluate_test": (
        (["--ensemble_dir", "no_ensemble"], ["ensemble.json not found"]),
        (["--ensemble_dir", "x", "--force", "maybe"], ["--force", "maybe"]),
    ),
    "predict": (
        (["--ensemble", "no_ensemble", "--input", str(DEMO_TEST)], ["no_ensemble", "Check the path"]),
        (["--ensemble", "x", "--batch_size", "0"], ["--batch_size"]),
    ),
    "publish": (
        (
            ["--output_dir", "no_outputs", "--hub_org", "me", "--members", "a", "--member_repos", "me/a"],
            ["ensemble.json not found"],
        ),
        (["--hub_org", "me", "--members", "a", "--member_repos", "me/a", "me/b"], ["1 --members for 2"]),
    ),
    "export": (
        (["--ensemble_dir", "no_ensemble"], ["ensemble.json not found"]),
        (["--ensemble_dir", "x", "--quantize", "fp4"], ["--quantize", "fp4"]),
    ),
    "benchmark": (
        (["--data_dir", "no_such_dir"], ["no_such_dir", "not found"]),
        (["--steps", "0"], ["--steps"]),
    ),
    "make_demo_data": (None, (["--train_rows", "0"], ["--train_rows"])),  # it reads no file
}


@pytest.mark.parametrize("recipe", CASES)
def test_each_recipe_reports_a_user_mistake_in_one_line_with_exit_code_2(
    recipe, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    for case in CASES[recipe]:
        if case is not None:
            argv, words = case
            assert_one_line(*run(recipe, argv, capsys), *words)


def test_debug_shows_the_traceback_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = run("ensemble", ["--members", "no_member", "--debug"], capsys)
    out = capsys.readouterr().out
    assert code == 2 and "error: " in err and "Traceback" in out + err


def test_evaluate_test_and_thresholds_name_a_broken_ensemble_json(ensemble_copy, capsys):
    spec = ensemble_copy / "ensemble.json"
    spec.write_text(spec.read_text()[:200])  # truncated, as by a full disk or a bad copy
    for recipe in ("thresholds", "evaluate_test"):
        assert_one_line(
            *run(recipe, ["--ensemble_dir", str(ensemble_copy)], capsys), str(spec), "line ", "column"
        )


def test_predict_names_each_mistake_in_one_line(ensemble_copy, tmp_path, capsys):
    text = tmp_path / "in.txt"
    text.write_text("안녕하세요\n", encoding="utf-8")
    base = ["--ensemble", str(ensemble_copy), "--input", str(text)]
    assert_one_line(*run("predict", [*base[:2], "--input", str(tmp_path / "nope.txt")], capsys), "nope.txt")
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    assert_one_line(*run("predict", [*base, "--output", str(blocked / "out.jsonl")], capsys), "not writable")
    tsv = tmp_path / "in.tsv"
    tsv.write_text("id\ttext\n1\t안녕\n", encoding="utf-8")
    code, err = run("predict", [*base[:2], "--input", str(tsv), "--tsv_column", "문장"], capsys)
    assert_one_line(code, err, "line 1", "no column '문장'")
    korean_excel = tmp_path / "cp949.txt"  # what Korean Windows tools save: read as UTF-8 it is noise
    korean_excel.write_bytes("안녕\n반가워 친구\n".encode()[:7] + "반가워".encode("cp949") + b" x\n")
    code, err = run("predict", [*base[:2], "--input", str(korean_excel)], capsys)
    assert_one_line(code, err, "cp949.txt, line 2, byte 1: not UTF-8", "iconv -f cp949")
    cut = tmp_path / "cut.txt"
    cut.write_bytes("안녕".encode()[:-1])
    assert_one_line(*run("predict", [*base[:2], "--input", str(cut)], capsys), "cut.txt: ends inside a UTF-8")
    shutil.move(ensemble_copy.parent / "tiny-bert", tmp_path / "moved")  # a member folder moved away
    assert_one_line(*run("predict", base, capsys), "tiny-bert", "does not exist")
    spec = ensemble_copy / "ensemble.json"
    spec.write_text(spec.read_text()[:-30])
    assert_one_line(*run("predict", base, capsys), "ensemble.json", "not valid JSON")


def test_predict_output_line_n_is_input_line_n_whatever_the_bytes(pipeline_dir, tmp_path, capsys):
    lines = ["첫 줄\r중간에 CR", "", "탭\t포함", "끝에 CRLF", "마지막"]
    source = tmp_path / "in.txt"
    source.write_bytes(("\n".join(lines[:3]) + "\n" + lines[3] + "\r\n" + lines[4]).encode("utf-8"))
    out = tmp_path / "out.jsonl"
    code = run_recipe(load_recipe("predict").main, ["--ensemble", str(pipeline_dir / "ensemble"),
                                                     "--input", str(source), "--output", str(out)])  # fmt: skip
    assert code == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["text"] for r in records] == lines  # the inner \r stays; the CRLF end is not text


class _NoModelEnsemble(Ensemble):
    """Ensemble.predict_stream and predict.py's streaming, without the cost of a model."""

    def __init__(self):
        self.labels = ["a"]

    def predict(self, texts, batch_size: int = 64) -> list[dict]:
        return [{"scores": {"a": 0.5}, "labels": []} for _ in texts]


def test_predict_streams_a_large_file_in_flat_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(Ensemble, "from_pretrained", classmethod(lambda cls, *a, **k: _NoModelEnsemble()))
    predict = load_recipe("predict").main

    def peak_bytes(rows: int) -> int:
        source = tmp_path / f"in_{rows}.txt"
        source.write_text("".join(f"댓글 번호 {i} 입니다 ㅋㅋ\n" for i in range(rows)), encoding="utf-8")
        tracemalloc.start()
        written = predict(["--ensemble", "x", "--input", str(source), "--output", str(tmp_path / "out.jsonl"),
                           "--chunk_size", "1000", "--no_text"])  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert written == rows
        return peak

    small, large = peak_bytes(10_000), peak_bytes(200_000)
    # 20 times the lines: a reader holding them all would need ~20 times the memory (over 20 MB here).
    assert large < 2 * small + 1_000_000, (small, large)


def test_two_members_with_one_folder_name_are_refused(pipeline_dir, tmp_path, capsys):
    from hf_trainer.selection.ensemble import EnsembleSpec
    from hf_trainer.utils.errors import InvalidInput

    for parent in ("a", "b"):
        shutil.copytree(
            pipeline_dir / "tiny-bert" / "predictions", tmp_path / parent / "tiny-bert" / "predictions"
        )
    members = [str(tmp_path / parent / "tiny-bert") for parent in ("a", "b")]
    code, err = run("ensemble", ["--members", *members, "--output_dir", str(tmp_path / "ens")], capsys)
    assert_one_line(code, err, "share the folder name 'tiny-bert'")
    assert not (tmp_path / "ens" / "ensemble.json").exists()
    spec = json.loads((pipeline_dir / "ensemble" / "ensemble.json").read_text(encoding="utf-8"))
    spec["members"][1]["name"] = spec["members"][0]["name"]
    with pytest.raises(InvalidInput, match="every member needs a 'name' of its own"):
        EnsembleSpec.from_dict(spec)


def test_a_non_utf8_byte_is_named_by_line_and_byte_whatever_the_reading_chunks(tmp_path):
    from hf_trainer.utils.io import check_utf8

    path = tmp_path / "in.txt"
    path.write_bytes("가나\n다라\n".encode() + "마".encode()[:2] + b"!\n")  # a character cut on line 3
    for chunk_bytes in range(1, 12):  # chunk ends inside characters, before and after the bad byte
        with pytest.raises(InvalidInput, match=r"in.txt, line 3, byte 1: not UTF-8"):
            check_utf8(path, "in.txt", chunk_bytes)
    path.write_bytes("가나\n다라\n".encode())
    check_utf8(path, "in.txt", 4)  # UTF-8 throughout: no error
