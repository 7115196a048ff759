#!/bin/sh
# Run a command inside a private D-Bus session with an unlocked Secret Service
# (gnome-keyring), so keyring's SecretService backend works headless, e.g.:
#
#   SIDECAR_REQUIRE_SECRET_SERVICE=1 scripts/with-secret-service.sh ./scripts/test.sh
#
# Needs Debian's gnome-keyring and dbus (dbus-run-session). The keyring lives in
# a throwaway folder (never the user's own login keyring, whose password we do
# not know) and is unlocked with a throwaway password; everything is gone when
# the command ends. The command's exit status is passed through.
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: $tool not found: apt-get install gnome-keyring dbus" >&2
        exit 127
    fi
done

keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/sidecar-keyring.XXXXXX")
trap 'rm -rf "$keyring_home"' EXIT INT TERM
export SIDECAR_KEYRING_HOME="$keyring_home"

# Inside the session: start the daemon with an unlocked "login" collection in
# the throwaway folder, wait until it owns org.freedesktop.secrets on the bus,
# then run the command (the daemon exits with the bus).
dbus-run-session -- sh -c '
    printf "%s" "sidecar-test-keyring" \
        | XDG_DATA_HOME="$SIDECAR_KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null
    tries=0
    until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 50 ]; then
            echo "with-secret-service: the Secret Service did not appear on the session bus" >&2
            exit 1
        fi
        sleep 0.1
    done
    unset SIDECAR_KEYRING_HOME
    exec "$@"
' with-secret-service "$@"
