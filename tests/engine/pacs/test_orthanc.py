"""Integration with a real PACS and the DICOM reference tools: Orthanc (started here on loopback ports with a
temporary configuration and storage folder) and dcmtk's storescu. Skipped with the reason when they are absent
(``apt-get install -y orthanc dcmtk``, which ``.ci/run`` does as root; see the README's "Connecting to a PACS").

The clinic's loop: Orthanc pushes a study to a node started here (REST ``/modalities/NODE/store``), the TID 1500 SR
and the presentation state land in the same study in Orthanc (an out-of-intended-use film gets its SR too), a
study-level re-push of that study — now holding our results — succeeds, and nothing is diagnosed twice.
Every wait is bounded."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

from engine.diagnoser import Diagnoser
from engine.pacs.dicomweb import find_studies_web, retrieve_study_web
from engine.pacs.node import NodeConfig, PacsNode
from engine.pacs.peer import Destination, PacsError
from engine.pacs.scu import StudyQuery, echo, find_studies, get_study, move_study
from engine.segment import LungSegmenter
from tests.engine.pacs.peers import relabelled_copies
from tests.head_factory import make_tiny_head

ORTHANC = shutil.which("Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")  # Debian's orthanc-dicomweb
STORESCU = shutil.which("storescu")
pytestmark = pytest.mark.skipif(ORTHANC is None or STORESCU is None,
                                reason="Orthanc and dcmtk are not installed (apt-get install -y orthanc dcmtk)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OrthancServer:
    def __init__(self, root: Path, destinations: dict[str, int]) -> None:
        self.dicom_port, self.http_port = free_port(), free_port()
        config = {
            "Name": "pneumollm-test", "StorageDirectory": str(root / "storage"), "IndexDirectory": str(root / "index"),
            "HttpPort": self.http_port, "DicomPort": self.dicom_port, "DicomAet": "ORTHANC",
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "HttpServerEnabled": True,
            "Plugins": [str(DICOMWEB_PLUGIN)] if DICOMWEB_PLUGIN.is_file() else [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": {name: [name, "127.0.0.1", port] for name, port in destinations.items()},
        }
        (root / "orthanc.json").write_text(json.dumps(config))
        self.log = open(root / "orthanc.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen([str(ORTHANC), str(root / "orthanc.json")], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.peer = Destination("127.0.0.1", self.dicom_port, "ORTHANC")
        deadline = time.monotonic() + 60
        while True:
            try:
                if echo(self.peer, calling_ae="PNEUMOLLM", timeout=2) == 0:
                    break
            except PacsError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Orthanc did not start; see {root / 'orthanc.log'}")
            time.sleep(0.3)

    def rest(self, path: str, body: object | None = None, timeout: float = 10) -> object:
        """GET ``path`` (or POST ``body`` as JSON) on the REST API; the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data,
                                         method="GET" if body is None else "POST")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    def file(self, instance_id: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/instances/{instance_id}/file",
                                    timeout=30) as answer:
            return answer.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


NODE_PORT = free_port()  # the loop test's node: Orthanc knows it as modality NODE from its start


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OrthancServer, int]]:
    move_port = free_port()
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), {"PNEUMOLLM": move_port, "NODE": NODE_PORT})
    yield server, move_port
    server.stop()


