"""A Gradio app to try a trained ensemble in a browser (`recipes/app.py`, and the Space bundle's app.py).

Offline and private by default: Gradio's analytics are off (`GRADIO_ANALYTICS_ENABLED=False` set
before Gradio is imported, and `analytics_enabled=False`), no share link, no server-side rendering
(no Node process), no MCP server, the theme's first font is served by the app itself (Gradio's
default theme fetches Google Fonts), and the server binds to 127.0.0.1 unless told otherwise. Bad
input gets a message in the app, never a stack trace; the server stays up. Korean by default.

Endpoints (also for `gradio_client`): `/classify` (one comment -> the verdict line, every label's
score and threshold, highlighted spans, what the model read, a message, the scores) and
`/classify_file` (a .txt with one comment per line, or a .tsv with a named column, UTF-8 or CP949 ->
the JSONL file `predict.py` would write, the same as a CSV, the first flagged rows, a message).
What the page shows is made in `app_views.py`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np

from ..data.canonical import canonical
from ..utils import io
from ..utils.errors import UserError
from .app_views import CLEAN, WORDS, colour_map, data_note, highlights, label_table, panel, read_as, verdict
from .inference import Ensemble, predict_records

logger = logging.getLogger(__name__)

MAX_CHARS = 2_000  # a longer comment is cut (and the app says so): explaining costs up to 400 rescorings
MAX_FILE_LINES = 100_000
MAX_FILE_SIZE = "50mb"  # uploads over this are refused by Gradio before they reach the app
PREVIEW_ROWS = 20
REPORT_METRICS = "report/test_metrics.json"
EXAMPLES = [  # written for this project (UnSmile's licence forbids derivatives of its rows)
    "여자들은 다 쓰레기야 진짜",
    "오늘 날씨 정말 좋다 산책 가야지",
    "전라도 사람을 만났는데 정말 친절했다",
    "ㅅㅣ발 진짜 짜증나네",
    "너 같은 놈이랑은 말도 섞기 싫다",
]
# A Korean font served by the app itself (NanumGothic, SIL Open Font License, shipped by
# koreanize-matplotlib, a dependency): Hangul renders on a machine without Korean fonts, and no CDN.
FONT_FAMILY = "NanumGothicApp"  # one CSS identifier: no spaces or brackets


def test_metrics(source: str) -> dict | None:
    """report/test_metrics.json of an ensemble folder or Hub repository, or None."""
    if Path(source).is_dir():
        path = Path(source) / REPORT_METRICS
        return io.read_json(path) if path.is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return io.read_json(hf_hub_download(source, REPORT_METRICS))
    except Exception as err:  # noqa: BLE001 - the panel then says the figures are not known
        logger.info("No test report for %s (%s)", source, type(err).__name__)
        return None


def base_model(base: dict | None) -> str:
    """Where a member's weights came from, as the test report recorded it: a package (e5-small), a
    Hub id or folder; nothing for a model built from scratch."""
    from ..training.packaged_encoder import packaged_description

    if not base:
        return ""
    return packaged_description(base["package"]) if base.get("package") else str(base.get("source") or "")


def model_panel(ensemble: Ensemble, metrics: dict | None, words: dict = WORDS["en"]) -> str:
    """Markdown: where the data came from, the backend served, the members, their weights and base
    models (weight 0: not used, or the mention gate), every label's threshold and test F1, the test
    macro F1 with its interval, how many times the test split was scored, the data licence."""
    metrics = metrics or {}
    lines = [data_note(metrics, words), "", words["served"].format(backend=ensemble.backend), ""]
    lines += [words["members"], "|---|---:|---|"]
    gate, bases = ensemble.spec.gate or {}, metrics.get("base_models") or {}
    for m, w in zip(ensemble.spec.members, ensemble.weights, strict=True):
        if m["name"] == gate.get("member"):
            note = words["gate"].format(strength=gate["strength"])
        elif w > 0:
            note = base_model(bases.get(m["name"]))
        else:
            note = words["unused"]
        lines.append(f"| {m['name']} | {w:.2f} | {note} |")
    tuned = (metrics.get("systems") or {}).get("ensemble tuned", {})
    per_label = tuned.get("per_label") or {}
    lines += ["", words["per_label"], "|---|---:|---:|"]
    for name, threshold in zip(ensemble.labels, ensemble.thresholds, strict=True):
        f1 = (per_label.get(name) or {}).get("f1")
        lines.append(f"| {name} | {threshold:.2f} | {'-' if f1 is None else f'{f1:.2f}'} |")
    f1 = tuned.get("f1_macro")
    if f1 is None:
        lines += ["", words["no_report"]]
    else:
        ci = metrics.get("bootstrap_ci", {}).get("systems", {}).get("ensemble tuned", {}).get("f1_macro")
        interval = words["interval"].format(low=ci[0], high=ci[1]) if ci else ""
        count = metrics.get("test_evaluation")
        scored = words["scored"].format(count=count) if count else words["scored_unknown"]
        lines += ["", words["test_f1"].format(f1=f1, interval=interval, scored=scored)]
    return "\n".join([*lines, "", words["licence"]])


def classify(ensemble: Ensemble, text: str | None, top_k: int = 3, words: dict = WORDS["en"]) -> tuple:
    """One comment -> (verdict line, every label's score and threshold as Markdown, spans for
    gr.HighlightedText, what the model read when it differs from the comment, a message, the scores)."""
    text = "" if text is None else str(text)
    if not text.strip():
        return "", "", {"text": "", "entities": []}, "", words["enter"], {}
    message = ""
    if len(text) > MAX_CHARS:
        message = words["cut"].format(n=len(text), max=MAX_CHARS)
        text = text[:MAX_CHARS]
    # Every label's score and decision come with the explanation: the comment is scored once.
    (explained,) = ensemble.explain([text], labels=ensemble.labels, top_k=top_k)
    scores = {name: entry["score"] for name, entry in explained.items()}
    shown = panel(text, highlights(explained))
    read = read_as(text, canonical(text, reading_member(ensemble).canonical_form), words)
    return verdict(explained, words), label_table(explained, words), shown, read, message, scores


def reading_member(ensemble: Ensemble):
    """The member whose canonical form the app shows: the one of the largest weight."""
    return ensemble.members[int(np.argmax(ensemble.weights))]


def _shown_name(path: str) -> str:
    """A file name as a message shows it: as code, so it renders no Markdown."""
    return f"`{Path(path).name.replace('`', '')}`"


def _decode_upload(path: str, raw: bytes, words: dict) -> tuple[bytes | None, str | None, str]:
    """(the file as UTF-8 bytes or None, a refusal or None, the encoding read) of an uploaded file:
    UTF-8, else CP949 (EUC-KR and its Windows superset, what Korean Excel saves), read as such and said."""
    name = _shown_name(path)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, words["utf16"].format(name=name), ""
    if b"\x00" in raw[:8192]:
        return None, words["binary"].format(name=name), ""
    if not raw.strip():
        return None, words["empty"].format(name=name), ""
    try:
        raw.decode("utf-8")
        return raw, None, "UTF-8"
    except UnicodeDecodeError as err:
        utf8_error = err
    try:
        return raw.decode("cp949").encode("utf-8"), None, "CP949 (EUC-KR)"
    except UnicodeDecodeError:
        return None, words["encoding"].format(name=name, byte=utf8_error.start), ""


def classify_file(
    ensemble: Ensemble, path: str | None, column: str | None, progress=None, words: dict = WORDS["en"]
) -> tuple:
    """An uploaded .txt (one comment per line) or .tsv (with `column`), UTF-8 or CP949 -> (the JSONL
    file predict.py would write, the same as a CSV with a UTF-8 BOM, the first flagged rows, a message)."""
    if not path:
        return None, None, [], words["no_file"]
    name = _shown_name(path)
    utf8, refusal, encoding = _decode_upload(path, Path(path).read_bytes(), words)
    if refusal:
        return None, None, [], refusal
    tsv = Path(path).suffix.lower() == ".tsv"
    if tsv and not (column or "").strip():
        return None, None, [], words["no_column"].format(name=name)
    handle = BytesIO(utf8)  # read once: a CP949 file is decoded in memory, never copied to disk
    try:
        texts = list(
            io.read_tsv_column(handle, column.strip(), Path(path).name) if tsv else io.read_lines(handle)
        )
    except UserError as err:
        return None, None, [], str(err)
    if not texts:
        return None, None, [], words["header_only"].format(name=name)
    if len(texts) > MAX_FILE_LINES:
        return None, None, [], words["too_many"].format(name=name, n=len(texts), max=MAX_FILE_LINES)
    # As in the comment tab, a comment is cut at MAX_CHARS: one huge line would otherwise hold the
    # server's memory (a char n-gram member builds every n-gram of it).
    long_lines = sum(len(t) > MAX_CHARS for t in texts)
    texts = [t[:MAX_CHARS] for t in texts]
    out = Path(tempfile.mkdtemp(dir=results_dir())) / (Path(path).stem + ".jsonl")
    records = predict_records(ensemble, texts, chunk_size=256)
    flagged = write_results(out, progress.tqdm(records, total=len(texts), desc="Classifying") if progress else records,
                            ensemble.labels)  # fmt: skip
    read = "" if encoding == "UTF-8" else words["read_encoding"].format(encoding=encoding)
    if long_lines:
        read += words["cut_lines"].format(n=long_lines, max=MAX_CHARS)
    return (
        str(out),
        str(out.with_suffix(".csv")),
        flagged[:PREVIEW_ROWS],
        words["classified"].format(n=len(texts), s="s" if len(texts) != 1 else "") + read,
    )


def spreadsheet_safe(text: str) -> str:
    """A comment as a CSV cell Excel shows as text: one that starts like a formula (=, +, -, @, a tab or
    a carriage return) gets a leading apostrophe, which Excel hides (the JSONL keeps the comment as is)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_results(out: Path, records, labels: list[str]) -> list[list]:
    """The JSONL `out` and a CSV beside it (UTF-8 with a BOM, so Excel opens it in Korean: line,
    text, decided labels, every label's score); returns the flagged rows (line, text, labels)."""
    import csv

    flagged = []
    with (
        out.open("w", encoding="utf-8") as jsonl,
        out.with_suffix(".csv").open("w", encoding="utf-8-sig", newline="") as table,
    ):
        writer = csv.writer(table)
        writer.writerow(["line", "text", "labels", *labels])
        for record in records:
            jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
            decided = ", ".join(record["labels"])
            writer.writerow(
                [
                    record["line"],
                    spreadsheet_safe(record["text"]),
                    decided,
                    *(f"{record['scores'][n]:.4f}" for n in labels),
                ]
            )
            if any(name != CLEAN for name in record["labels"]):
                flagged.append([record["line"], record["text"], decided])
    return flagged


