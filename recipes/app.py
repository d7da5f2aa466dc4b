"""Try a trained ensemble in a browser: a Gradio app (hf_trainer/serving/app.py).

    pip install -e ".[app]"
    python recipes/app.py --ensemble_dir outputs/ensemble [--backend onnx] [--lang en] [--host 127.0.0.1] [--port 7860]

`--ensemble_dir` takes a folder or a Hub id, like `Ensemble.from_pretrained`. The app (Korean by
default, `--lang en` for English) has a comment box (one verdict line, every label's score and
threshold, the spans behind each flagged label, and what the model read when it is not the comment as
typed), a file tab (a UTF-8 or CP949 .txt or .tsv in; the JSONL that predict.py would write and a CSV
that Excel opens in Korean out, with a preview of the flagged rows and a progress bar) and a model
panel (where the data came from, the backend, members and weights, every label's threshold and test
F1, the test macro F1 with its interval, how many times the test split was scored, the licence). Private by default: bound to 127.0.0.1, no share link, no analytics,
no fonts or scripts from a CDN, no flagging. A missing ensemble folder ends with one line, exit code 2.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before anything imports Gradio
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.serving.arguments import AppArguments
from hf_trainer.serving.inference import Ensemble
from hf_trainer.utils.arguments import RecipeArgumentParser
from hf_trainer.utils.errors import UserError, run_recipe
from hf_trainer.utils.log import setup_logging


def main(argv: list[str] | None = None) -> int:
    (args,) = RecipeArgumentParser((AppArguments,)).parse(argv)
    setup_logging()
    if importlib.util.find_spec("gradio") is None:
        raise UserError('the app needs Gradio: pip install -e ".[app]"')
    from hf_trainer.serving.app import build_app, launch, test_metrics

    ensemble = Ensemble.from_pretrained(args.ensemble_dir, backend=args.backend)
    app = build_app(ensemble, test_metrics(args.ensemble_dir), lang=args.lang)
    try:
        launch(app, args.host, args.port)
    except OSError as err:  # the port is taken, or the address is not this machine's
        raise UserError(
            f"cannot serve on {args.host}:{args.port} ({err}); pass another --port or --host"
        ) from None
    return 0


if __name__ == "__main__":
    sys.exit(run_recipe(main))