def storescu(port: int, called: str, paths: list[Path], calling: str = "MODALITY") -> subprocess.CompletedProcess:
    # -xw: propose JPEG 2000 (lossy, the radiograph's encoding) besides the uncompressed syntaxes
    return subprocess.run([str(STORESCU), "-xw", "-aet", calling, "-aec", called, "127.0.0.1", str(port),
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_query_and_retrieve_from_orthanc(orthanc, dicom_dir: Path, tmp_path: Path) -> None:
    server, move_port = orthanc
    sources = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 2,
                                study_uid="1.2.826.0.1.3680043.8.1.99", PatientID="ORTH-1", StudyDate="20230405")
    stored = storescu(server.dicom_port, "ORTHANC", sources)
    assert stored.returncode == 0, stored.stderr
    [study] = find_studies(server.peer, StudyQuery(patient_id="ORTH-1", date_range="20230101-20231231"))
    assert study["study_instance_uid"] == "1.2.826.0.1.3680043.8.1.99" and study["number_of_instances"] == 2
    got = get_study(server.peer, "1.2.826.0.1.3680043.8.1.99", tmp_path / "get")
    assert got.stored == 2
    moved = move_study(server.peer, "1.2.826.0.1.3680043.8.1.99", tmp_path / "move", move_ae="PNEUMOLLM",
                       move_port=move_port)
    assert moved.stored == 2
    for source in sources:
        header = dcmread(source)
        for folder in ("get", "move"):
            copy = dcmread(tmp_path / folder / header.StudyInstanceUID / f"{header.SOPInstanceUID}.dcm")
            assert copy.PixelData == header.PixelData


def test_storescu_to_our_node_and_the_sr_back_to_orthanc(orthanc, dicom_dir: Path, tmp_path: Path) -> None:
    server, _ = orthanc
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=LungSegmenter(weights=None))
    node = PacsNode(NodeConfig(store=tmp_path / "store", port=0, allow=("MODALITY",), forward=server.peer),
                    diagnoser)
    node.start()
    try:
        sources = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 1, PatientID="ORTH-2")
        sent = storescu(node.server.address[1], "PNEUMOLLM", sources)
        assert sent.returncode == 0, sent.stderr
        refused = storescu(node.server.address[1], "PNEUMOLLM", sources, calling="STRANGER")
        assert refused.returncode != 0  # unknown calling AE: association rejected
        assert node.wait_idle(timeout=120)
        for _ in range(300):
            [item] = node.queue.items()
            if item.send_state in ("sent", "failed"):
                break
            time.sleep(0.1)
    finally:
        node.stop()
    assert item.state == "done" and item.send_state == "sent", item.send_error
    patients = server.rest("/patients?expand")
    [patient] = [p for p in patients if p["MainDicomTags"].get("PatientID") == "ORTH-2"]  # type: ignore[union-attr]
    series = server.rest(f"/patients/{patient['ID']}/series?expand")
    assert sorted(s["MainDicomTags"].get("Modality") for s in series) == ["PR", "SR"]  # type: ignore[union-attr]


@pytest.mark.skipif(not DICOMWEB_PLUGIN.is_file(),
                    reason="Orthanc's DICOMweb plugin is not installed (apt-get install -y orthanc-dicomweb)")
