"""Structured logs: JSON lines, the rotating file, levels, redaction."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sidecar.daemon.logs import JsonFormatter, add_redactor, redact, redact_value
from tests.support import run_once


def _record(msg: str, **ctx: object) -> logging.LogRecord:
    record = logging.LogRecord("sidecar.test", logging.INFO, __file__, 1, msg, None, None)
    record.ctx = ctx  # type: ignore[attr-defined]
    return record


def test_formatter_writes_one_json_object() -> None:
    line = JsonFormatter().format(_record("hello", request_id=3, method="system.ping"))
    entry = json.loads(line)
    assert entry["msg"] == "hello" and entry["level"] == "info" and entry["logger"] == "sidecar.test"
    assert entry["request_id"] == 3 and entry["method"] == "system.ping"
    assert entry["ts"].endswith("Z")
    assert "\n" not in line


def test_secret_named_fields_are_masked() -> None:
    entry = json.loads(
        JsonFormatter().format(_record("x", password="hunter2", api_key="k", nested={"token": "t", "ok": 1}))
    )
    assert entry["password"] == "***" and entry["api_key"] == "***"
    assert entry["nested"] == {"token": "***", "ok": 1}


def test_registered_secret_values_are_masked_everywhere() -> None:
    redact_value("s3cr3t-value-for-test")
    entry = json.loads(
        JsonFormatter().format(_record("connecting with s3cr3t-value-for-test", detail=["a s3cr3t-value-for-test b"]))
    )
    assert "s3cr3t-value-for-test" not in json.dumps(entry)
    assert entry["msg"] == "connecting with ***"
    assert redact({"v": "s3cr3t-value-for-test"}) == {"v": "***"}


def test_redaction_hook() -> None:
    add_redactor(lambda ctx: {k: ("<hidden>" if k == "dsn_for_hook_test" else v) for k, v in ctx.items()})
    entry = json.loads(JsonFormatter().format(_record("x", dsn_for_hook_test="postgres://u:p@h/db")))
    assert entry["dsn_for_hook_test"] == "<hidden>"


def test_log_file_and_stderr_are_json_lines(data_dir: Path) -> None:
    proc = run_once(data_dir, b'{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n', "--log-level", "debug")
    stderr_entries = [json.loads(line) for line in proc.stderr.decode().splitlines()]
    assert any(e["msg"] == "ready" for e in stderr_entries)
    assert any(e["msg"] == "shutdown requested" and e["reason"] == "normal" for e in stderr_entries)
    file_entries = [json.loads(line) for line in (data_dir / "logs" / "sidecar.log").read_text().splitlines()]
    assert [e["msg"] for e in file_entries] == [e["msg"] for e in stderr_entries]


def test_log_level_filters(data_dir: Path) -> None:
    quiet = run_once(data_dir, b"", "--log-level", "error")
    assert quiet.stderr == b""
    loud = run_once(data_dir, b'{"jsonrpc":"2.0","method":"no.such"}\n', "--log-level", "debug")
    assert b"notification for unknown method ignored" in loud.stderr


def test_log_level_from_environment(data_dir: Path) -> None:
    from tests.support import sidecar_env

    proc = run_once(data_dir, b"", env=sidecar_env(SIDECAR_LOG_LEVEL="error"))
    assert proc.stderr == b""
