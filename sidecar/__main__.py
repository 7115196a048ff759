"""``python -m sidecar``: run the stdio daemon."""

import sys

from sidecar.app.main import main

if __name__ == "__main__":
    sys.exit(main())
