"""Tauri tests: the .deb and the running app (need tauri-shell/scripts/e2e.sh to have built it)."""
