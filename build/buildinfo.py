#!/usr/bin/env python3
"""Build-time helpers shared by scripts/build-nuitka.sh and scripts/build-pyinstaller.sh.

Sub-commands (all print to stdout):
    version             the sidecar version, read from sidecar/_version.py (not imported)
    build-id            short hash of everything that goes into a binary (see build_id())
    triple              the Rust target triple for the binary name (rustc -vV, else derived)
    exe-suffix          ".exe" on Windows, "" elsewhere
    list FILE           the names in a build/*.txt list, one a line, comments dropped
    check-report PATH   fail if a build took in modules from outside the runtime dependencies
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

#: Product name used for the extraction cache folder (…/PlutoDuck/sidecar/<version>).
PRODUCT = "PlutoDuck"


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


def build_id(extra: list[str] | None = None) -> str:
    """A short hash of the inputs that decide a binary's contents.

    Covers the sidecar package's files, the build inputs in build/, the build
    scripts, the installed distributions of the build Python (name==version)
    and the Python version, plus ``extra`` strings (e.g. the packager version).
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
    files += sorted((REPO / "scripts").glob("build-*.sh"))
    for path in files:
        add(str(path.relative_to(REPO)), path.read_bytes())
    dists = sorted(f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in importlib.metadata.distributions())
    add("distributions", "\n".join(dists).encode())
    add("python", sys.version.encode())
    for item in extra or []:
        add("extra", item.encode())
    return digest.hexdigest()[:10]


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
    }
    out = Path(args.out)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)


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


def runtime_closure() -> set[str]:
    """Normalised names of the runtime dependencies in pyproject.toml and everything they require.

    Requirements that only apply to an extra are left out; other markers
    (platform, Python version) are kept: allowing too much here only weakens
    the check, never breaks a build.
    """
    import importlib.metadata as md
    import tomllib

    roots = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    seen = {"sidecar"}
    todo = [_dist_name(r) for r in roots]
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


def check_report(path: Path) -> list[str]:
    """Modules a build put in the binary that come from outside the runtime closure.

    ``path`` is Nuitka's compilation report (XML, each module names its
    distribution) or PyInstaller's work folder (its PYZ/PKG tables of contents,
    mapped to distributions by top-level package). Both packagers follow
    optional imports of whatever the build's Python has installed (issue-log
    0019: uvloop through anyio, attrs through msgspec); this catches the next
    one before it ships.
    """
    allowed = runtime_closure()
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
    lst = sub.add_parser("list")
    lst.add_argument("file")
    man = sub.add_parser("manifest")
    man.add_argument("--packager", required=True)
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
    man.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    if args.cmd == "version":
        print(read_version())
    elif args.cmd == "build-id":
        print(build_id(args.extra))
    elif args.cmd == "triple":
        print(target_triple())
    elif args.cmd == "exe-suffix":
        print(".exe" if sys.platform == "win32" else "")
    elif args.cmd == "check-report":
        strays = check_report(Path(args.report))
        if strays:
            print(
                "build: modules from outside the runtime dependencies went into the binary "
                "(add them to build/exclude-modules.txt, or to pyproject.toml if the sidecar needs them):",
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
