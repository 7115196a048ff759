"""sidecar.apps without a process: the built-in job names, targets, the baked list, clashes."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from sidecar.api.surface import build_registry
from sidecar.apps.loader import AppLoadError, app_entries, load_apps, parse_target
from sidecar.daemon.build_info import BUILD_INFO_MODULE, BakedApp, BuildInfo, build_info
from sidecar.engine.builtin_job_names import BUILTIN_JOB_TYPE_NAMES
from sidecar.engine.job_types import job_types
from sidecar.pipelines.ledger import RunLedger
from sidecar.state.store import StateDB

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


def test_builtin_job_names_match_the_job_types(tmp_path: Path) -> None:
    ledger = RunLedger(StateDB(tmp_path / "state.sqlite3"))
    assert set(job_types(ledger)) == BUILTIN_JOB_TYPE_NAMES


def test_parse_target() -> None:
    assert parse_target("wordfreq_app:register") == BakedApp("wordfreq_app", "wordfreq_app:register")
    assert parse_target("wf=pkg.sub:make.register") == BakedApp("wf", "pkg.sub:make.register")
    for bad in ("wordfreq_app", "a b:c", "=x:y", "x:"):
        with pytest.raises(AppLoadError):
            parse_target(bad)


def test_the_list_comes_from_the_command_line_then_the_build() -> None:
    baked = BuildInfo(
        app_name="WordFreq", apps=(BakedApp("wordfreq", "wordfreq_app:register", "sidecar-wordfreq", "0.1.0"),)
    )
    assert app_entries(["x=y:z"], baked) == [BakedApp("x", "y:z")]
    assert app_entries([], baked) == []
    assert app_entries(None, baked) == list(baked.apps or ())


def test_from_source_there_is_no_build_info() -> None:
    assert build_info() == BuildInfo(app_name="PlutoDuck", binary_name="sidecar", apps=None, frozen=False)


def test_a_baked_module_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType(BUILD_INFO_MODULE)
    module.APP_NAME = "WordFreq"  # type: ignore[attr-defined]
    module.BINARY_NAME = "wf"  # type: ignore[attr-defined]
    module.APPS = [("wordfreq", "wordfreq_app:register", "sidecar-wordfreq", "0.1.0")]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, BUILD_INFO_MODULE, module)
    build_info.cache_clear()
    try:
        info = build_info()
    finally:
        build_info.cache_clear()
    assert info.app_name == "WordFreq" and info.binary_name == "wf" and info.frozen
    assert info.apps == (BakedApp("wordfreq", "wordfreq_app:register", "sidecar-wordfreq", "0.1.0"),)


def test_a_clash_names_both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    registry = build_registry()
    loaded = load_apps([BakedApp("probe", "probe_app:register")], registry)
    assert loaded.apps[0].methods == ["probe.echo", "probe.slow", "probe.fail", "probe.secret"]
    assert list(loaded.job_types) == ["probe.sleep"]
    assert registry.get("probe.echo") is not None and registry.get("probe.echo").app == "probe"  # type: ignore[union-attr]
    with pytest.raises(AppLoadError, match="already registered by app 'probe'"):
        load_apps([BakedApp("other", "probe_app:register_other")], registry)
    with pytest.raises(AppLoadError, match="two app packages have this name"):
        load_apps(
            [BakedApp("x", "probe_app:register_other"), BakedApp("x", "probe_app:register_other")], build_registry()
        )


def _dist(site: Path, name: str, entry_points: str | None) -> None:
    info = site / f"{name}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


def test_the_prefilter_sees_a_declared_app_and_only_then_scans(tmp_path: Path) -> None:
    from importlib.machinery import PathFinder

    from sidecar.apps.loader import may_declare_apps

    site = tmp_path / "site"
    _dist(site, "plain", None)
    _dist(site, "tool", "[console_scripts]\ntool = tool:main\n")
    search = [str(tmp_path / "absent"), str(site)]
    assert may_declare_apps(search, [PathFinder]) is False
    _dist(site, "app", "[console_scripts]\nx = y:z\n\n[sidecar.apps]\napp = app_pkg:register\n")
    assert may_declare_apps(search, [PathFinder]) is True


def test_the_prefilter_defers_to_the_real_scan_where_it_cannot_see(tmp_path: Path) -> None:
    from importlib.machinery import PathFinder

    from sidecar.apps.loader import may_declare_apps

    (tmp_path / "site").mkdir()
    zipped = tmp_path / "bundle.zip"
    zipped.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip archive
    assert may_declare_apps([str(tmp_path / "site"), str(zipped)], [PathFinder]) is True
    egg = tmp_path / "site" / "old.egg-info"
    egg.mkdir()
    (egg / "entry_points.txt").write_text("[sidecar.apps]\nold = old:register\n")
    assert may_declare_apps([str(tmp_path / "site")], [PathFinder]) is True

    class OtherFinder:
        def find_distributions(self, *args: object) -> list[object]:
            return []

    assert may_declare_apps([], [PathFinder, OtherFinder()]) is True


def test_without_apps_installed_the_scan_is_skipped_and_agrees_with_importlib_metadata() -> None:
    import importlib.metadata

    from sidecar.apps.loader import ENTRY_POINT_GROUP, installed_entries, may_declare_apps

    declared = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    assert may_declare_apps(sys.path, sys.meta_path) is bool(declared)
    assert [app.name for app in installed_entries()] == sorted(entry.name for entry in declared)
