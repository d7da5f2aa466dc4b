"""`python -m hf_trainer.pipeline` (what run_all.sh runs)."""

import sys

from .run_all import main

sys.exit(main())
