"""What the app shows, as plain values (no Gradio here): its words in Korean or English, the verdict
line, every label's score and threshold, the spans behind a decision, what the model read, and the
model panel. `app.py` wires them to the page."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from ..data.labels import UNSMILE_ABUSE as ABUSE
from ..data.labels import UNSMILE_CLEAN as CLEAN

# Fixed colours: every group label one hue, abuse another; clean is never shown as a reason.
GROUP_COLOUR, ABUSE_COLOUR = "#f4a261", "#e63946"
SPAN_FLOOR = 0.05  # spans that move a score by less than this are not shown as reasons
RELATIVE_FLOOR = 0.25  # nor those weaker than a quarter of the label's strongest span
PANEL_CHARS = 300  # a longer comment's highlighted panel ends with an ellipsis
# The shipped synthetic sample (recipes/demo_data/): a model trained on it proves the pipeline only.
SYNTHETIC_SAMPLE_SHA256 = {
    "demo_train.tsv": "acf87c253b8507a362dbf45e9f6ef3bc1e7bcebe06a20b463c02dafad281c195",
    "demo_test.tsv": "2dadbca01a077a00fb090c43a4807827d68c64af7380d299e23f7a5a34a73284",
}

WORDS = {
    "ko": {
        "title": "한국어 혐오 표현 분류기 (UnSmile)",
        "intro": "댓글 하나에 열 개의 레이블: {labels}.",
        "comment_tab": "댓글", "file_tab": "파일", "model_tab": "모델",
        "comment": "댓글", "placeholder": "분석할 댓글을 입력하세요 (Shift+Enter로 분류)",
        "classify": "분류하기", "examples": "예시 (누르면 바로 분류합니다)",
        "scores": "레이블별 점수", "why": "판정의 근거가 된 부분",
        "flagged": "판정: {items}", "item": "{label} ({score:.2f}, 기준 {threshold:.2f})",
        "not_flagged": "해당 없음: 가장 높은 {label} {score:.2f} < 기준 {threshold:.2f}",
        "table": "| 레이블 | 점수 | 기준 | 판정 |", "yes": "예", "no": "",
        "read_as": "모델이 읽은 형태: {text}", "removed": "숨은 문자 {count}개 제거 ({names})",
        "enter": "분류할 댓글을 입력하세요.",
        "cut": "댓글이 {n:,}자입니다. 앞의 {max:,}자만 분류했습니다.",
        "failed": "분류하지 못했습니다 ({error}). 서버 로그를 확인하세요.",
        "upload": ".txt(한 줄에 댓글 하나) 또는 머리글이 있는 .tsv 파일", "column": "댓글이 든 TSV 열 이름",
        "classify_file": "파일 분류하기", "jsonl": "JSON lines (predict.py와 같은 형식)",
        "csv": "CSV (UTF-8 BOM: 한국어 Excel에서 바로 열림)", "preview": "판정된 댓글 (앞의 {n}개)",
        "members": "| 구성 모델 | 가중치 | 기반 모델 또는 역할 |", "unused": "사용 안 함 (가중치 0)",
        "gate": "언급 게이트: 집단 이름을 가리고 혐오 여부를 판단 (강도 {strength:g})",
        "per_label": "| 레이블 | 기준 | 테스트 F1 |",
        "no_file": ".txt(한 줄에 댓글 하나) 또는 머리글이 있는 .tsv 파일을 올리세요.",
        "utf16": "{name}은(는) UTF-16 텍스트입니다(Excel의 유니코드 텍스트 저장): UTF-8로 저장해 주세요.",
        "binary": "{name}은(는) 텍스트 파일이 아닌 것 같습니다. UTF-8 텍스트를 올려 주세요.",
        "empty": "{name}이(가) 비어 있습니다.",
        "encoding": "{name}은(는) UTF-8도 CP949/EUC-KR도 아닙니다({byte}번째 바이트). UTF-8로 저장해 주세요.",
        "no_column": "{name}은(는) TSV 파일입니다. 댓글이 든 열의 이름을 적어 주세요.",
        "header_only": "{name}에는 머리글만 있고 댓글이 없습니다.",
        "too_many": "{name}의 댓글이 {n:,}개입니다. 앱은 {max:,}개까지 받습니다(predict.py를 쓰세요).",
        "synthetic": "**배포본의 합성 예제로 학습한 데모** (recipes/demo_data/): 파이프라인을 보이려고 만든 데이터라, "
        "이 점수는 혐오 표현에 대해 아무것도 말해 주지 않습니다.",
        "trained_on": "학습 데이터: {files}.", "hub_data": "학습 데이터: Hub 데이터셋 `{dataset}` (커밋 {commit}).",
        "no_source": "학습 데이터의 출처가 기록되어 있지 않습니다.",
        "served": "구성 모델은 **{backend}** 백엔드로 서비스됩니다.",
        "no_report": "앙상블의 테스트 보고서가 없어 테스트 macro F1을 알 수 없습니다.",
        "test_f1": "테스트 macro F1 (기준은 검증 데이터에서 고름): **{f1:.4f}**{interval}; {scored}. 테스트 수치는 "
        "학습 때 저장한 구성 모델의 PyTorch 점수(fp32)로 계산했습니다.",
        "interval": " (95% 구간 {low:.4f}-{high:.4f})", "scored": "테스트 데이터는 {count}번 채점했습니다",
        "scored_unknown": "테스트 데이터를 몇 번 채점했는지 기록되어 있지 않습니다",
        "licence": "한국어 UnSmile 데이터셋(Smilegate AI, 2022)은 CC BY-NC-ND 4.0입니다: 이 데이터로 학습한 모델은 "
        "비상업적 용도로만 쓸 수 있습니다. 여기의 예시는 이 프로젝트를 위해 쓴 문장입니다.",
        "classified": "댓글 {n:,}개를 분류했습니다.", "read_encoding": " {encoding}(으)로 읽었습니다.",
        "cut_lines": " {n:,}개 댓글은 {max:,}자가 넘어 앞의 {max:,}자만 분류했습니다.",
    },
    "en": {
        "title": "Korean hate-speech classifier (UnSmile)",
        "intro": "Ten labels per comment: {labels}.",
        "comment_tab": "Comment", "file_tab": "File", "model_tab": "Model",
        "comment": "Comment", "placeholder": "Type a comment (Shift+Enter classifies)",
        "classify": "Classify", "examples": "Examples (a click classifies)",
        "scores": "Scores per label", "why": "What drove the decision",
        "flagged": "Flagged: {items}", "item": "{label} ({score:.2f}, threshold {threshold:.2f})",
        "not_flagged": "Not flagged; highest {label} {score:.2f} < {threshold:.2f}",
        "table": "| label | score | threshold | decided |", "yes": "yes", "no": "",
        "read_as": "Read as: {text}", "removed": "{count} hidden character(s) removed ({names})",
        "enter": "Enter a comment to classify.",
        "cut": "The comment has {n:,} characters; only the first {max:,} were classified.",
        "failed": "Classification failed ({error}); the server log says more.",
        "upload": "A .txt (one comment per line) or a .tsv with a header", "column": "TSV column with the comments",
        "classify_file": "Classify the file", "jsonl": "JSON lines, as predict.py writes them",
        "csv": "CSV (UTF-8 with a BOM: Excel opens it in Korean)", "preview": "Flagged comments (first {n})",
        "members": "| member | weight | base model or role |", "unused": "not used (weight 0)",
        "gate": "mention gate: judges hate with group names blinded (strength {strength:g})",
        "per_label": "| label | threshold | test F1 |",
        "no_file": "Upload a .txt file (one comment per line) or a .tsv file with a header.",
        "utf16": "{name} is UTF-16 text (as Excel's Unicode text export writes it): save it as UTF-8.",
        "binary": "{name} looks binary: upload UTF-8 text.",
        "empty": "{name} is empty.",
        "encoding": "{name} is neither UTF-8 nor CP949/EUC-KR text (byte {byte}); save it as UTF-8.",
        "no_column": "{name} is a TSV file: give the name of the column that holds the comments.",
        "header_only": "{name} has a header and no comments.",
        "too_many": "{name} has {n:,} comments; the app takes at most {max:,} (use predict.py).",
        "synthetic": "**Demo on the shipped synthetic sample** (recipes/demo_data/): made up by the recipe to prove "
        "the pipeline; these scores mean nothing about hate speech.",
        "trained_on": "Trained on: {files}.", "hub_data": "Trained on the Hub dataset `{dataset}` at commit {commit}.",
        "no_source": "Where the training data came from is not recorded.",
        "served": "Served with the **{backend}** backend.",
        "no_report": "No test report with the ensemble's figures: its test macro F1 is not known here.",
        "test_f1": "Test macro F1, thresholds chosen on validation: **{f1:.4f}**{interval}; {scored}. The test "
        "figures are those of the members' PyTorch scores saved at training (fp32).",
        "interval": " (95% interval {low:.4f}-{high:.4f})", "scored": "the test split was scored {count} time(s)",
        "scored_unknown": "how often the test split was scored is not recorded",
        "licence": "The Korean UnSmile dataset (Smilegate AI, 2022) is CC BY-NC-ND 4.0: a model trained on it is "
        "for non-commercial use only. The examples here were written for this project.",
        "classified": "{n:,} comment{s} classified.", "read_encoding": " Read as {encoding}.",
        "cut_lines": " {n:,} comment(s) over {max:,} characters: only their first {max:,} were classified.",
    },
}  # fmt: skip


def flagged_labels(explained: Mapping[str, dict]) -> list[str]:
    """The decided labels that flag a comment (every decided label but clean)."""
    return [name for name, entry in explained.items() if entry["decided"] and name != CLEAN]


def verdict(explained: Mapping[str, dict], words: Mapping[str, str]) -> str:
    """One line: the flagged labels with score and threshold, or the highest label below its own."""
    flagged = flagged_labels(explained)
    if flagged:
        items = ", ".join(words["item"].format(label=name, **_numbers(explained[name])) for name in flagged)
        return words["flagged"].format(items=items)
    others = {name: entry for name, entry in explained.items() if name != CLEAN} or dict(explained)
    top = max(others, key=lambda name: others[name]["score"])
    return words["not_flagged"].format(label=top, **_numbers(others[top]))


def _numbers(entry: dict) -> dict:
    return {"score": entry["score"], "threshold": entry["threshold"]}


def label_table(explained: Mapping[str, dict], words: Mapping[str, str]) -> str:
    """Every label: score, threshold and whether it is decided, in one unit (0-1, two decimals)."""
    rows = [words["table"], "|---|---:|---:|:---:|"]
    for name, entry in explained.items():
        mark = words["yes"] if entry["decided"] else words["no"]
        label = f"**{name}**" if entry["decided"] else name
        rows.append(f"| {label} | {entry['score']:.2f} | {entry['threshold']:.2f} | {mark} |")
    return "\n".join(rows)


def colour_map(labels: Sequence[str]) -> dict[str, str]:
    return {name: ABUSE_COLOUR if name == ABUSE else GROUP_COLOUR for name in labels if name != CLEAN}


def highlights(explained: Mapping[str, dict]) -> list[dict]:
    """The spans behind each flagged label as gr.HighlightedText entities, in text order: spans under
    the floors are not shown, a span behind two labels is shown once (under the label it weighs most
    for), and neighbouring spans of one label (a space apart at most) are merged into one."""
    spans = []
    for name in flagged_labels(explained):
        entry = explained[name]
        strongest = max((s["weight"] for s in entry["spans"]), default=0.0)
        floor = max(SPAN_FLOOR, RELATIVE_FLOOR * strongest)
        spans += [(s["weight"], name, s["start"], s["end"]) for s in entry["spans"] if s["weight"] >= floor]
    shown: list[dict] = []
    for weight, name, start, end in sorted(spans, key=lambda item: -item[0]):
        if all(end <= s["start"] or start >= s["end"] for s in shown):
            shown.append({"entity": name, "start": start, "end": end, "weight": round(weight, 3)})
    merged: list[dict] = []
    for span in sorted(shown, key=lambda s: s["start"]):
        last = merged[-1] if merged else None
        if last and last["entity"] == span["entity"] and span["start"] - last["end"] <= 1:
            last["end"], last["weight"] = span["end"], max(last["weight"], span["weight"])
        else:
            merged.append(dict(span))
    return merged


def panel(text: str, entities: list[dict]) -> dict:
    """gr.HighlightedText's value; a comment longer than PANEL_CHARS ends with an ellipsis there."""
    if len(text) <= PANEL_CHARS:
        return {"text": text, "entities": [{k: e[k] for k in ("entity", "start", "end")} for e in entities]}
    kept = [{k: e[k] for k in ("entity", "start", "end")} for e in entities if e["end"] <= PANEL_CHARS]
    return {"text": text[:PANEL_CHARS] + " …", "entities": kept}


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:@])")  # ':' and '@': no autolink either


