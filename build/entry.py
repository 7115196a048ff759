"""Entry point compiled by both packagers (Nuitka and PyInstaller).

It is the same as ``python -m sidecar``: the CLI returns an exit status.
Kept outside the package so the packagers see one plain script and the
package itself needs no ``__main__`` tricks.
"""

from sidecar.daemon import startup_gc

startup_gc.pause()  # before the server's imports: the start makes no garbage worth collecting

from sidecar.app.main import main  # noqa: E402

raise SystemExit(main())
