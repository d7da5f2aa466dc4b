"""Publish a finished run's ensemble bundle to the Hugging Face Hub (run_all.sh's last stage).

    python recipes/publish.py --output_dir outputs --hub_org ORG \
        --members outputs/kcelectra outputs/soongsilbert outputs/roberta \
        --member_repos ORG/unsmile-kcelectra ORG/unsmile-soongsilbert ORG/unsmile-roberta [--private]

Uploads each member's final model (the files its kind names: a transformer's weights, config,
tokenizer and results, a char n-gram member's two model files and results; no checkpoints, pickles
or predictions) to its repository, then ensemble.json with the members' Hub ids, the test report and a model card
to ORG/unsmile-ensemble. Members that their training run already pushed get a no-op commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_trainer.hub.publish import publish_bundle, publish_member, stage_bundle
from hf_trainer.utils.errors import InvalidArgument, run_recipe
from hf_trainer.utils.log import setup_logging


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output_dir", default="outputs", help="The run's output folder (holds ensemble/)")
    parser.add_argument("--hub_org", required=True, help="Hub user or organisation")
    parser.add_argument("--members", nargs="+", required=True, help="Member output folders, in order")
    parser.add_argument("--member_repos", nargs="+", required=True, help="Hub ids of the members, in order")
    parser.add_argument("--private", action="store_true", help="Create a private repository")
    args = parser.parse_args(argv)
    if len(args.members) != len(args.member_repos):
        raise InvalidArgument(f"{len(args.members)} --members for {len(args.member_repos)} --member_repos")
    setup_logging()
    out = Path(args.output_dir)
    repo_id = f"{args.hub_org}/unsmile-ensemble"
    member_repos = dict(zip(args.members, args.member_repos, strict=True))
    staging = stage_bundle(out / "ensemble", out / "hub_bundle", member_repos, repo_id)
    for member_dir, member_repo in zip(args.members, args.member_repos, strict=True):
        publish_member(member_dir, member_repo, private=args.private)
    publish_bundle(staging, repo_id, private=args.private)
    return repo_id


if __name__ == "__main__":
    sys.exit(run_recipe(main))
