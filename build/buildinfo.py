#!/usr/bin/env python3
"""Build-time helpers shared by scripts/build-nuitka.sh and scripts/build-pyinstaller.sh.

Sub-commands (all print to stdout):
    version             the sidecar version, read from sidecar/_version.py (not imported)
    build-id            short hash of everything that goes into a binary (see build_id())
    triple              the Rust target triple for the binary name (rustc -vV, else derived)
    exe-suffix          ".exe" on Windows, "" elsewhere
    list FILE           the names in a build/*.txt list, one a line, comments dropped
    check-report PATH   fail if a build took in modules from outside the runtime dependencies
                        (--app-dist NAME: the app's distribution and its dependencies count too)
    app-info PATH       an app package's identity as shell assignments (APP_DIST, APP_SLUG, ...)
    gen-module ...      write the sidecar_build_info module a binary is built with
    manifest ...        write dist/<packager>/manifest.json (see --help)

The builds run it with their build env's Python (dist/build-env/<packager>/, made
from uv.lock by scripts/build-env.sh), so "installed" below means installed there.

Only the standard library is used, so any Python 3.11+ can run it.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent
REPO = BUILD_DIR.parent
VERSION_FILE = REPO / "sidecar" / "_version.py"
UV_LOCK = REPO / "uv.lock"

#: The app name of this repository's own app: a build without --app (and without --app-name)
#: is PlutoDuck (its extraction folder {CACHE_DIR}/PlutoDuck/sidecar/..., data folder, keychain).
DEFAULT_APP_NAME = "PlutoDuck"
DEFAULT_BINARY_NAME = "sidecar"
#: The entry-point group app packages register in (sidecar/apps/loader.py).
APP_GROUP = "sidecar.apps"
#: App and binary names go into folder and file names: keep them to this.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


def read_version(path: Path = VERSION_FILE) -> str:
    """Return ``__version__`` from sidecar/_version.py without importing the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "__version__":
                value = ast.literal_eval(node.value)  # type: ignore[arg-type]
                if not isinstance(value, str) or not value:
                    break
                return value
    raise SystemExit(f"error: no string __version__ in {path}")


def build_id(extra: list[str] | None = None, trees: list[Path] | None = None) -> str:
    """A short hash of the inputs that decide a binary's contents.

    Covers the sidecar package's files, the build inputs in build/, the build
    scripts, the installed distributions of the build Python (name==version)
    and the Python version, plus ``extra`` strings (e.g. the packager version, the app name)
    and the files under ``trees`` (an app package's folder: its code may change without its version).
    Same sources and environment -> same id, so a rebuild of unchanged sources
    reuses its extraction folder; any change -> a new folder, so a new build
    never has to overwrite files that a running older build is executing.
    """
    import importlib.metadata

    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(label.encode() + b"\0" + hashlib.sha256(data).digest())

    roots = [REPO / "sidecar"]
    files = sorted(
        p
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )
    files += sorted(p for p in BUILD_DIR.iterdir() if p.is_file() and p.suffix in (".py", ".txt", ".spec"))
    # The exec launcher's sources and packer decide the one file's first bytes and its format.
    files += sorted(
        p
        for p in (BUILD_DIR / "launcher").rglob("*")
        if p.is_file()
        and "target" not in p.relative_to(BUILD_DIR).parts
        and (p.name in ("Cargo.toml", "Cargo.lock", "pack.py") or p.suffix == ".rs")
    )
    files += sorted((REPO / "scripts").glob("build-*.sh"))
    for path in files:
        add(str(path.relative_to(REPO)), path.read_bytes())
    for tree in trees or []:
        for path in _tree_files(tree):
            add(f"tree:{path.relative_to(tree)}", path.read_bytes())
    dists = sorted(f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in importlib.metadata.distributions())
    add("distributions", "\n".join(dists).encode())
    add("python", sys.version.encode())
    for item in extra or []:
        add("extra", item.encode())
    return digest.hexdigest()[:10]


