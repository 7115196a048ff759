"""IANA time zones for cron triggers.

``zoneinfo`` reads the operating system's zone database first and falls back to the
``tzdata`` package, which ships in both binaries: Windows has no system database at all,
and a minimal Linux may lack ``/usr/share/zoneinfo``. The system's own zone name comes
from ``tzlocal`` (the ``TZ`` variable, ``/etc/localtime``, ``/etc/timezone``; the registry
mapped to IANA names on Windows), because the standard library only knows the zone's
abbreviation, which is ambiguous.

Loading a zone reads a small file once (zoneinfo caches it): callers on the event loop
use these functions from a worker thread.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sidecar.common.errors import ApplicationError

log = logging.getLogger("sidecar.schedules")

#: Used when the system's zone cannot be named.
FALLBACK_ZONE: Final = "UTC"
#: IANA names are ASCII words joined by ``/``; anything else (a path, ``..``) is refused before zoneinfo sees it.
_ZONE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")


def invalid_timezone(name: str, detail: str) -> ApplicationError:
    """The refusal of a zone name (-32000, kind ``invalid_timezone``)."""
    return ApplicationError(
        "invalid_timezone",
        f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin ({detail})",
        path="$.trigger.timezone",
        timezone=name,
        detail=detail,
    )


def load_zone(name: str) -> ZoneInfo:
    """The zone called ``name``, or ``invalid_timezone``."""
    if not _ZONE_NAME.match(name):
        raise invalid_timezone(name, "not an IANA zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise invalid_timezone(name, str(exc) or type(exc).__name__) from None


def system_zone_name() -> str:
    """The IANA name of the machine's zone now; ``UTC`` when it cannot be told (logged)."""
    import tzlocal  # with the engine, never before READY

    try:
        with warnings.catch_warnings():
            # tzlocal warns (and guesses) when TZ and the system files disagree: the guess is
            # checked below, and the warning would only reach stderr unstructured.
            warnings.simplefilter("ignore")
            # tzlocal caches the zone for the life of the process; a desktop's zone changes
            # when its user travels, and a new schedule should get the zone of the day.
            tzlocal.reload_localzone()
            name = tzlocal.get_localzone_name()
    except (OSError, LookupError, ValueError) as exc:
        log.warning("system time zone unknown; using UTC", extra={"ctx": {"error": str(exc)}})
        return FALLBACK_ZONE
    if not name:
        return FALLBACK_ZONE
    try:
        load_zone(name)
    except ApplicationError:
        log.warning("system time zone not in the zone database; using UTC", extra={"ctx": {"zone": name}})
        return FALLBACK_ZONE
    return name
