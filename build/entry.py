"""Entry point compiled by both packagers (Nuitka and PyInstaller).

It is the same as ``python -m sidecar``: the CLI returns an exit status.
Kept outside the package so the packagers see one plain script and the
package itself needs no ``__main__`` tricks.
"""

from sidecar.app.main import main

raise SystemExit(main())
