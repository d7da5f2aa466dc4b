from __future__ import annotations

import numpy as np
import pytest

from hf_trainer.data.labels import UNSMILE_LABELS, LabelSchema
from hf_trainer.data.loading import (
    DataValidationError,
    load_splits,
    read_labelled_tsv,
    report_overlap,
    stratified_split,
)
from hf_trainer.utils.errors import UserError

SCHEMA = LabelSchema()
HEADER = "\t".join(["문장", *UNSMILE_LABELS, "개인지칭"])


def row(text: str, positives: tuple[int, ...] = (9,), extra: str = "0") -> str:
    return "\t".join([text, *("1" if i in positives else "0" for i in range(10)), extra])


def test_reads_valid_file_with_extra_column_and_stray_quotes(write_tsv):
    path = write_tsv(
        "ok.tsv",
        "\n".join([HEADER, row('그는 "진짜" 좋은 사람', (9,)), row('"따옴표로 시작', (0, 8))]) + "\n",
    )
    data = read_labelled_tsv(path, SCHEMA)
    assert data.texts == ['그는 "진짜" 좋은 사람', '"따옴표로 시작']
    assert data.labels.dtype == np.float32
    assert data.labels[1].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert data.ids.tolist() == [0, 1]


@pytest.mark.parametrize(
    "body, line, column, message",
    [
        (
            row("좋아요", (9,)).replace("\t1\t", "\t2\t", 1),
            2,
            "11 ('clean')",
            "label must be 0 or 1, found '2'",
        ),
        (row("좋아요").replace("\t0\t", "\t-1\t", 1), 2, "2 ('여성/가족')", "found '-1'"),
        (row("좋아요").replace("\t0\t", "\tyes\t", 1), 2, "2 ('여성/가족')", "found 'yes'"),
        (row("좋아요").replace("\t0\t", "\t\t", 1), 2, "2 ('여성/가족')", "found ''"),
        (row("   "), 2, "1 ('문장')", "empty or whitespace-only text"),
        ("\t".join(["짧은 행", "0", "1"]), 2, "4 ('성소수자')", "found 3 tab-separated fields"),
    ],
)
def test_bad_rows_name_file_line_and_column(write_tsv, body, line, column, message):
    path = write_tsv("bad.tsv", "\n".join([HEADER, row("첫 줄은 괜찮다"), body]) + "\n")
    with pytest.raises(DataValidationError) as info:
        read_labelled_tsv(path, SCHEMA)
    err = info.value
    assert (err.path, err.line - 1, err.column) == (str(path), line, column)
    assert str(path) in str(err) and message in str(err)


def test_missing_label_column_suggests_the_close_name(write_tsv):
    path = write_tsv("missing.tsv", HEADER.replace("악플/욕설", "악플욕설") + "\n" + row("안녕") + "\n")
    with pytest.raises(DataValidationError, match=r"line 1, column '악플/욕설'.*Did you mean '악플욕설'"):
        read_labelled_tsv(path, SCHEMA)


def test_comma_separated_file_is_recognised(write_tsv):
    path = write_tsv("data.tsv", ",".join(["문장", *UNSMILE_LABELS]) + "\n안녕," + ",".join("0" * 10) + "\n")
    with pytest.raises(DataValidationError, match="comma-separated"):
        read_labelled_tsv(path, SCHEMA)


def test_cp949_file_gets_a_conversion_hint(write_tsv):
    path = write_tsv("cp949.tsv", (HEADER + "\n" + row("한국어 댓글") + "\n").encode("cp949"))
    with pytest.raises(DataValidationError, match=r"line 1, column byte 1: not valid UTF-8.*CP949.*iconv"):
        read_labelled_tsv(path, SCHEMA)


def test_bom_and_crlf_are_accepted(write_tsv):
    content = "\ufeff" + "\r\n".join([HEADER, row("윈도우에서 저장", (9,)), row("두 번째", (1,))]) + "\r\n"
    data = read_labelled_tsv(write_tsv("win.tsv", content), SCHEMA)
    assert data.texts == ["윈도우에서 저장", "두 번째"]
    assert data.labels[:, 9].tolist() == [1, 0]


def test_header_only_and_empty_files_are_errors(write_tsv):
    with pytest.raises(DataValidationError, match="no data rows"):
        read_labelled_tsv(write_tsv("h.tsv", HEADER + "\n"), SCHEMA)
    with pytest.raises(DataValidationError, match="empty"):
        read_labelled_tsv(write_tsv("e.tsv", ""), SCHEMA)


def test_rows_without_labels_are_kept_and_counted(write_tsv, caplog):
    path = write_tsv("n.tsv", "\n".join([HEADER, row("라벨 없음", ()), row("라벨 없음", ())]) + "\n")
    with caplog.at_level("INFO", logger="hf_trainer"):
        data = read_labelled_tsv(path, SCHEMA)
    assert len(data.texts) == 2 and data.labels.sum() == 0
    assert "2 with no label, 1 duplicate texts" in caplog.text


