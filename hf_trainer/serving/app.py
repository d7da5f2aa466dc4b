"""A Gradio app to try a trained ensemble in a browser (`recipes/app.py`, and the Space bundle's app.py).

Offline and private by default: Gradio's analytics are off (`GRADIO_ANALYTICS_ENABLED=False` set
before Gradio is imported, and `analytics_enabled=False`), no share link, no server-side rendering
(no Node process), no MCP server, the theme uses the browser's own fonts (Gradio's default theme
fetches Google Fonts), and the server binds to 127.0.0.1 unless told otherwise. Bad input gets a
message in the app, never a stack trace; the server stays up.

Endpoints (also for `gradio_client`): `/classify` (one comment -> scores, decided labels with their
thresholds, highlighted spans, a message) and `/classify_file` (a .txt with one comment per line, or
a .tsv with a named column -> the JSONL file `predict.py` would write, and a message).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from ..utils import io
from ..utils.errors import UserError
from .inference import Ensemble, predict_records

logger = logging.getLogger(__name__)

MAX_CHARS = 2_000  # a longer comment is cut (and the app says so): explaining costs up to 400 rescorings
MAX_FILE_LINES = 100_000
MAX_FILE_SIZE = "50mb"  # uploads over this are refused by Gradio before they reach the app
REPORT_METRICS = "report/test_metrics.json"
EXAMPLES = [  # written for this project (UnSmile's licence forbids derivatives of its rows)
    "여자들은 다 쓰레기야 진짜",
    "오늘 날씨 정말 좋다 산책 가야지",
    "전라도 사람을 만났는데 정말 친절했다",
    "ㅅㅣ발 진짜 짜증나네",
    "너 같은 놈이랑은 말도 섞기 싫다",
]
LICENCE_NOTE = (
    "Trained on the Korean UnSmile dataset (Smilegate AI, 2022), CC BY-NC-ND 4.0: non-commercial use only. "
    "The examples here were written for this project."
)


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


def model_panel(ensemble: Ensemble, metrics: dict | None) -> str:
    """Markdown: the members and weights, the test macro F1 with its interval from the report, how
    many times the test split was scored, the data licence."""
    lines = ["| member | weight |", "|---|---:|"]
    lines += [
        f"| {m['name']} | {w:.2f} |" for m, w in zip(ensemble.spec.members, ensemble.weights, strict=True)
    ]
    metrics = metrics or {}
    f1 = (metrics.get("systems") or {}).get("ensemble tuned", {}).get("f1_macro")
    if f1 is None:
        lines += ["", "No test report with the ensemble's figures: its test macro F1 is not known here."]
    else:
        ci = metrics.get("bootstrap_ci", {}).get("systems", {}).get("ensemble tuned", {}).get("f1_macro")
        interval = f" (95% interval {ci[0]:.4f}-{ci[1]:.4f})" if ci else ""
        count = metrics.get("test_evaluation")
        scored = (
            f"the test split was scored {count} time(s)"
            if count
            else "how often the test split was scored is not recorded"
        )
        lines += ["", f"Test macro F1, thresholds chosen on validation: **{f1:.4f}**{interval}; {scored}."]
    return "\n".join([*lines, "", LICENCE_NOTE])


def classify(ensemble: Ensemble, text: str | None, top_k: int = 3) -> tuple[dict, str, dict, str]:
    """One comment -> (scores for gr.Label, decided labels with thresholds as Markdown, spans for
    gr.HighlightedText, a message)."""
    text = "" if text is None else str(text)
    if not text.strip():
        return {}, "", {"text": "", "entities": []}, "Enter a comment to classify."
    message = ""
    if len(text) > MAX_CHARS:
        message = f"The comment has {len(text):,} characters; only the first {MAX_CHARS:,} were classified."
        text = text[:MAX_CHARS]
    # Every label's score and decision come with the explanation: the comment is scored once.
    (explained,) = ensemble.explain([text], labels=ensemble.labels, top_k=top_k)
    decided = {name: entry for name, entry in explained.items() if entry["decided"]}
    rows = ["| label | score | threshold |", "|---|---:|---:|"]
    rows += [
        f"| **{name}** | {entry['score']:.3f} | {entry['threshold']:.3f} |" for name, entry in decided.items()
    ]
    table = "\n".join(rows) if decided else "No label reaches its threshold."
    scores = {name: entry["score"] for name, entry in explained.items()}
    return scores, table, {"text": text, "entities": highlights(decided)}, message


def highlights(explained: dict) -> list[dict]:
    """The spans of `Ensemble.explain` for one comment as gr.HighlightedText entities, in text order;
    a span that overlaps one already shown (the same words behind two labels) is shown once, under
    the label it weighs most for."""
    spans = sorted(
        (
            (span["weight"], name, span["start"], span["end"])
            for name, entry in explained.items()
            for span in entry["spans"]
        ),
        key=lambda item: -item[0],
    )
    shown: list[dict] = []
    for _, name, start, end in spans:
        if all(end <= s["start"] or start >= s["end"] for s in shown):
            shown.append({"entity": name, "start": start, "end": end})
    return sorted(shown, key=lambda s: s["start"])


def classify_file(
    ensemble: Ensemble, path: str | None, column: str | None, progress=None
) -> tuple[str | None, str]:
    """An uploaded .txt (one comment per line) or .tsv (with `column`) -> (the JSONL file predict.py
    would write, a message)."""
    if not path:
        return None, "Upload a .txt file (one comment per line) or a .tsv file with a header."
    name = f"`{Path(path).name.replace('`', '')}`"  # shown as code: a file name renders no Markdown
    raw = Path(path).read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, f"{name} is UTF-16 text (as Excel's Unicode text export writes it): save it as UTF-8."
    if b"\x00" in raw[:8192]:
        return None, f"{name} looks binary: upload UTF-8 text."
    if not raw.strip():
        return None, f"{name} is empty."
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"{name} is not UTF-8 text (byte {err.start}); save it as UTF-8 and upload it again."
    tsv = Path(path).suffix.lower() == ".tsv"
    if tsv and not (column or "").strip():
        return None, f"{name} is a TSV file: give the name of the column that holds the comments."
    with open(path, "rb") as handle:
        try:
            texts = list(
                io.read_tsv_column(handle, column.strip(), Path(path).name) if tsv else io.read_lines(handle)
            )
        except UserError as err:
            return None, str(err)
    if len(texts) > MAX_FILE_LINES:
        return (
            None,
            f"{name} has {len(texts):,} comments; the app takes at most {MAX_FILE_LINES:,} (use predict.py).",
        )
    out = Path(tempfile.mkdtemp(dir=results_dir())) / (Path(path).stem + ".jsonl")
    with out.open("w", encoding="utf-8") as sink:
        records = predict_records(ensemble, texts, chunk_size=256)
        for record in progress.tqdm(records, total=len(texts), desc="Classifying") if progress else records:
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    return str(out), f"{len(texts):,} comments classified."


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
    """Other results folders of this user (earlier apps), never another user's."""
    return [
        p for p in own.parent.glob(RESULTS_PREFIX + "*")
        if p != own and p.is_dir() and p.stat().st_uid == os.getuid()
    ]  # fmt: skip


