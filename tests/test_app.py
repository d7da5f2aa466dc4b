"""The Gradio app (hf_trainer/serving/app.py, recipes/app.py), driven through its API with gradio_client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

pytest.importorskip("gradio", reason='the app tests need pip install -e ".[app]"')
from gradio_client import Client, handle_file  # noqa: E402

from hf_trainer.serving.app import EXAMPLES, MAX_CHARS, highlights  # noqa: E402
from tests.helpers import DEMO_TRAIN, REPO_ROOT, load_recipe  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A char n-gram member trained on the demo sample, served by the app on a free local port."""
    from hf_trainer import Ensemble
    from hf_trainer.data.labels import UNSMILE_LABELS
    from hf_trainer.members.char_ngram import CharNgramSettings, fit_char_ngram
    from hf_trainer.serving.app import build_app, launch

    lines = DEMO_TRAIN.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:801] if line]
    texts = [r[0] for r in rows]
    labels = np.array([[float(r[header.index(n)]) for n in UNSMILE_LABELS] for r in rows], dtype=np.float32)
    member, _ = fit_char_ngram(texts, labels, list(UNSMILE_LABELS), CharNgramSettings(), c_grid=(4.0,))
    folder = tmp_path_factory.mktemp("app") / "char-ngram"
    folder.mkdir()
    member.save(folder)
    ensemble = Ensemble.from_pretrained(str(folder))
    port = free_port()
    app = build_app(ensemble, None)
    launch(app, "127.0.0.1", port, block=False)
    url = f"http://127.0.0.1:{port}/"
    yield ensemble, folder, Client(url, verbose=False), url
    app.close()


def scores_of(label_output: dict) -> dict:
    return {c["label"]: c["confidence"] for c in label_output["confidences"]}


def test_one_comment_gets_the_ensembles_scores_labels_and_spans(served):
    ensemble, _, client, _ = served
    highlighted_any = decided_any = False
    for text in [*EXAMPLES, "ㅋㅋㅋ 😂👍🏽 진짜"]:
        label, decided, spans, message = client.predict(text, api_name="/classify")
        (expected,) = ensemble.predict([text])
        assert scores_of(label) == pytest.approx(expected["scores"], abs=1e-6) and message == ""
        for name, threshold in zip(
            ensemble.labels, ensemble.thresholds, strict=True
        ):  # each with its threshold
            row = f"| **{name}** | {expected['scores'][name]:.3f} | {threshold:.3f} |"
            assert (row in decided) == (name in expected["labels"]), (text, decided)
        decided_any |= bool(expected["labels"])
        (explained,) = ensemble.explain([text])
        shown = [(s["token"], s["class_or_confidence"]) for s in spans if s["class_or_confidence"]]
        assert shown == [(text[e["start"] : e["end"]], e["entity"]) for e in highlights(explained)]
        highlighted_any |= bool(shown)
        assert "".join(s["token"] for s in spans) == text
    assert decided_any and highlighted_any  # the comparisons above were not all of empty lists


def test_highlights_show_each_span_once_in_text_order():
    explained = {
        "a": {"spans": [{"start": 5, "end": 7, "weight": 0.2}, {"start": 0, "end": 2, "weight": 0.5}]},
        "b": {"spans": [{"start": 5, "end": 7, "weight": 0.4}, {"start": 9, "end": 10, "weight": 0.1}]},
    }
    assert highlights(explained) == [
        {"entity": "a", "start": 0, "end": 2}, {"entity": "b", "start": 5, "end": 7}, {"entity": "b", "start": 9, "end": 10},
    ]  # fmt: skip


def test_bad_comments_get_a_message_and_the_server_stays_up(served):
    ensemble, _, client, _ = served
    label, decided, _, message = client.predict("   ", api_name="/classify")
    assert message == "Enter a comment to classify." and decided == ""
    long = "정말 진짜" * 20_000  # 100,000 characters
    label, _, spans, message = client.predict(long, api_name="/classify")
    assert f"only the first {MAX_CHARS:,} were classified" in message and "100,000 characters" in message
    assert scores_of(label) == pytest.approx(ensemble.predict([long[:MAX_CHARS]])[0]["scores"], abs=1e-6)
    assert client.predict(EXAMPLES[0], api_name="/classify")[3] == ""  # still serving


def test_a_file_gets_the_jsonl_predict_py_writes(served, tmp_path):
    ensemble, folder, client, _ = served
    comments = tmp_path / "comments.txt"
    comments.write_text("\n".join([*EXAMPLES, "", "탭\t있는 줄"]) + "\n", encoding="utf-8")
    path, message = client.predict(handle_file(str(comments)), "", api_name="/classify_file")
    expected = tmp_path / "expected.jsonl"
    load_recipe("predict").main(
        ["--ensemble", str(folder), "--input", str(comments), "--output", str(expected)]
    )
    with open(path, encoding="utf-8") as got:
        assert got.read() == expected.read_text(encoding="utf-8")
    assert message == f"{len(EXAMPLES) + 2} comments classified."
    table = tmp_path / "data.tsv"
    table.write_text("id\t문장\n1\t" + EXAMPLES[0] + "\n2\t" + EXAMPLES[1] + "\n", encoding="utf-8")
    path, _ = client.predict(handle_file(str(table)), "문장", api_name="/classify_file")
    load_recipe("predict").main(
        ["--ensemble", str(folder), "--input", str(table), "--tsv_column", "문장", "--output", str(expected)]
    )
    with open(path, encoding="utf-8") as got:
        assert got.read() == expected.read_text(encoding="utf-8")