RESULTS_PREFIX = "unsmile_app_results-"
_results: Path | None = None  # this process's own folder (mkdtemp: mode 0700), made on first use


def results_dir(keep_seconds: float = 3600) -> Path:
    """Where file results are written (Gradio serves them from its own cache): a folder of this
    process's own, so another user or another app on the machine never shares it. Results untouched
    for `keep_seconds` are removed first (when the app starts and before each file), so a long-running
    app does not fill the disk, and so are such folders that earlier apps of this user left behind. A
    result still being written is touched with every line, so it stays."""
    import shutil

    global _results
    if _results is None or not _results.is_dir():
        _results = Path(tempfile.mkdtemp(prefix=RESULTS_PREFIX))
    for old in [*_results.iterdir(), *_left_behind(_results)]:
        if _untouched_for(old) > keep_seconds:
            shutil.rmtree(old, ignore_errors=True)
    return _results


def _left_behind(own: Path) -> list[Path]:
    """Other results folders of this user (apps started before this one, or beside it), never another
    user's; a link is never followed."""
    found = []
    for path in own.parent.glob(RESULTS_PREFIX + "*"):
        try:
            if path != own and not path.is_symlink() and path.is_dir() and path.stat().st_uid == os.getuid():
                found.append(path)
        except OSError:  # removed meanwhile by another app's clean-up
            continue
    return found


