"""run_all.sh: the whole pipeline, resumable (`bash run_all.sh --help`).

The stage graph is built in `stages.py`, run by `runner.py`, summarised by `summary.py`. Before any
stage runs, this checks what would otherwise fail hours later: Hub access when publishing, and
whether the run would score the test split a second time without --rescore_test.
"""

from __future__ import annotations

import logging
import sys
import time

from ..evaluation.test_once import read_history, refusal
from ..utils import io
from ..utils.errors import UserError
from .runner import StageFailed, StageRunner
from .stages import PipelineOptions, StageGraph, parse_options
from .summary import build_summary, log_summary

logger = logging.getLogger(__name__)


def check_test_not_rescored(options: PipelineOptions, runner: StageRunner, stages: list) -> None:
    """Refuse, before any training, a run that would score the test split of this folder again."""
    evaluate = next((s for s in stages if s.name == "evaluate_test"), None)
    if evaluate is None:  # --stop_after before it: this run scores no test row
        return
    history = read_history(runner.out / "ensemble")
    if history["count"] and not options.rescore_test and not runner.is_done(evaluate):
        if runner.started_before(evaluate):
            # This very configuration's evaluation started and failed (after scoring, or before): running
            # it again chooses nothing new, so it is allowed, and counted again.
            logger.warning(
                "The test evaluation of this configuration started before and did not finish: it runs again "
                "and is counted again (%d so far)", history["count"],
            )  # fmt: skip
            evaluate.run_only_args = ["--force"]
            return
        raise UserError(
            "This run would score the test split again: its configuration differs from the last finished "
            "run in this output folder (or that run's markers are missing), and the test split was already "
            "scored. "
            + refusal(history, "--rescore_test")
            + " Or choose a new --output_dir for a new experiment."
        )


def run_pipeline(options: PipelineOptions) -> dict:
    stages = StageGraph(options).stages()
    runner = StageRunner(options.output_dir)
    check_test_not_rescored(options, runner, stages)
    if options.push_to_hub:
        from ..hub.publish import check_hub_access

        account = check_hub_access()
        logger.info("Hub access checked (account %s); publishing to %s", account, options.hub_org)
    start = time.perf_counter()
    timings = runner.run(stages)
    summary = build_summary(options, timings, time.perf_counter() - start)
    io.write_json(runner.out / "summary.json", summary)
    log_summary(summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    from ..utils.log import setup_logging

    setup_logging()
    options = parse_options(list(sys.argv[1:] if argv is None else argv))
    try:
        run_pipeline(options)
    except StageFailed as err:
        logger.error("%s", err)
        logger.error("Earlier stages' results are kept; fix the cause and run the same command again.")
        return 1
    except KeyboardInterrupt:
        logger.error(
            "Interrupted. Finished stages are kept; run the same command again to go on (a training resumes "
            "from its last checkpoint)."
        )
        return 130
    except UserError as err:
        if options.debug:
            logger.exception("Traceback (--debug)")
        logger.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
