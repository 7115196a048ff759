"""The process's life: configuration, paths, the instance lock, logs, signals, parent watch, watchdog, onefile clean-up."""