def test_dicomweb_search_and_retrieve(orthanc, dicom_dir: Path, tmp_path: Path) -> None:
    server, _ = orthanc
    sources = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 2,
                                study_uid="1.2.826.0.1.3680043.8.1.123", PatientID="WEB-1", StudyDate="20220707")
    assert storescu(server.dicom_port, "ORTHANC", sources).returncode == 0
    url = f"http://127.0.0.1:{server.http_port}/dicom-web"
    [study] = find_studies_web(url, StudyQuery(patient_id="WEB-1", date_range="20220101-20221231"))
    assert study == find_studies(server.peer, StudyQuery(patient_id="WEB-1"))[0] | {
        "study_description": study["study_description"]}  # the same answer as C-FIND
    summary = retrieve_study_web(url, "1.2.826.0.1.3680043.8.1.123", tmp_path / "web")
    assert summary.stored == 2
    for source in sources:
        header = dcmread(source)
        copy = dcmread(tmp_path / "web" / header.StudyInstanceUID / f"{header.SOPInstanceUID}.dcm")
        assert copy.PixelData == header.PixelData  # JPEG 2000 as held, not transcoded
    cli = subprocess.run([sys.executable, "-m", "commands", "pacs", "find", "--url", url, "--patient-id", "WEB-1",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["studies"][0]["study_instance_uid"] == "1.2.826.0.1.3680043.8.1.123"
    with pytest.raises(PacsError, match="HTTP 404"):
        find_studies_web(f"http://127.0.0.1:{server.http_port}/no-such-root", StudyQuery())


def _wait_for_sends(node: PacsNode, timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while True:
        items = [item for item in node.queue.items() if item.result_files]
        if items and all(item.send_state in ("sent", "failed") for item in items):
            return items
        if time.monotonic() > deadline:
            pytest.fail(f"results not sent within {timeout:.0f} s: {[i.send_state for i in items]}")
        time.sleep(0.2)


def test_the_clinic_loop_orthanc_pushes_a_study_and_gets_sr_and_presentation_state_back(
        orthanc, dicom_dir: Path, tmp_path: Path) -> None:
    server, _ = orthanc
    study_uid = "1.2.826.0.1.3680043.8.1.4242"
    frontal = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "in", 1, study_uid=study_uid,
                                PatientID="LOOP-1")
    lateral = relabelled_copies(dicom_dir / "RG1_J2KI.dcm", tmp_path / "lat", 1, study_uid=study_uid,
                                PatientID="LOOP-1", ViewPosition="LL")  # outside the intended use: frontal films
    assert storescu(server.dicom_port, "ORTHANC", frontal + lateral).returncode == 0
    [study_id] = [study["ID"] for study in server.rest("/studies?expand")  # type: ignore[union-attr]
                  if study["MainDicomTags"].get("StudyInstanceUID") == study_uid]
    diagnoser = Diagnoser(make_tiny_head(tmp_path / "head", with_map=False), segmenter=LungSegmenter(weights=None))
    node = PacsNode(NodeConfig(store=tmp_path / "store", port=NODE_PORT, forward=server.peer), diagnoser)
    node.start()
    try:
        push = {"Resources": [study_id], "Synchronous": True}
        server.rest("/modalities/NODE/store", body=push, timeout=120)  # raises on an HTTP error
        assert node.wait_idle(timeout=180)
        first = {item.sop_instance_uid: item for item in _wait_for_sends(node)}
        assert all(item.send_state == "sent" for item in first.values()), [i.send_error for i in first.values()]
        series = server.rest(f"/studies/{study_id}/series?expand")
        modalities = sorted(s["MainDicomTags"].get("Modality") for s in series)  # type: ignore[union-attr]
        assert modalities == ["CR", "CR", "PR", "SR", "SR"]  # both films, an SR each, the frontal's GSPS

        # the study again, now with our results in it: accepted whole, the results kept as skipped, no re-diagnosis
        server.rest("/modalities/NODE/store", body=push, timeout=120)
        assert node.wait_idle(timeout=60)
        items = node.queue.items()
    finally:
        node.stop()
    films = [item for item in items if item.sop_instance_uid in first]
    assert len(films) == 2 and all(item.finished_at == first[item.sop_instance_uid].finished_at for item in films)
    ours = [item for item in items if item.sop_instance_uid not in first]
    assert len(ours) == 3 and all(item.state == "skipped" and "our own result" in (item.error or "") for item in ours)
    assert len(server.rest(f"/studies/{study_id}/instances")) == 5  # type: ignore[arg-type]  # nothing new came back

    lateral_uid = str(dcmread(lateral[0], stop_before_pixels=True).SOPInstanceUID)
    assert first[lateral_uid].decision == "not diagnosed" and len(first[lateral_uid].result_files) == 1
    for instance in server.rest(f"/studies/{study_id}/instances?expand"):  # type: ignore[union-attr]
        if instance["MainDicomTags"].get("SOPInstanceUID") in first:
            continue
        path = tmp_path / f"{instance['ID']}.dcm"
        path.write_bytes(server.file(instance["ID"]))
        if shutil.which("dciodvfy"):
            found = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
            errors = [line for line in (found.stdout + found.stderr).splitlines() if re.match("^Error", line)]
            assert not errors, f"dciodvfy on what Orthanc holds: {errors}"
