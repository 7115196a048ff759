"""Process exit statuses (documented in docs/PROTOCOL.md)."""

from typing import Final

#: normal, signal and parent_exit shutdowns.
OK: Final = 0
#: a fatal error inside the sidecar (SHUTDOWN reason=error was written if BOOT was).
FATAL: Final = 1
#: bad command-line arguments (usage on stderr, nothing on stdout).
USAGE: Final = 2
#: another live sidecar holds the data dir's lock.
DATA_DIR_LOCKED: Final = 3
#: the data, log or cache folder cannot be created or written.
DATA_DIR_UNUSABLE: Final = 4
#: a shutdown overran its deadline and the process ended itself hard.
FORCED: Final = 5
#: an app package failed to load (stderr names it and why; stdout: BOOT, SHUTDOWN reason=error).
APP_LOAD_FAILED: Final = 6
#: the binary is damaged (no payload, a payload that fails its checksum, a program that cannot
#: be executed). Never returned by Python code: the exec launcher (build/launcher) exits with it
#: before Python starts. Listed here so the table has one home in the code.
BINARY_DAMAGED: Final = 7
