"""``pneumollm serve`` / ``worklist`` / ``pacs`` as scripts use them: the JSON contract, kill -9 of a serving node
loses nothing it acknowledged, one-line failures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from engine.pacs.forward import store_files
from engine.pacs.peer import Destination
from tests.engine.pacs.peers import QueryRetrievePeer, relabelled_copies
from tests.head_factory import make_tiny_head

CLI = [sys.executable, "-m", "commands"]
CONTRACT = ("sop_instance_uid", "study_instance_uid", "state", "probability", "decision", "error")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_head(tmp_path_factory.mktemp("head") / "head", with_map=False)


class Serving:
    """``pneumollm serve`` in its own process; ``start`` returns once it listens."""

    def __init__(self, store: Path, head: Path) -> None:
        self.store, self.head, self.port = store, head, free_port()
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*CLI, "serve", "--ae-title", "PNEUMOLLM", "--port", str(self.port), "--store", str(self.store),
             "--allow", "MODALITY,OTHER", "--model", str(self.head), "--batch-size", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until it listens (or dies, giving "")
        assert "listening on" in line, self.process.stderr.read() if self.process.stderr else line

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> tuple[str, str]:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.communicate(timeout=60)


def worklist(store: Path, *extra: str) -> dict:
    result = run_cli("worklist", "--store", str(store), "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_until_finished(store: Path, count: int, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        payload = worklist(store)
        states = [item["state"] for item in payload["items"]]
        if len(states) == count and all(state in ("done", "failed") for state in states):
            return payload
        if time.monotonic() > deadline:
            pytest.fail(f"the node did not finish within {timeout:.0f} s: {states}")
        time.sleep(0.5)


@pytest.mark.slow  # two starts of a serving process, each loading a Diagnoser
@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_kill_9_while_triaging_loses_nothing_acknowledged(head: Path, dicom_dir: Path, tmp_path: Path) -> None:
    sources = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 4)
    node = Serving(tmp_path / "store", head)
    node.start()
    try:
        statuses = store_files(Destination("127.0.0.1", node.port, "PNEUMOLLM"), sources, calling_ae="MODALITY")
    finally:
        node.kill()  # at once: the worker is still diagnosing (or has not started)
    assert statuses == [0, 0, 0, 0]
    acknowledged = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in sources}
    killed = worklist(tmp_path / "store")["items"]
    assert {item["sop_instance_uid"] for item in killed} == acknowledged
    left_running = sum(item["state"] == "running" for item in killed)

    node.start()  # the same store: recovers what was left running and carries on
    try:
        payload = wait_until_finished(tmp_path / "store", len(sources))
    finally:
        out, log = node.stop()
    assert "stopped:" in out and "stored instance" not in log  # the restart received nothing new
    assert ("queued again" in log) == (left_running > 0)  # what the kill left running is recovered, and said
    header = dcmread(sources[0], stop_before_pixels=True)
    for value in (*acknowledged, header.StudyInstanceUID, str(header.PatientID), str(header.PatientName)):
        assert value not in log  # no UIDs (hashed) and no patient attributes in the node's log
    items = payload["items"]
    assert sorted(item["sop_instance_uid"] for item in items) == sorted(acknowledged)  # each once
    assert all(item["state"] == "done" and item["decision"] in ("flagged", "not flagged", "not diagnosed")
               for item in items)
    assert all(tuple(item)[: len(CONTRACT)] == CONTRACT for item in items)
    assert payload["ok"] is True and payload["counts"]["done"] == len(sources)
    scored = [item["probability"] for item in items if item["decision"] == "flagged"]
    assert scored == sorted(scored, reverse=True)  # flagged first, highest first (the default order)
    csv_out = tmp_path / "worklist.csv"
    worklist(tmp_path / "store", "--csv", str(csv_out))
    assert len(csv_out.read_text().splitlines()) == len(sources) + 1


def test_pacs_find_and_get_contract(dicom_dir: Path, tmp_path: Path) -> None:
    files = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "archive", 2,
                              study_uid="1.2.826.0.1.3680043.8.1.7", PatientID="PAT-7", StudyDate="20240301")
    peer = QueryRetrievePeer(files)
    peer.start()
    try:
        common = ["--host", "127.0.0.1", "--port", str(peer.port), "--called-ae", "QRSCP"]
        found = run_cli("pacs", "find", *common, "--patient-id", "PAT-7", "--date", "20240101-20241231", "--json")
        assert found.returncode == 0, found.stderr
        payload = json.loads(found.stdout)
        assert payload["ok"] is True and payload["count"] == 1
        assert payload["studies"][0]["study_instance_uid"] == "1.2.826.0.1.3680043.8.1.7"
        got = run_cli("pacs", "get", *common, "--study-uid", "1.2.826.0.1.3680043.8.1.7", "--out",
                      str(tmp_path / "out"), "--json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["stored"] == 2
        assert len(list((tmp_path / "out" / "1.2.826.0.1.3680043.8.1.7").glob("*.dcm"))) == 2
    finally:
        peer.stop()


@pytest.mark.parametrize("args", [
    ("worklist", "--store", "{tmp}/nothing", "--json"),
    ("pacs", "find", "--host", "127.0.0.1", "--port", "{port}", "--called-ae", "NOBODY", "--timeout", "5", "--json"),
    ("pacs", "find", "--host", "127.0.0.1", "--port", "104", "--called-ae", "X", "--date", "yesterday", "--json"),
    ("pacs", "get", "--host", "127.0.0.1", "--port", "104", "--called-ae", "X", "--study-uid", "../x", "--out",
     "{tmp}/o", "--json"),
])
def test_failures_are_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    port = str(free_port())
    result = run_cli(*(a.replace("{tmp}", str(tmp_path)).replace("{port}", port) for a in args))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(result.stdout)["ok"] is False


def test_serve_refuses_a_bad_forward_address_in_one_line(tmp_path: Path) -> None:
    result = run_cli("serve", "--store", str(tmp_path), "--port", str(free_port()), "--forward", "pacs:ORTHANC")
    assert result.returncode == 1 and "HOST:PORT:AE" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_refuses_an_unknown_result_kind_in_one_line(tmp_path: Path) -> None:
    from commands.serve_cmd import DEFAULT_SEND
    from engine.pacs.worker import DEFAULT_RESULT_KINDS

    assert DEFAULT_SEND == ",".join(DEFAULT_RESULT_KINDS) == "sr,pr"
    result = run_cli("serve", "--store", str(tmp_path), "--port", str(free_port()), "--send", "sr,pdf")
    assert result.returncode == 1 and "sr, sc, pr, seg" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def failed_send_store(store: Path) -> str:
    """A store whose one instance was diagnosed and whose results' send failed after the retries."""
    from engine.pacs.queue import ItemResult, WorkQueue

    queue = WorkQueue.in_store(store)
    result_file = store / "results" / "1.2.3.4.sr.dcm"
    result_file.parent.mkdir(parents=True)
    result_file.write_bytes(b"stand-in")
    queue.enqueue("1.2.3.4", "1.2.3", "1.2.3.5", store / "studies" / "1.2.3" / "1.2.3.4.dcm", "0" * 32)
    [item] = queue.claim()
    queue.finish(item.id, ItemResult("done", 0.9, "flagged", 0.5, result_paths=(str(result_file),)), send=True)
    queue.record_send(item.id, sent=False, error="ARCHIVE did not answer")
    queue.close()
    return "1.2.3.4"


