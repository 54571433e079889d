"""``.ci/run`` with stand-ins for ``id``, ``dpkg-query``, ``apt-get`` and ``python3.11`` on PATH: as root it installs
the test peers that are missing (and only those), leaves the system's services alone, then runs exactly the
README's test command; as another user it installs nothing."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("orthanc", "orthanc-dicomweb", "dcmtk", "dicom3tools", "xvfb", "xdotool", "imagemagick", "libxcb-icccm4",
         "libxcb-keysyms1", "libxcb-cursor0")
pytestmark = pytest.mark.skipif(os.name == "nt", reason="CI's script is POSIX sh")


def stand_ins(folder: Path, uid: int, installed: set[str]) -> Path:
    """Commands that record their arguments in ``calls.txt``; ``dpkg-query`` knows ``installed``."""
    folder.mkdir(parents=True)
    log = folder / "calls.txt"
    scripts = {
        "id": f'echo {uid}',
        "dpkg-query": 'for p in "$@"; do :; done; case " ' + " ".join(sorted(installed)) +
                      ' " in *" $p "*) printf "install ok installed";; *) exit 1;; esac',
        "apt-get": f'echo "apt-get $* policy=$(test -x "$CI_POLICY_RC_D" && echo set)" >> {log}',
        "python3.11": f'echo "python3.11 $* CI=$CI policy=$(test -e "$CI_POLICY_RC_D" && echo set)" >> {log}',
    }
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return log


def run_ci(tmp_path: Path, uid: int, installed: set[str]) -> list[str]:
    log = stand_ins(tmp_path / "bin", uid, installed)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "CI_POLICY_RC_D": str(tmp_path / "policy-rc.d")}
    done = subprocess.run(["sh", str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "policy-rc.d").exists()  # what it made for the installation is gone
    return log.read_text().splitlines()


def test_as_root_it_installs_what_is_missing_then_runs_the_readme_test_command(tmp_path: Path) -> None:
    calls = run_ci(tmp_path, 0, {"dcmtk", "xvfb"})
    install = [call for call in calls if call.startswith("apt-get") and " install " in call]
    assert len(install) == 1 and calls[0] == "apt-get update -q policy=set"
    assert install[0].endswith("policy=set")  # no package starts its system service (Orthanc's) meanwhile
    packages = install[0].split("--no-install-recommends")[1].replace("policy=set", "")
    assert set(re.findall(r"\S+", packages)) == set(PEERS) - {"dcmtk", "xvfb"}
    assert calls[-1] == "python3.11 bootstrap.py test CI=true policy="  # exactly the README's command, last
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3.11 bootstrap.py test " in readme


def test_nothing_is_installed_when_all_is_there_or_not_root(tmp_path: Path) -> None:
    assert run_ci(tmp_path / "a", 0, set(PEERS)) == ["python3.11 bootstrap.py test CI=true policy="]
    assert run_ci(tmp_path / "b", 1000, set()) == ["python3.11 bootstrap.py test CI=true policy="]
