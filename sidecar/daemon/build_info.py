"""What the build baked into a binary: the app name, the binary name, the app packages it holds.

A build (scripts/build-nuitka.sh, scripts/build-pyinstaller.sh) generates a module
``sidecar_build_info`` (build/buildinfo.py ``gen-module``) and compiles it into the
binary; from source there is none, and :func:`build_info` answers the defaults with
``apps=None``, which tells sidecar.apps to scan the installed entry points instead.
Baking the list in spares a binary the ``importlib.metadata`` scan at every start
(docs/ARCHITECTURE.md, "App packages").
"""

from __future__ import annotations

import functools
import importlib
from typing import Final

import msgspec

#: The app name of this repository's own app, used when nothing else names one.
DEFAULT_APP_NAME: Final = "PlutoDuck"
#: The generated module's name (a top-level module, so a work tree never has one by accident).
BUILD_INFO_MODULE: Final = "sidecar_build_info"


class BakedApp(msgspec.Struct, frozen=True):
    """One app package a binary was built with.

    name: its entry name (``sidecar.apps`` entry point name). target: ``module:function``.
    distribution, version: the distribution it was installed from.
    """

    name: str
    target: str
    distribution: str | None = None
    version: str | None = None


class BuildInfo(msgspec.Struct, frozen=True):
    """app_name: the default app name (data folder, keychain service; the extraction folder's name).
    binary_name: the externalBin name the binary was built for. apps: the app packages baked in,
    or None when running from source (then the entry points are scanned). frozen: a built binary.
    """

    app_name: str = DEFAULT_APP_NAME
    binary_name: str = "sidecar"
    apps: tuple[BakedApp, ...] | None = None
    frozen: bool = False


@functools.cache
def build_info() -> BuildInfo:
    """The baked build info of this binary, or the defaults from source."""
    try:
        # By name, not an import statement: the module exists only inside a build.
        module = importlib.import_module(BUILD_INFO_MODULE)
    except ModuleNotFoundError:
        return BuildInfo()
    return BuildInfo(
        app_name=str(module.APP_NAME),
        binary_name=str(module.BINARY_NAME),
        apps=tuple(BakedApp(*entry) for entry in module.APPS),
        frozen=True,
    )
