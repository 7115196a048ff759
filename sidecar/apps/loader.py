"""Find the app packages and load them into the registry, before READY.

Where the list comes from, first match wins:

1. ``--app-module [NAME=]MODULE:FUNCTION`` (repeatable) or ``SIDECAR_APP_MODULES`` (comma
   separated; empty: no apps): the dev loop, an app run from its source folder;
2. a built binary: the list the build baked in (sidecar.daemon.build_info), so a binary
   never scans package metadata at start;
3. from source: the installed ``sidecar.apps`` entry points (``importlib.metadata``),
   the standard packaging mechanism, the same for an editable install and a wheel.

Loading imports each module and calls its function with an :class:`App`; any failure
(the module or function missing, ``register`` raising, a name that is taken) is an
:class:`AppLoadError`, which ``sidecar.app.main`` turns into exit status 6 with one
stderr line: a sidecar never serves with half of an app.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, cast

import msgspec

from sidecar.apps.registration import App, AppConflict, AppHook
from sidecar.daemon.build_info import BakedApp, BuildInfo
from sidecar.rpc.registry import Registry

if TYPE_CHECKING:
    from sidecar.jobs.types import JobType

#: The entry-point group app packages declare their register function in.
ENTRY_POINT_GROUP: Final = "sidecar.apps"
#: The standard path-based finder: the one whose distributions :func:`may_declare_apps` reads itself.
_STANDARD_PATH_FINDER: Final = importlib.machinery.PathFinder
_TARGET: Final = re.compile(r"^(?:(?P<name>[A-Za-z0-9_.-]+)=)?(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")


class AppLoadError(Exception):
    """An app package could not be loaded; ``app`` names it (its entry name or target)."""

    def __init__(self, app: str, message: str) -> None:
        super().__init__(f"app {app!r}: {message}")
        self.app = app


class LoadedApps(msgspec.Struct):
    """Every loaded app with what it added.

    apps: in load order. job_types: all their job types by name.
    """

    apps: list[App] = msgspec.field(default_factory=list)
    job_types: dict[str, JobType] = msgspec.field(default_factory=dict)

    @property
    def startup_hooks(self) -> list[AppHook]:
        """Every app's startup hooks, apps in load order."""
        return [hook for app in self.apps for hook in app.startup_hooks]

    @property
    def shutdown_hooks(self) -> list[AppHook]:
        """Every app's shutdown hooks, apps in load order."""
        return [hook for app in self.apps for hook in app.shutdown_hooks]


def app_entries(explicit: Sequence[str] | None, build: BuildInfo) -> list[BakedApp]:
    """The apps to load: ``explicit`` (the command line), else the baked list, else the entry points."""
    if explicit is not None:
        return [parse_target(text) for text in explicit]
    if build.apps is not None:
        return list(build.apps)
    return installed_entries()


def app_source(explicit: Sequence[str] | None, build: BuildInfo) -> str:
    """Where :func:`app_entries` takes the list from: ``command line``, ``build`` or ``entry points``."""
    if explicit is not None:
        return "command line"
    return "build" if build.apps is not None else "entry points"


def parse_target(text: str) -> BakedApp:
    """``[NAME=]MODULE:FUNCTION`` as an app entry; the name defaults to the module's top package."""
    match = _TARGET.match(text.strip())
    if match is None:
        raise AppLoadError(text, "expected [NAME=]MODULE:FUNCTION, e.g. wordfreq=wordfreq_app:register")
    module = match["module"]
    return BakedApp(name=match["name"] or module.partition(".")[0], target=f"{module}:{match['attr']}")


def installed_entries() -> list[BakedApp]:
    """The ``sidecar.apps`` entry points of the installed distributions, sorted by name."""
    if not may_declare_apps(sys.path, sys.meta_path):
        return []
    import importlib.metadata  # only here: a binary and an explicit list never pay for the scan

    found = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist
        found.append(
            BakedApp(
                name=entry.name,
                target=entry.value.replace(" ", ""),
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
        )
    return sorted(found, key=lambda app: app.name)


def may_declare_apps(search_path: Sequence[str], finders: Sequence[object]) -> bool:
    """False only when no distribution on ``search_path`` can declare a ``sidecar.apps`` entry point.

    A look at each folder's ``*.dist-info``/``*.egg-info`` ``entry_points.txt`` for the group's
    header: importing ``importlib.metadata`` (email, zipfile, csv, ...) and parsing every
    distribution's metadata took ~10-15 ms of a source start with no app installed, which this
    one pass of ``scandir`` and a few small reads replaces. Anything it cannot see through answers
    True, so the real scan decides: a zip or egg file on the path, an unreadable folder, or an
    import finder other than the standard one that can list distributions.
    """
    for finder in finders:
        if hasattr(finder, "find_distributions") and finder is not _STANDARD_PATH_FINDER:
            return True
    header = f"[{ENTRY_POINT_GROUP}]"
    for entry in search_path:
        folder = entry or os.getcwd()
        try:
            listing = os.scandir(folder)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            return True  # a zip or an egg: only importlib.metadata reads inside it
        except OSError:
            return True
        with listing:
            for item in listing:
                if not item.name.endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    with open(os.path.join(item.path, "entry_points.txt"), encoding="utf-8") as declared:
                        if header in declared.read():
                            return True
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except (OSError, UnicodeDecodeError):
                    return True
    return False


def load_apps(entries: Sequence[BakedApp], registry: Registry) -> LoadedApps:
    """Import and register each app into ``registry``; raises AppLoadError on the first failure."""
    loaded = LoadedApps()
    names: set[str] = set()
    for entry in entries:
        if entry.name in names:
            raise AppLoadError(entry.name, "two app packages have this name")
        names.add(entry.name)
        register = _register_function(entry)
        app = App(entry.name, registry, loaded.job_types, distribution=entry.distribution, version=entry.version)
        try:
            register(app)
        except AppConflict as exc:
            raise AppLoadError(entry.name, str(exc)) from exc
        except Exception as exc:  # whatever the app raised: it is not loaded, the sidecar does not start
            raise AppLoadError(entry.name, f"{entry.target} raised {type(exc).__name__}: {exc}") from exc
        loaded.apps.append(app)
    return loaded


def _register_function(entry: BakedApp) -> Callable[[App], object]:
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the module's own code failing at import
        raise AppLoadError(entry.name, f"cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    found: object = module
    for part in attr.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise AppLoadError(entry.name, f"{module_name} has no {attr}")
    if not callable(found):
        raise AppLoadError(entry.name, f"{entry.target} is not a function")
    return cast("Callable[[App], object]", found)