def _untouched_for(folder: Path) -> float:
    """Seconds since anything in `folder` changed (0 when it cannot be read: kept)."""
    import time

    try:
        paths = [folder, *folder.rglob("*")] if folder.is_dir() else [folder]
        return time.time() - max(path.stat().st_mtime for path in paths)
    except OSError:
        return 0.0


def build_app(ensemble: Ensemble, metrics: dict | None = None, lang: str = "ko"):
    """The Gradio Blocks app for `ensemble` (`metrics`: its report's test_metrics.json for the model
    panel, as `test_metrics` finds it), in Korean (`lang="ko"`) or English ("en")."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    words = WORDS[lang]
    # Uploads and results leave Gradio's cache after an hour.
    with gr.Blocks(title=words["title"], analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# {words['title']}\n" + words["intro"].format(labels=", ".join(ensemble.labels)))
        with gr.Tab(words["comment_tab"]):
            _comment_tab(gr, ensemble, words)
        with gr.Tab(words["file_tab"]):
            _file_tab(gr, ensemble, words)
        with gr.Tab(words["model_tab"]):
            gr.Markdown(model_panel(ensemble, metrics, words))
    return app


def _comment_tab(gr, ensemble: Ensemble, words: dict) -> None:
    blank = ("", "", {"text": "", "entities": []}, "", "", {})

    def on_text(text: str | None):
        try:  # the comment comes back too: it is what the shown result is of
            return (*classify(ensemble, text, words=words), text)
        except Exception as err:  # noqa: BLE001 - a message in the app, never a stack trace
            logger.exception("Classifying a comment failed")
            return (*blank[:4], words["failed"].format(error=type(err).__name__), {}, text)

    def on_edit(text: str | None, shown_of: str | None):
        # The shown result is stale once the comment differs from the one it is of. Gradio also fires
        # `input` on Shift+Enter, with the text unchanged: then nothing is cleared.
        return (*blank, None) if text != shown_of else tuple(gr.skip() for _ in range(len(blank) + 1))

    text = gr.Textbox(label=words["comment"], placeholder=words["placeholder"], lines=3)
    button = gr.Button(words["classify"], variant="primary")
    message = gr.Markdown()
    verdict_line = gr.Markdown(elem_id="verdict")
    read = gr.Markdown(elem_id="read-as")
    with gr.Row():
        table = gr.Markdown(elem_id="labels")
        spans = gr.HighlightedText(label=words["why"], combine_adjacent=False, show_legend=False,
                                   color_map=colour_map(ensemble.labels), elem_id="spans")  # fmt: skip
    scores = gr.JSON(visible=False)  # every label's score, for API clients
    shown_of = gr.State(None)  # the comment the shown result is of
    outputs = [verdict_line, table, spans, read, message, scores, shown_of]
    # One queue for the comment's events, one at a time in the order they came.
    serial = {"concurrency_id": "comment", "concurrency_limit": 1}
    button.click(on_text, inputs=text, outputs=outputs, api_name="classify", **serial)
    text.submit(on_text, inputs=text, outputs=outputs, api_name=False, **serial)
    text.input(
        on_edit, inputs=[text, shown_of], outputs=outputs, api_name=False, show_progress="hidden", **serial
    )
    gr.Examples(EXAMPLES, inputs=text, outputs=outputs, fn=on_text, run_on_click=True,
                cache_examples=False, label=words["examples"])  # fmt: skip


def _file_tab(gr, ensemble: Ensemble, words: dict) -> None:
    def on_file(path: str | None, column: str | None, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        try:
            return classify_file(ensemble, path, column, progress, words)
        except Exception as err:  # noqa: BLE001 - a message in the app, never a stack trace
            logger.exception("Classifying a file failed")
            return None, None, [], words["failed"].format(error=type(err).__name__)

    upload = gr.File(label=words["upload"], file_types=[".txt", ".tsv"])
    column = gr.Textbox(label=words["column"], placeholder="문장")
    button = gr.Button(words["classify_file"], variant="primary")
    message = gr.Markdown()
    preview = gr.Dataframe(headers=["line", "text", "labels"], label=words["preview"].format(n=PREVIEW_ROWS),
                           interactive=False, wrap=True, elem_id="preview")  # fmt: skip
    with gr.Row():
        jsonl = gr.File(label=words["jsonl"])
        csv = gr.File(label=words["csv"])
    outputs = [jsonl, csv, preview, message]
    button.click(on_file, inputs=[upload, column], outputs=outputs, api_name="classify_file")
    # A new upload makes the shown result stale.
    upload.change(lambda _: (None, None, [], ""), inputs=upload, outputs=outputs, api_name=False,
                  show_progress="hidden")  # fmt: skip


def font_css() -> tuple[str, list[str]]:
    """CSS that serves NanumGothic from the installed package (no CDN), and the folder to allow."""
    font = web_font()
    css = (
        f"@font-face {{ font-family: '{FONT_FAMILY}'; src: url('/gradio_api/file={font}') "
        "format('truetype'); font-display: swap; } #verdict * { font-size: 1.3rem !important; font-weight: 600; } "
        "#preview p { font-family: var(--font) !important; }"
    )
    return css, [str(font.parent)]


def web_font() -> Path:
    """NanumGothic as browsers take it: the shipped file holds empty VTT source tables (TSI*) that
    Chromium's font sanitiser refuses, so a copy without them is made once in the user's cache."""
    import koreanize_matplotlib
    from fontTools.ttLib import TTFont

    source = Path(koreanize_matplotlib.__file__).parent / "fonts" / "NanumGothic.ttf"
    target = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hf_trainer" / "fonts" / source.name
    )
    if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
        font = TTFont(str(source))
        for tag in [t for t in font.keys() if t.startswith("TSI")]:
            del font[tag]
        target.parent.mkdir(parents=True, exist_ok=True)
        with io.atomic_open(target, "wb") as handle:
            font.save(handle)
    return target


def theme():
    """Gradio's default look with the app's own Korean font first, then the browser's (the default
    theme loads Google Fonts)."""
    import gradio as gr

    system = [FONT_FAMILY, "system-ui", "Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans KR", "sans-serif"]
    # The app's font in the monospace list too: Hangul in tables (the flagged-rows preview) falls back to it.
    return gr.themes.Default(font=system, font_mono=["ui-monospace", FONT_FAMILY, "monospace"])


def launch(app, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Serve: no share link, no SSR, no MCP server, no PWA, no monitoring page, uploads up to 50 MB;
    the Korean font from the installed package."""
    results_dir()  # results an earlier run left are removed once they are an hour old
    css, font_dirs = font_css()
    return app.launch(
        server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False, pwa=False,
        enable_monitoring=False, max_file_size=MAX_FILE_SIZE, prevent_thread_lock=not block, show_error=False,
        theme=theme(), footer_links=["api"], quiet=not block, css=css, allowed_paths=font_dirs,
    )  # fmt: skip