def _tree_files(tree: Path) -> list[Path]:
    """An app folder's source files (no caches, build leftovers or egg-info)."""
    skip = {"__pycache__", "build", "dist", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    return sorted(
        p
        for p in tree.rglob("*")
        if p.is_file()
        and not skip.intersection(p.relative_to(tree).parts)
        and not any(part.endswith(".egg-info") for part in p.parts)
        and p.suffix not in (".pyc", ".pyo")
    )


def derive_triple() -> str:
    """The target triple Rust would use for this machine (used when rustc is absent)."""
    machine = platform.machine().lower()
    arch = {
        "x86_64": "x86_64",
        "amd64": "x86_64",
        "aarch64": "aarch64",
        "arm64": "aarch64",
        "i386": "i686",
        "i686": "i686",
        "x86": "i686",
        "armv7l": "armv7",
    }.get(machine, machine)
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    if sys.platform.startswith("linux"):
        libc, _ = platform.libc_ver()
        env = "gnu" if libc == "glibc" else "musl"
        if arch == "armv7":
            env += "eabihf"
        return f"{arch}-unknown-linux-{env}"
    raise SystemExit(f"error: cannot derive a target triple for {sys.platform}/{machine}; install rustc")


def target_triple() -> str:
    """The ``host:`` line of ``rustc -vV`` when rustc is on PATH, else :func:`derive_triple`."""
    rustc = shutil.which("rustc")
    if rustc:
        try:
            out = subprocess.run([rustc, "-vV"], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = ""
        for line in out.splitlines():
            if line.startswith("host:"):
                return line.split(":", 1)[1].strip()
    return derive_triple()


def read_list(path: Path) -> list[str]:
    """Names from a build/*.txt list: one a line, blank lines and '#' comments dropped."""
    names = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        name = raw.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    try:
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        dirty = ""
    return out + ("-dirty" if dirty else "")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(args: argparse.Namespace) -> None:
    binary = Path(args.binary)
    command = json.loads(Path(args.command_json).read_text(encoding="utf-8"))
    size = binary.stat().st_size
    manifest = {
        "packager": args.packager,
        "packager_version": args.packager_version,
        # launcher: build/launcher execs the unpacked program (one process); nuitka/pyinstaller:
        # the packager's bootstrap, which forks the Python child and waits for it.
        "bootstrap": args.bootstrap or args.packager,
        "sidecar_version": read_version(),
        "command": command,
        "command_line": shlex.join(command),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sys.platform,
        "platform_detail": platform.platform(),
        "arch": platform.machine(),
        "target_triple": args.triple,
        "binary": str(binary.relative_to(REPO)) if binary.is_relative_to(REPO) else str(binary),
        "binary_size_bytes": size,
        "binary_size_mb": round(size / 1_000_000, 2),
        "sha256": sha256(binary),
        "build_seconds": round(float(args.seconds), 1),
        "ccache": args.ccache or None,
        "extraction_dir": args.extraction_dir or None,
        "build_id": args.build_id or None,
        # The lock the build env was made from, and that env itself.
        "uv_lock_sha256": sha256(UV_LOCK) if UV_LOCK.is_file() else None,
        "uv_version": args.uv_version or None,
        "build_env": build_env(Path(args.build_env)) if args.build_env else None,
        "git_commit": git_commit(),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "app_name": args.app_name,
        "binary_name": args.binary_name,
        "app": _manifest_app(args.app_dist, args.app_path) if args.app_dist else None,
    }
    out = Path(args.out)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)


def _manifest_app(dist: str, path: str) -> dict[str, object]:
    """The app package a binary holds: its distribution, version, source folder, entry points
    and its installed dependency closure (name==version)."""
    import importlib.metadata as md

    folder = Path(path).resolve() if path else None
    return {
        "distribution": md.distribution(dist).metadata["Name"] or dist,
        "version": md.version(dist),
        "path": (str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else str(folder)) if folder else None,
        "entry_points": [{"name": name, "target": target} for name, target, _, _ in installed_app_entries(dist)],
        "dependencies": dependency_closure(dist),
    }


def build_env(path: Path) -> dict[str, object]:
    """The build env this Python runs in: where, which Python, and every distribution in it.

    Only the env's own site-packages count: the work tree on PYTHONPATH may hold a
    stale ``sidecar.egg-info`` from the dev venv's editable install.
    """
    import importlib.metadata as md
    import sysconfig

    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {
        "path": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
        "python_version": platform.python_version(),
        "python_executable": sys.executable,
        "base_python": getattr(sys, "_base_executable", None) or sys.base_prefix,
        "packages": sorted(
            {f"{_dist_name(d.metadata['Name'] or '')}=={d.version}" for d in md.distributions(path=site)}
        ),
    }


def _dist_name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised (PEP 503)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", name.group(1)).lower() if name else ""


def runtime_closure(app_dists: list[str] | None = None) -> set[str]:
    """Normalised names of the runtime dependencies in pyproject.toml and everything they require,
    plus each installed app distribution in ``app_dists`` and everything it requires.

    Requirements that only apply to an extra are left out; other markers
    (platform, Python version) are kept: allowing too much here only weakens
    the check, never breaks a build.
    """
    import importlib.metadata as md
    import tomllib

    roots = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    seen = {"sidecar"}
    todo = [_dist_name(r) for r in roots] + [_dist_name(d) for d in app_dists or []]
    while todo:
        name = todo.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        todo += [_dist_name(r) for r in requires if "extra ==" not in r.partition(";")[2]]
    return seen


def check_report(path: Path, app_dists: list[str] | None = None) -> list[str]:
    """Modules a build put in the binary that come from outside the runtime closure.

    ``path`` is Nuitka's compilation report (XML, each module names its
    distribution) or PyInstaller's work folder (its PYZ/PKG tables of contents,
    mapped to distributions by top-level package). Both packagers follow
    optional imports of whatever the build's Python has installed (issue-log
    0019: uvloop through anyio, attrs through msgspec); this catches the next
    one before it ships.
    """
    allowed = runtime_closure(app_dists)
    strays = []
    for module, dists in _modules_with_distributions(path):
        outside = [d for d in dists if _dist_name(d) not in allowed]
        if dists and len(outside) == len(dists):
            strays.append(f"{module} (from {', '.join(outside)})")
    return strays


def _modules_with_distributions(path: Path) -> list[tuple[str, list[str]]]:
    """(module, the distributions it may come from) for every module a build took in."""
    if path.is_dir():
        import importlib.metadata as md

        owners = md.packages_distributions()  # top-level import name -> distributions
        found = []
        for toc in ("PYZ-00.toc", "PKG-00.toc"):
            for part in ast.literal_eval((path / toc).read_text(encoding="utf-8")):
                if not isinstance(part, list):
                    continue
                for entry in part:
                    if len(entry) == 3 and entry[2] in ("PYMODULE", "EXTENSION"):
                        top = entry[0].split("/")[0].split(".")[0]  # "msgspec/_core.cpython-311-....so" too
                        found.append((entry[0], list(owners.get(top, []))))
        return found
    import xml.etree.ElementTree as ET

    return [
        (module.get("name", "?"), module.get("distribution", "").split(",") if module.get("distribution") else [])
        for module in ET.parse(path).getroot().iter("module")
    ]


def read_app(path: Path) -> dict[str, object]:
    """An app package's identity from its pyproject.toml: distribution, version, entry points,
    requirements, ``[tool.sidecar]`` app-name and binary-name. Fails (SystemExit) on what a build
    cannot use: no sidecar.apps entry point, a name unfit for a folder, ``sidecar`` as a dependency."""
    import tomllib

    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise SystemExit(f"error: --app {path}: no pyproject.toml there")
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project", {})
    tool = data.get("tool", {}).get("sidecar", {})
    name = project.get("name")
    if not name:
        raise SystemExit(f"error: {pyproject}: [project] has no name")
    entries = dict(project.get("entry-points", {}).get(APP_GROUP, {}))
    if not entries:
        raise SystemExit(f'error: {pyproject}: no [project.entry-points."{APP_GROUP}"] (the register function)')
    requires = list(project.get("dependencies", []))
    if any(_dist_name(r) == "sidecar" for r in requires):
        raise SystemExit(
            f"error: {pyproject}: do not list 'sidecar' in dependencies: the build provides this work tree's "
            "sidecar (a 'sidecar' from PyPI is another project)"
        )
    app_name = str(tool.get("app-name", DEFAULT_APP_NAME))
    binary_name = str(tool.get("binary-name", DEFAULT_BINARY_NAME))
    for label, value in (("app-name", app_name), ("binary-name", binary_name)):
        if not _SAFE_NAME.match(value):
            raise SystemExit(f"error: {pyproject}: [tool.sidecar] {label} {value!r}: letters, digits, ' ._-' only")
    if "version" in project.get("dynamic", []):
        raise SystemExit(f"error: {pyproject}: give the app a static [project] version (it names the build)")
    return {
        "distribution": name,
        "version": str(project.get("version", "")),
        "entries": entries,
        "requires": requires,
        "app_name": app_name,
        "binary_name": binary_name,
        "slug": sorted(entries)[0],
        "packages": sorted({target.split(":")[0].split(".")[0].strip() for target in entries.values()}),
    }


def app_shell(path: Path, app_name_override: str) -> str:
    """read_app as shell assignments for the build scripts (values quoted)."""
    app = read_app(path)
    app_name = app_name_override or str(app["app_name"])
    if not _SAFE_NAME.match(app_name):
        raise SystemExit(f"error: --app-name {app_name!r}: letters, digits, ' ._-' only")
    slug = str(app["slug"])
    if app_name_override and app_name_override != app["app_name"]:
        slug += "-" + re.sub(r"[^a-z0-9._-]", "_", app_name.lower())  # never overwrites the app's own build
    values = {
        "APP_DIST": app["distribution"],
        "APP_VERSION": app["version"],
        "APP_NAME": app_name,
        "BINARY_NAME": app["binary_name"],
        "APP_SLUG": slug,
        "APP_PACKAGES": " ".join(app["packages"]),  # type: ignore[arg-type]
    }
    return "\n".join(f"{key}={shlex.quote(str(value))}" for key, value in values.items())


def installed_app_entries(dist: str) -> list[tuple[str, str, str, str]]:
    """The sidecar.apps entry points of installed distribution ``dist``: (name, target, dist, version)."""
    import importlib.metadata as md

    found = md.distribution(dist)
    return sorted(
        (ep.name, ep.value.replace(" ", ""), found.metadata["Name"] or dist, found.version)
        for ep in found.entry_points
        if ep.group == APP_GROUP
    )


def dependency_closure(dist: str) -> list[str]:
    """``name==version`` of every installed distribution ``dist`` requires, transitively (not ``dist``)."""
    import importlib.metadata as md

    seen: dict[str, str] = {}
    todo = [_dist_name(r) for r in md.requires(dist) or [] if "extra ==" not in r.partition(";")[2]]
    while todo:
        name = todo.pop()
        if not name or name in seen:
            continue
        try:
            found = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # a requirement whose marker excludes this platform
        seen[name] = found.version
        todo += [_dist_name(r) for r in found.requires or [] if "extra ==" not in r.partition(";")[2]]
    return sorted(f"{name}=={version}" for name, version in seen.items())


def write_build_module(out: Path, app_name: str, binary_name: str, app_dist: str) -> None:
    """The ``sidecar_build_info`` module (sidecar/daemon/build_info.py reads it in the binary)."""
    apps = installed_app_entries(app_dist) if app_dist else []
    if app_dist and not apps:
        raise SystemExit(f"error: the installed {app_dist} has no {APP_GROUP} entry point")
    text = (
        '"""Generated by build/buildinfo.py gen-module for one build; read by sidecar.daemon.build_info."""\n\n'
        f"APP_NAME = {app_name!r}\n"
        f"BINARY_NAME = {binary_name!r}\n"
        f"APPS = {apps!r}\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("version")
    bid = sub.add_parser("build-id")
    bid.add_argument("extra", nargs="*", help="more strings to hash (packager name and version)")
    sub.add_parser("triple")
    sub.add_parser("exe-suffix")
    rep = sub.add_parser("check-report", help="fail if a build took in modules from outside the runtime dependencies")
    rep.add_argument(
        "report", help="Nuitka's compilation-report.xml, or PyInstaller's work folder (holding PYZ-00.toc)"
    )
    rep.add_argument("--app-dist", default="", help="an installed app distribution whose dependencies may ship too")
    bid.add_argument("--tree", action="append", default=[], help="a folder whose files are hashed too (an app)")
    app = sub.add_parser("app-info")
    app.add_argument("path")
    app.add_argument("--app-name", default="", help="overrides [tool.sidecar] app-name")
    gen = sub.add_parser("gen-module")
    gen.add_argument("--out", required=True)
    gen.add_argument("--app-name", default=DEFAULT_APP_NAME)
    gen.add_argument("--binary-name", default=DEFAULT_BINARY_NAME)
    gen.add_argument("--app-dist", default="", help="the installed app distribution baked in (none: no apps)")
    lst = sub.add_parser("list")
    lst.add_argument("file")
    man = sub.add_parser("manifest")
    man.add_argument("--packager", required=True)
    man.add_argument(
        "--bootstrap", default="", help="what the one file starts with: launcher (build/launcher) or the packager's own"
    )
    man.add_argument("--packager-version", required=True)
    man.add_argument("--binary", required=True)
    man.add_argument("--triple", required=True)
    man.add_argument("--seconds", required=True)
    man.add_argument("--command-json", required=True, help="file holding the packager argv as a JSON list")
    man.add_argument("--ccache", default="")
    man.add_argument("--extraction-dir", default="")
    man.add_argument("--build-id", default="")
    man.add_argument("--build-env", default="", help="the build env's folder (its packages are listed)")
    man.add_argument("--uv-version", default="")
    man.add_argument("--app-name", default=DEFAULT_APP_NAME)
    man.add_argument("--binary-name", default=DEFAULT_BINARY_NAME)
    man.add_argument("--app-dist", default="", help="the installed app distribution the binary holds")
    man.add_argument("--app-path", default="", help="the app package's folder (--app)")
    man.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    if args.cmd == "version":
        print(read_version())
    elif args.cmd == "build-id":
        print(build_id(args.extra, [Path(tree) for tree in args.tree]))
    elif args.cmd == "app-info":
        print(app_shell(Path(args.path), args.app_name))
    elif args.cmd == "gen-module":
        write_build_module(Path(args.out), args.app_name, args.binary_name, args.app_dist)
    elif args.cmd == "triple":
        print(target_triple())
    elif args.cmd == "exe-suffix":
        print(".exe" if sys.platform == "win32" else "")
    elif args.cmd == "check-report":
        strays = check_report(Path(args.report), [args.app_dist] if args.app_dist else None)
        if strays:
            print(
                "build: modules from outside the runtime dependencies went into the binary "
                "(add them to build/exclude-modules.txt, or to pyproject.toml if the sidecar needs them, "
                "or to the app's own dependencies if the app does):",
                *strays,
                sep="\n  ",
                file=sys.stderr,
            )
            return 1
    elif args.cmd == "list":
        path = Path(args.file)
        if not path.is_absolute() and not path.exists():
            path = BUILD_DIR / path
        print("\n".join(read_list(path)))
    elif args.cmd == "manifest":
        write_manifest(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
