"""Integration with a real PACS and the DICOM reference tools: Orthanc (started here on loopback ports with a
temporary configuration and storage folder) and dcmtk's storescu. Skipped with the reason when they are absent
(``apt-get install -y orthanc dcmtk``; see the README's "Connecting to a PACS")."""

from __future__ import annotations

import json
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

    def rest(self, path: str) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OrthancServer, int]]:
    move_port = free_port()
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), {"PNEUMOLLM": move_port})
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
    assert [s["MainDicomTags"].get("Modality") for s in series] == ["SR"]  # type: ignore[union-attr]


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