def test_file_results_older_than_an_hour_are_removed(tmp_path, monkeypatch):
    import os
    import time

    from hf_trainer.serving import app

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(app, "_results", None)
    earlier = tmp_path / f"{app.RESULTS_PREFIX}earlier"  # an earlier app of this user
    (earlier / "x").mkdir(parents=True)
    root = app.results_dir()
    assert root.parent == tmp_path and root.name.startswith(app.RESULTS_PREFIX) and root != earlier
    assert root.stat().st_mode & 0o777 == 0o700  # this process's own: no other user reads or writes it
    old, new, writing = root / "old", root / "new", root / "writing"
    for folder in (old, new, writing):
        folder.mkdir()
        (folder / "comments.jsonl").write_text("{}\n", encoding="utf-8")
    hours_ago = time.time() - 7200
    for path in (old, old / "comments.jsonl", new, writing, earlier, earlier / "x"):
        os.utime(path, (hours_ago, hours_ago))  # `writing`: its file got a line just now
    assert app.results_dir() == root and not old.exists() and new.exists() and writing.exists()
    assert not earlier.exists()


def test_bad_files_get_a_message_and_the_server_stays_up(served, tmp_path):
    _, _, client, _ = served
    table = tmp_path / "data.tsv"
    table.write_text("id\ttext\n1\t안녕\n", encoding="utf-8")
    path, message = client.predict(handle_file(str(table)), "문장", api_name="/classify_file")
    assert path is None and "no column '문장'" in message and "data.tsv, line 1" in message
    path, message = client.predict(handle_file(str(table)), "", api_name="/classify_file")
    assert path is None and "give the name of the column" in message
    binary = tmp_path / "model.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    path, message = client.predict(handle_file(str(binary)), "", api_name="/classify_file")
    assert path is None and "looks binary" in message
    for name, content, expected in (
        ("empty.txt", b"  \n", "is empty"),
        ("excel.txt", "안녕".encode("utf-16"), "is UTF-16 text"),
    ):
        (tmp_path / name).write_bytes(content)
        path, message = client.predict(handle_file(str(tmp_path / name)), "", api_name="/classify_file")
        assert path is None and expected in message and f"`{name}`" in message
    cp949 = tmp_path / "old.txt"
    cp949.write_bytes("안녕하세요".encode("cp949"))
    path, message = client.predict(handle_file(str(cp949)), "", api_name="/classify_file")
    assert path is None and "is not UTF-8 text" in message
    assert client.predict(EXAMPLES[1], api_name="/classify")[3] == ""  # still serving


def test_a_utf8_bom_is_not_part_of_the_first_comment_or_header(served, tmp_path):
    _, folder, client, _ = served
    plain, bom = tmp_path / "plain.tsv", tmp_path / "bom.tsv"
    plain.write_text("문장\t번호\n" + EXAMPLES[0] + "\t1\n", encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    with_bom, _ = client.predict(handle_file(str(bom)), "문장", api_name="/classify_file")
    without, _ = client.predict(handle_file(str(plain)), "문장", api_name="/classify_file")
    with open(with_bom, encoding="utf-8") as a, open(without, encoding="utf-8") as b:
        assert a.read() == b.read()


def test_an_error_while_scoring_is_a_message_and_the_server_stays_up(served, monkeypatch):
    ensemble, _, client, _ = served

    def broken(*args, **kwargs):
        raise RuntimeError("a member failed")

    monkeypatch.setattr(ensemble, "explain", broken)
    *_, message = client.predict(EXAMPLES[0], api_name="/classify")
    assert message.startswith("Classification failed (RuntimeError)")
    monkeypatch.undo()
    assert client.predict(EXAMPLES[0], api_name="/classify")[3] == ""


def test_the_model_panel_shows_members_weights_and_the_reports_figures(served):
    from hf_trainer.serving.app import model_panel

    ensemble = served[0]
    metrics = {"systems": {"ensemble tuned": {"f1_macro": 0.7374}}, "test_evaluation": 2,
               "bootstrap_ci": {"systems": {"ensemble tuned": {"f1_macro": [0.7243, 0.7484]}}}}  # fmt: skip
    panel = model_panel(ensemble, metrics)
    assert "| char-ngram | 1.00 |" in panel and "**0.7374** (95% interval 0.7243-0.7484)" in panel
    assert "scored 2 time(s)" in panel and "CC BY-NC-ND 4.0" in panel
    assert "not known here" in model_panel(ensemble, None) and "not known here" in model_panel(ensemble, {})


def test_the_app_is_private_and_loads_nothing_from_elsewhere(served):
    _, _, _, url = served
    config = json.loads(urllib.request.urlopen(url + "config").read())
    assert config["analytics_enabled"] is False
    page = urllib.request.urlopen(url).read().decode("utf-8")
    theme = urllib.request.urlopen(url + "theme.css").read().decode("utf-8")
    for text in (page, theme):
        assert "fonts.googleapis" not in text and "cdn.jsdelivr" not in text
    assert 'src="http' not in page and 'href="http' not in page  # scripts and styles are local


def test_a_missing_ensemble_folder_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "recipes" / "app.py"), "--ensemble_dir", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(tmp_path / "nope") in result.stderr and len(result.stderr.strip().splitlines()) == 1
