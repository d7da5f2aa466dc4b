"""Label comments with a trained ensemble (or one member folder), one JSON line per input line.

    echo "댓글 하나" | python recipes/predict.py --ensemble outputs/ensemble
    python recipes/predict.py --ensemble outputs/ensemble --input comments.txt --output labels.jsonl
    python recipes/predict.py --ensemble outputs/ensemble --input data.tsv --tsv_column 문장
    python recipes/predict.py --ensemble outputs/ensemble --input comments.txt --explain --explain_top_k 3

Input is UTF-8, streamed in chunks, so memory stays flat on long files. Lines are split on "\\n"
only: output line N always belongs to input line N (with --tsv_column: to data row N, file line
N + 1), whatever bytes the line holds; only the "\\r" of a CRLF line end is dropped. Empty lines
and overlong comments get scores like any other (overlong ones are truncated to --max_length tokens).
With --explain each line also gets `explanations`: per decided label, the spans of the comment that
raise its score most (character offsets into the comment, its text, and the score lost without it;
hf_trainer/serving/explain.py), at the cost of rescoring each comment once per span (about 60 times for 20 words).
A user mistake (a missing file, a mistyped ensemble folder) ends with one line and exit code 2;
--debug shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm.auto import tqdm

from hf_trainer.serving.inference import Ensemble, predict_records
from hf_trainer.utils import io
from hf_trainer.utils.errors import InputNotFound, InvalidArgument, recover_utf8_argv, run_recipe
from hf_trainer.utils.io import read_lines, read_tsv_column
from hf_trainer.utils.log import setup_logging

logger = logging.getLogger("hf_trainer.predict")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ensemble", required=True, help="Ensemble folder, member folder with ensemble.json, or Hub id"
    )
    parser.add_argument("--input", default="-", help="Text file, one comment per line (default: stdin)")
    parser.add_argument("--tsv_column", default=None, help="Read this column of a TSV with a header instead")
    parser.add_argument("--output", default="-", help="JSON lines file (default: stdout)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--chunk_size", type=int, default=2048, help="Lines held in memory at once")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--no_text", action="store_true", help="Leave the comment out of each output line")
    parser.add_argument(
        "--explain", action="store_true", help="Add the spans behind each decided label (occlusion; slower)"
    )
    parser.add_argument("--explain_top_k", type=int, default=3, help="Spans per decided label with --explain")
    parser.add_argument("--trust_remote_code", action="store_true")
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="onnx: the ONNX Runtime copies written and checked by recipes/export.py (CPU)",
    )
    parser.add_argument(
        "--no_half_precision",
        action="store_true",
        help="On CUDA, run the torch members in fp32, not fp16 autocast",
    )
    # Under a C locale argv arrives surrogate-escaped: recover UTF-8 (a Korean --tsv_column name).
    args = parser.parse_args(recover_utf8_argv(list(sys.argv[1:] if argv is None else argv)))
    if min(args.batch_size, args.chunk_size, args.max_length, args.explain_top_k) < 1:
        raise InvalidArgument(
            "--batch_size, --chunk_size, --max_length and --explain_top_k must be at least 1"
        )
    return args


@contextlib.contextmanager
def open_output(path: str):
    """stdout (UTF-8 whatever the locale), or a file written atomically: complete, or not there."""
    if path == "-":
        sys.stdout.reconfigure(encoding="utf-8")
        yield sys.stdout
        return
    io.ensure_writable(Path(path).resolve().parent)
    with io.atomic_open(path, "w", encoding="utf-8") as handle:
        yield handle


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(logging.WARNING)
    if args.input != "-" and not Path(args.input).is_file():
        raise InputNotFound(f"input file {args.input} not found")
    if args.input != "-":
        io.check_utf8(args.input, args.input)  # before the model loads: a CP949 file would score as noise
    ensemble = Ensemble.from_pretrained(
        args.ensemble,
        device=args.device,
        max_length=args.max_length,
        trust_remote_code=args.trust_remote_code,
        backend=args.backend,
        half_precision=False if args.no_half_precision else None,
    )
    written = 0
    with contextlib.ExitStack() as stack:
        source = sys.stdin.buffer if args.input == "-" else stack.enter_context(open(args.input, "rb"))
        name = "<stdin>" if args.input == "-" else args.input
        texts = read_tsv_column(source, args.tsv_column, name) if args.tsv_column else read_lines(source)
        sink = stack.enter_context(open_output(args.output))
        progress = stack.enter_context(
            tqdm(desc="Predicting", unit=" comments", file=sys.stderr, disable=None)
        )
        records = predict_records(
            ensemble, texts, chunk_size=args.chunk_size, batch_size=args.batch_size, with_text=not args.no_text,
            explain=args.explain, top_k=args.explain_top_k,
        )  # fmt: skip
        for record in records:
            written += 1
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            progress.update(1)
    return written


if __name__ == "__main__":
    sys.exit(run_recipe(main))
