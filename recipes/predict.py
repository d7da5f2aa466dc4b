"""Label comments with a trained ensemble (or one member folder), one JSON line per input line.

    echo "댓글 하나" | python recipes/predict.py --ensemble outputs/ensemble
    python recipes/predict.py --ensemble outputs/ensemble --input comments.txt --output labels.jsonl
    python recipes/predict.py --ensemble outputs/ensemble --input data.tsv --tsv_column 문장

Input is streamed in chunks, so memory stays flat on long files. Empty lines and overlong comments
get scores like any other (overlong ones are truncated to --max_length tokens).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm.auto import tqdm

from hf_trainer.inference import Ensemble
from hf_trainer.log import setup_logging

logger = logging.getLogger("hf_trainer.predict")


def read_lines(handle, tsv_column: str | None) -> Iterator[str]:
    column = None
    for number, line in enumerate(handle, start=1):
        line = line.rstrip("\r\n")
        if tsv_column is None:
            yield line
            continue
        fields = line.split("\t")
        if column is None:
            if tsv_column not in fields:
                raise SystemExit(f"{handle.name}, line 1: no column '{tsv_column}' in the header {fields}")
            column = fields.index(tsv_column)
            continue
        if column >= len(fields):
            raise SystemExit(
                f"{handle.name}, line {number}, column {column + 1}: the row has only {len(fields)} fields"
            )
        yield fields[column]


def main(argv: list[str] | None = None) -> None:
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
    parser.add_argument("--trust_remote_code", action="store_true")
    args = parser.parse_args(argv)
    if args.tsv_column:  # under a C locale argv arrives surrogate-escaped: recover the UTF-8 column name
        args.tsv_column = args.tsv_column.encode("utf-8", "surrogateescape").decode("utf-8", errors="replace")
    setup_logging(logging.WARNING)

    ensemble = Ensemble.from_pretrained(
        args.ensemble,
        device=args.device,
        max_length=args.max_length,
        trust_remote_code=args.trust_remote_code,
    )
    # UTF-8 whatever the locale says (a C locale would otherwise garble Korean on stdin/stdout).
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")
    sys.stdout.reconfigure(encoding="utf-8")
    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")  # noqa: SIM115
    sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        texts = read_lines(source, args.tsv_column)
        progress = tqdm(desc="Predicting", unit=" comments", file=sys.stderr, disable=None)
        buffered: list[str] = []
        written = 0

        def flush() -> None:
            nonlocal written
            for text, result in zip(buffered, ensemble.predict(buffered, args.batch_size), strict=True):
                written += 1
                record = {"line": written} | ({} if args.no_text else {"text": text}) | result
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            progress.update(len(buffered))
            buffered.clear()

        for text in texts:
            buffered.append(text)
            if len(buffered) >= args.chunk_size:
                flush()
        if buffered:
            flush()
        progress.close()
    finally:
        if source is not sys.stdin:
            source.close()
        if sink is not sys.stdout:
            sink.close()


if __name__ == "__main__":
    main()