def markdown_escaped(text: str) -> str:
    """`text` with every Markdown character escaped: a comment renders as its characters, never as a
    link, an image (which the browser would fetch) or markup."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def read_as(text: str, read: str, words: Mapping[str, str]) -> str:
    """What the model scored, when it is not the comment as typed: the canonical form with what it
    rewrote in bold (7H^H77l -> **개새끼**), and the hidden characters it took out, by Unicode name."""
    if read == text:
        return ""
    import difflib

    marked = []
    for op, _, _, start, end in difflib.SequenceMatcher(None, text, read, autojunk=False).get_opcodes():
        piece = markdown_escaped(read[start:end])
        marked.append(f"**{piece}**" if op in ("replace", "insert") and piece.strip() else piece)
    # Only what the reading really took out (a member without the `invisible` step keeps them).
    hidden = [
        c for c in text if unicodedata.category(c) in ("Cf", "Cc") and c not in "\n\t" and c not in read
    ]
    line = words["read_as"].format(text="".join(marked))
    if hidden:
        names = ", ".join(sorted({unicodedata.name(c, f"U+{ord(c):04X}") for c in hidden}))
        line += "  \n" + words["removed"].format(count=len(hidden), names=names)
    return line


def is_synthetic_demo(metrics: Mapping | None) -> bool:
    """Whether a test report's `data_source` is the shipped synthetic sample (by file digests)."""
    files = ((metrics or {}).get("data_source") or {}).get("files") or {}
    return bool(files) and all(SYNTHETIC_SAMPLE_SHA256.get(_name(f)) == digest for f, digest in files.items())


def data_note(metrics: Mapping | None, words: Mapping[str, str] = WORDS["en"]) -> str:
    """Where the served model's data came from, from its test report's `data_source`."""
    source = (metrics or {}).get("data_source") or {}
    files = source.get("files") or {}
    if is_synthetic_demo(metrics):
        return words["synthetic"]
    if files:
        return words["trained_on"].format(
            files=", ".join(f"`{_name(f)}` (SHA-256 {d[:12]})" for f, d in files.items())
        )
    if source.get("hub_dataset"):
        return words["hub_data"].format(dataset=source["hub_dataset"], commit=source.get("commit") or "?")
    return words["no_source"]


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]
