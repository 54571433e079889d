"""The ``pneumollm`` entry point: subcommands exist, --json, one-line failures without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from commands import SUBCOMMANDS

CLI = [sys.executable, "-m", "commands"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_all_subcommands_are_listed() -> None:
    assert list(SUBCOMMANDS) == ["gui", "inspect", "segment", "predict", "triage", "train", "evaluate", "models",
                                 "serve", "worklist", "pacs", "zones", "report", "readings"]
    out = run_cli("--help").stdout
    for name in SUBCOMMANDS:
        assert name in out


def test_inspect_json_on_real_dicom(dicom_dir: Path, tmp_path: Path) -> None:
    result = run_cli("inspect", str(dicom_dir / "RG1_J2KR.dcm"), "--json", "--png", str(tmp_path / "o.png"))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["error"] is None
    assert payload["modality"] == "CR" and payload["view"] == "PA"
    assert payload["photometric_interpretation"] == "MONOCHROME1"
    assert payload["transfer_syntax"] == "1.2.840.10008.1.2.4.90"
    assert (payload["rows"], payload["columns"], payload["bits_stored"]) == (1955, 1841, 15)
    assert payload["pixel_spacing"] is None
    assert (tmp_path / "o.png").stat().st_size > 1000


@pytest.mark.parametrize("content", [b"just text\n" * 50, b"", b"\x00" * 128 + b"DICM" + b"\x02\x00"])
def test_inspect_bad_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.dcm"
    path.write_bytes(content)
    result = run_cli("inspect", str(path), "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["error"]
