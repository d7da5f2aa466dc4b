#!/usr/bin/env bash
# The whole UnSmile pipeline: data -> KcELECTRA, SoongsilBERT, RoBERTa-base -> ensemble weights ->
# thresholds -> the one test evaluation -> summary. Resumable; `bash run_all.sh --help` for options.
#   bash run_all.sh --demo                      # tiny models, shipped sample, minutes on a CPU
#   bash run_all.sh --cpu --data_dir /path/to/unsmile  # char n-grams + e5-small from a package + the
#                                               # mention gate, no GPU
#   bash run_all.sh --data_dir /path/to/unsmile # the design's full run (about 15 h budget on one GPU)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="${here}${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python}" -m hf_trainer.pipeline "$@"
