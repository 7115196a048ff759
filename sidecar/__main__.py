"""``python -m sidecar``: run the stdio daemon."""

import sys

from sidecar.daemon import startup_gc

startup_gc.pause()  # before the server's imports: the start makes no garbage worth collecting

from sidecar.app.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
