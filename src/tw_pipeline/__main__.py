"""Allow `python -m tw_pipeline`."""

import sys

from tw_pipeline.cli.app import main

sys.exit(main())