def _untouched_for(folder: Path) -> float:
    import time

    paths = [folder, *folder.rglob("*")] if folder.is_dir() else [folder]
    return time.time() - max(path.stat().st_mtime for path in paths)


def build_app(
    ensemble: Ensemble, metrics: dict | None = None, title: str = "Korean hate-speech classifier (UnSmile)"
):
    """The Gradio Blocks app for `ensemble` (`metrics`: its report's test_metrics.json for the model
    panel, as `test_metrics` finds it)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    def on_text(text: str | None):
        try:
            return classify(ensemble, text)
        except Exception as err:  # noqa: BLE001 - a message in the app, never a stack trace
            logger.exception("Classifying a comment failed")
            failed = f"Classification failed ({type(err).__name__}); the server log says more."
            return {}, "", {"text": "", "entities": []}, failed

    def on_file(path: str | None, column: str | None, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        try:
            return classify_file(ensemble, path, column, progress)
        except Exception as err:  # noqa: BLE001 - a message in the app, never a stack trace
            logger.exception("Classifying a file failed")
            return None, f"Classification failed ({type(err).__name__}); the server log says more."

    # Uploads and results leave Gradio's cache after an hour.
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# {title}\nTen labels per comment: " + ", ".join(ensemble.labels) + ".")
        with gr.Tab("Comment"):
            text = gr.Textbox(label="Comment", placeholder="분석할 댓글을 입력하세요", lines=3)
            button = gr.Button("Classify", variant="primary")
            message = gr.Markdown()
            with gr.Row():
                scores = gr.Label(label="Scores", num_top_classes=len(ensemble.labels))
                with gr.Column():
                    decided = gr.Markdown(label="Decided labels")
                    spans = gr.HighlightedText(
                        label="Why: the spans behind each decided label", combine_adjacent=False
                    )
            gr.Examples(EXAMPLES, inputs=text)
            outputs = [scores, decided, spans, message]
            button.click(on_text, inputs=text, outputs=outputs, api_name="classify")
            text.submit(on_text, inputs=text, outputs=outputs, api_name=False)
        with gr.Tab("File"):
            upload = gr.File(label="A .txt (one comment per line) or a .tsv", file_types=[".txt", ".tsv"])
            column = gr.Textbox(label="TSV column with the comments", placeholder="문장")
            file_button = gr.Button("Classify the file", variant="primary")
            file_message = gr.Markdown()
            result = gr.File(label="JSON lines, as predict.py writes them")
            file_button.click(
                on_file, inputs=[upload, column], outputs=[result, file_message], api_name="classify_file"
            )
        with gr.Tab("Model"):
            gr.Markdown(model_panel(ensemble, metrics))
    return app


def theme():
    """Gradio's default look with the browser's own fonts (the default theme loads Google Fonts)."""
    import gradio as gr

    system = ["system-ui", "Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans KR", "sans-serif"]
    return gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])


def launch(app, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Serve: no share link, no SSR, no MCP server, no PWA, no monitoring page, uploads up to 50 MB."""
    results_dir()  # results an earlier run left are removed once they are an hour old
    return app.launch(
        server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False, pwa=False,
        enable_monitoring=False, max_file_size=MAX_FILE_SIZE, prevent_thread_lock=not block, show_error=False,
        theme=theme(), footer_links=["api"], quiet=not block,
    )  # fmt: skip
