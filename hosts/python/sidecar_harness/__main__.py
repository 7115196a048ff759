"""``python -m sidecar_harness``."""

import sys

from sidecar_harness.cli import main

sys.exit(main())