def test_label_list_column_by_name_and_id(write_tsv):
    schema = LabelSchema.from_comma_list("spam,toxic,ok")
    path = write_tsv("g.tsv", "id\tcomment\ttags\n1\t하나\tspam,toxic\n2\t둘\t2\n3\t셋\t\n")
    data = read_labelled_tsv(path, schema, text_column="comment", label_list_column="tags")
    assert data.labels.tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    bad = write_tsv("g2.tsv", "comment\ttags\n하나\tspam,nope\n")
    with pytest.raises(DataValidationError, match=r"line 2, column 2 \('tags'\): unknown label 'nope'"):
        read_labelled_tsv(bad, schema, text_column="comment", label_list_column="tags")


def test_stratified_split_is_seeded_disjoint_and_keeps_rare_ratio(demo_data_dir):
    data = read_labelled_tsv(demo_data_dir / "demo_train.tsv", SCHEMA).to_dataset()
    train, val = stratified_split(data, 0.1, seed=7)
    train2, val2 = stratified_split(data, 0.1, seed=7)
    _, val3 = stratified_split(data, 0.1, seed=8)
    assert val["id"] == val2["id"] and val["id"] != val3["id"]
    assert set(train["id"]).isdisjoint(val["id"]) and len(train) + len(val) == len(data)
    assert abs(len(val) - 0.1 * len(data)) <= 0.01 * len(data)  # iterative stratification: about 10%
    full = np.asarray(data["labels"]).mean(axis=0)
    part = np.asarray(val["labels"]).mean(axis=0)
    assert np.all(np.abs(full - part) < 0.012), (full, part)


def test_generic_files_and_overlap_report(write_tsv, caplog):
    header = "text\ta\tb"
    train = write_tsv(
        "train.tsv", "\n".join([header] + [f"문장 {i}\t{i % 2}\t{(i // 2) % 2}" for i in range(40)]) + "\n"
    )
    val = write_tsv("val.tsv", f"{header}\n문장 1\t1\t0\n새 문장\t0\t1\n")
    schema = LabelSchema.from_comma_list("a,b")
    splits = load_splits(
        schema,
        train_file=str(train),
        validation_file=str(val),
        test_file=str(val),
        text_column="text",
        label_columns=["a", "b"],
    )
    assert list(splits) == ["train", "validation", "test"] and len(splits["train"]) == 40
    with caplog.at_level("WARNING"):
        overlap = report_overlap(splits)
    assert overlap == {"train&validation": 1, "train&test": 1, "validation&test": 2}
    assert "1 distinct texts occur in both the train and the validation split" in caplog.text


def test_hub_unreachable_points_to_data_dir():
    with pytest.raises(UserError, match="--data_dir"):
        load_splits(SCHEMA, dataset_name="smilegate-ai/kor_unsmile")


def test_real_unsmile_row_counts_and_label_ratios(unsmile_dir):
    train = read_labelled_tsv(unsmile_dir / "unsmile_train_v1.0.tsv", SCHEMA)
    valid = read_labelled_tsv(unsmile_dir / "unsmile_valid_v1.0.tsv", SCHEMA)
    assert len(train.texts) == 15005 and len(valid.texts) == 3737
    ratios = dict(zip(UNSMILE_LABELS, train.labels.mean(axis=0), strict=True))
    # The design document's table: 악플/욕설 20.9%, 연령 4.0%, 기타 혐오 3.7%.
    assert ratios["악플/욕설"] == pytest.approx(0.209, abs=0.01)
    assert ratios["연령"] == pytest.approx(0.040, abs=0.005)
    assert ratios["기타 혐오"] == pytest.approx(0.037, abs=0.005)
    splits = load_splits(SCHEMA, data_dir=str(unsmile_dir))
    assert (len(splits["train"]), len(splits["validation"]), len(splits["test"])) == (13504, 1501, 3737)


def test_a_members_split_rows_are_read_in_the_canonical_form_it_records(tmp_path):
    import json

    from hf_trainer.data.preparation import split_rows
    from tests.helpers import DEMO_TEST, DEMO_TRAIN

    test_file = tmp_path / "test.tsv"
    lines = DEMO_TEST.read_text(encoding="utf-8").split("\n")
    lines.insert(
        1, "ㅅㅣ발 뭐야 이거" + "\t0" * 8 + "\t1\t0\t0"
    )  # letters typed apart: composed by the canonical form
    test_file.write_text("\n".join(lines), encoding="utf-8")
    data = {"train_file": str(DEMO_TRAIN), "test_file": str(test_file)}
    texts = {}
    for name, recorded in (("old", data), ("none", data | {"canonical_form": "none"}),
                           ("all", data | {"canonical_form": "all"})):  # fmt: skip
        member = tmp_path / name
        member.mkdir()
        (member / "run_config.json").write_text(json.dumps({"data": recorded}), encoding="utf-8")
        texts[name] = split_rows([member], "test")["text"]
    assert "ㅅㅣ발 뭐야 이거" in texts["old"] and texts["old"] == texts["none"]  # no record: as written
    assert "시발 뭐야 이거" in texts["all"] and "ㅅㅣ발 뭐야 이거" not in texts["all"]
