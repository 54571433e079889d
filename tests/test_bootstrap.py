"""bootstrap.py on a fresh desktop: when Qt's X11 plugin cannot load, it names the system packages to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bootstrap

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f01)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f02)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-frobnicate.so.9 => not found
\tlibX11.so.6 => /lib/x86_64-linux-gnu/libX11.so.6 (0x00007f03)
"""


def _fake_run(plugin: Path, ldd_output: str, calls: list[list[str]]):
    def run(command: list[str], **_kwargs) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        out = str(plugin) + "\n" if command[0] != "ldd" else ldd_output
        return subprocess.CompletedProcess(command, 0, out, "")
    return run


@pytest.fixture()
def linux_with_ldd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: "/usr/bin/ldd" if name == "ldd" else None)


def test_missing_libraries_are_read_from_ldd() -> None:
    assert bootstrap.missing_libraries(LDD) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-frobnicate.so.9"]
    assert bootstrap.missing_libraries(LDD.replace("not found", "/lib/x.so (0x1)")) == []


def test_missing_qt_libraries_name_the_debian_packages(tmp_path: Path, linux_with_ldd: None) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    calls: list[list[str]] = []
    message = bootstrap.qt_platform_problem("/venv/bin/python", {"DISPLAY": ":0"}, _fake_run(plugin, LDD, calls))
    assert calls[0][0] == "/venv/bin/python" and calls[1] == ["ldd", str(plugin)]  # the venv's PySide6, checked apart
    assert message is not None
    assert "    sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in message
    assert "libxcb-frobnicate.so.9" in message and "apt-file search" in message  # one without a known package
    assert "run bootstrap.py again" in message


@pytest.mark.parametrize("env", [{}, {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
                                 {"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}])
def test_nothing_is_checked_without_an_x_display(tmp_path: Path, linux_with_ldd: None, env: dict[str, str]) -> None:
    calls: list[list[str]] = []
    assert bootstrap.qt_platform_problem("/venv/bin/python", env, _fake_run(tmp_path / "p.so", LDD, calls)) is None
    assert calls == []


def test_a_complete_desktop_passes(tmp_path: Path, linux_with_ldd: None) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    complete = LDD.replace("=> not found", "=> /lib/x86_64-linux-gnu/present.so (0x1)")
    assert bootstrap.qt_platform_problem("/venv/bin/python", {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"},
                                         _fake_run(plugin, complete, [])) is None


def test_the_viewer_is_not_started_when_qt_cannot_load(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bootstrap, "ensure_installed", lambda: None)
    monkeypatch.setattr(bootstrap, "qt_platform_problem", lambda _python: "install libxcb-icccm4")
    monkeypatch.delenv("CI", raising=False)

    def no_start(*_args, **_kwargs):
        raise AssertionError("the viewer must not be started")

    monkeypatch.setattr(bootstrap.subprocess, "run", no_start)
    assert bootstrap.main([]) == 1
    assert "install libxcb-icccm4" in capsys.readouterr().err