@pytest.mark.parametrize("which", ["failed", "1.2.3.4"])
def test_worklist_resend_makes_failed_sends_due_again(which: str, tmp_path: Path) -> None:
    failed_send_store(tmp_path / "store")
    assert worklist(tmp_path / "store")["items"][0]["send_state"] == "failed"
    payload = worklist(tmp_path / "store", "--resend", which)
    assert payload["resent"] == 1 and payload["items"][0]["send_state"] == "pending"
    assert tuple(payload["items"][0])[: len(CONTRACT)] == CONTRACT
    assert worklist(tmp_path / "store", "--resend", "failed")["resent"] == 0  # nothing failed any more
    assert "resent" not in worklist(tmp_path / "store")  # a plain listing stays as it was


def test_worklist_resend_of_an_unknown_instance_fails_in_one_line(tmp_path: Path) -> None:
    failed_send_store(tmp_path / "store")
    result = run_cli("worklist", "--store", str(tmp_path / "store"), "--resend", "9.9.9", "--json")
    assert result.returncode == 1 and "9.9.9" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and json.loads(result.stdout)["ok"] is False


def test_pacs_echo_over_dicomweb(tmp_path: Path) -> None:
    """``pacs echo --url`` asks the DICOMweb service one QIDO-RS question (it used to demand --host)."""
    import http.server
    import threading

    asked: list[str] = []

    class Qido(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            found = self.path.startswith("/dicom-web/studies")
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/dicom+json")
            self.end_headers()
            self.wfile.write(b"[]" if found else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Qido)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ok = run_cli("pacs", "echo", "--url", f"{base}/dicom-web", "--json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout) == {"ok": True, "error": None, "peer": f"{base}/dicom-web"}
        assert asked and asked[0].startswith("/dicom-web/studies")
        wrong = run_cli("pacs", "echo", "--url", f"{base}/elsewhere", "--timeout", "5", "--json")
        assert wrong.returncode == 1 and "HTTP 404" in wrong.stderr and "--host" not in wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1
    finally:
        server.shutdown()
