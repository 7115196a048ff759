"""The configuration of a launch without arguments (which skips argparse) is exactly what the
parser gives for an empty command line, and the Config's repr never shows the host key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sidecar.daemon import args
from sidecar.daemon.args import build_parser, parse_config

ENVS: list[dict[str, str]] = [
    {},
    {"SIDECAR_APP_NAME": "Other", "SIDECAR_HEARTBEAT_INTERVAL": "0.25", "SIDECAR_LOG_LEVEL": "DEBUG"},
    {"SIDECAR_ALLOW_NETWORK": "1", "SIDECAR_APP_MODULES": "a=pkg.mod:register, b:reg", "SIDECAR_TEST_METHODS": "1"},
    {"SIDECAR_LOG_LEVEL": "nonsense", "SIDECAR_ALLOW_NETWORK": "yes"},  # passed through as the parser does
]
SETTINGS = (
    "SIDECAR_APP_NAME",
    "SIDECAR_HEARTBEAT_INTERVAL",
    "SIDECAR_LOG_LEVEL",
    "SIDECAR_ALLOW_NETWORK",
    "SIDECAR_APP_MODULES",
    "SIDECAR_TEST_METHODS",
    "SIDECAR_HOST_KEY",
)


@pytest.mark.parametrize("env", ENVS)
def test_no_arguments_gives_the_parsers_defaults(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["sidecar"])
    without_parser = parse_config()
    with_parser = vars(build_parser().parse_args([]))
    assert with_parser == args._defaults(dict(env))
    assert not isinstance(without_parser, int)
    assert without_parser.app_name == with_parser["app_name"]
    assert without_parser.heartbeat_interval == with_parser["heartbeat_interval"]
    assert without_parser.log_level == with_parser["log_level"]
    assert without_parser.allow_network == with_parser["allow_network"]
    assert without_parser.max_frame_bytes == with_parser["max_frame_bytes"]
    assert without_parser.test_methods == (env.get("SIDECAR_TEST_METHODS") == "1")
    if "SIDECAR_APP_MODULES" in env:
        assert without_parser.app_modules == ("a=pkg.mod:register", "b:reg")


def test_arguments_still_go_through_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIDECAR_HEARTBEAT_INTERVAL", raising=False)
    config = parse_config(["--heartbeat-interval", "2", "--max-inflight", "3", "--log-level", "WARNING"])
    assert not isinstance(config, int)
    assert (config.heartbeat_interval, config.max_inflight, config.log_level) == (2.0, 3, "warning")
    assert parse_config(["--max-inflight", "0"]) == 2  # a usage error, as before
    assert parse_config(["--version"]) == 0


def test_repr_leaves_the_host_key_out(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "k" * 40
    monkeypatch.setenv("SIDECAR_HOST_KEY", key)
    config = parse_config([])
    assert not isinstance(config, int)
    assert config.host_key == key
    assert key not in repr(config)
    assert "app_name=" in repr(config)


def test_the_parser_wraps_help_to_columns_and_loads_no_shutil() -> None:
    """argparse's own formatter imports shutil (and bz2, lzma) for the terminal width before
    READY; the sidecar's reads COLUMNS or the terminal itself (args._formatter) and wraps the
    help exactly as argparse's would."""
    code = (
        "import argparse, os, sys; os.environ['COLUMNS'] = '60'\n"
        "from sidecar.daemon.args import build_parser\n"
        "parser = build_parser()\n"
        "loaded = 'shutil' in sys.modules\n"
        "ours = parser.format_help()\n"
        "parser.formatter_class = argparse.HelpFormatter\n"
        "print(loaded, ours == parser.format_help())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"], out.stdout
