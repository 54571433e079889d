"""``pneumollm pacs find|get|echo``: query and retrieve studies from a PACS (DICOM C-FIND / C-GET / C-MOVE).

    pneumollm pacs find --host H --port N --called-ae AE [--patient-id ID] [--date YYYYMMDD-YYYYMMDD] --json
    pneumollm pacs get --host H --port N --called-ae AE --study-uid UID --out DIR [--move-ae AE --move-port N]

``get`` uses C-GET (nothing to configure on the PACS); with ``--move-ae`` it uses C-MOVE to that AE, which this
command runs on ``--move-port`` for the duration (the PACS must know it). ``--url BASE`` uses DICOMweb
(QIDO-RS / WADO-RS) instead of DICOM. Retrieved files land in ``DIR/<study UID>/``, ready for
``pneumollm triage DIR``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from commands.common import add_json_flag, emit, guarded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)
    find = actions.add_parser("find", help="C-FIND studies", description="C-FIND at study level (Study Root)")
    _add_peer(find)
    find.add_argument("--patient-id", default="", help="Patient ID (exact, or DICOM wildcards * ?)")
    find.add_argument("--patient-name", default="", help="Patient's name (DICOM form, e.g. DOE^JANE or DOE*)")
    find.add_argument("--date", default="", metavar="YYYYMMDD-YYYYMMDD", help="study date or date range")
    find.add_argument("--accession", default="", help="accession number")
    find.add_argument("--study-uid", default="", help="one study instance UID")
    add_json_flag(find)
    get = actions.add_parser("get", help="retrieve one study (C-GET, or C-MOVE with --move-ae)",
                             description="retrieve a whole study into a folder")
    _add_peer(get)
    get.add_argument("--study-uid", required=True, help="the study instance UID to retrieve")
    get.add_argument("--out", type=Path, required=True, help="folder for the retrieved files")
    get.add_argument("--move-ae", help="use C-MOVE to this AE title (which we run for the duration)")
    get.add_argument("--move-port", type=int, default=11113, help="port the --move-ae listens on (default 11113)")
    add_json_flag(get)
    echo = actions.add_parser("echo", help="C-ECHO: is the PACS there and does it accept us?")
    _add_peer(echo)
    add_json_flag(echo)


def quiet_pynetdicom(verbosity: int) -> None:
    """pynetdicom logs each refused connection at ERROR; our one-line failure already says it (-v shows them)."""
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL if verbosity == 0 else logging.INFO
                                             if verbosity == 1 else logging.DEBUG)


def _add_peer(parser: argparse.ArgumentParser) -> None:
    # --host, --port and --called-ae are needed unless --url names a DICOMweb service instead
    parser.add_argument("--host", help="the PACS host name or address")
    parser.add_argument("--port", type=int, help="the PACS DICOM port")
    parser.add_argument("--called-ae", help="the PACS AE title")
    parser.add_argument("--url", help="query/retrieve over DICOMweb (QIDO-RS / WADO-RS) at this base URL instead, "
                                      "e.g. http://pacs:8042/dicom-web")
    parser.add_argument("--calling-ae", default="PNEUMOLLM", help="our AE title (default PNEUMOLLM)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer")
    parser.add_argument("--tls-ca", type=Path, metavar="CA.pem",
                        help="connect over DICOM TLS, trusting the PACS's certificate from this CA")


def run(args: argparse.Namespace) -> int:
    quiet_pynetdicom(args.verbose)

    def body() -> int:
        from engine.errors import PneumoError
        from engine.pacs.peer import Destination, tls_client_context

        if args.url:
            handlers = {"find": _find_web, "get": _get_web, "echo": _echo_web}
            return handlers[args.pacs_action](args)
        if args.host is None or args.port is None or args.called_ae is None:
            raise PneumoError("Give the PACS as --host, --port and --called-ae (DICOM), or --url (DICOMweb).")
        peer = Destination.parse(f"{args.host}:{args.port}:{args.called_ae}")
        if args.tls_ca:
            peer = peer.with_tls(tls_client_context(args.tls_ca))
        if args.pacs_action == "find":
            return _find(args, peer)
        if args.pacs_action == "get":
            return _get(args, peer)
        from engine.pacs.scu import echo

        status = echo(peer, calling_ae=args.calling_ae, timeout=args.timeout)
        emit({"ok": status == 0, "error": None if status == 0 else f"status 0x{status & 0xFFFF:04X}",
              "peer": str(peer)}, args.json, lambda p: f"{p['peer']}: {'ok' if p['ok'] else p['error']}")
        return 0 if status == 0 else 1

    return guarded(args.json, body)


def _find(args: argparse.Namespace, peer: Any) -> int:
    from engine.pacs.scu import StudyQuery, find_studies

    query = StudyQuery(patient_id=args.patient_id, patient_name=args.patient_name, date_range=args.date,
                       accession_number=args.accession, study_instance_uid=args.study_uid)
    studies = find_studies(peer, query, calling_ae=args.calling_ae, timeout=args.timeout)
    emit({"ok": True, "error": None, "count": len(studies), "studies": studies}, args.json, _find_text)
    return 0


def _find_web(args: argparse.Namespace) -> int:
    from engine.pacs.dicomweb import find_studies_web
    from engine.pacs.scu import StudyQuery

    query = StudyQuery(patient_id=args.patient_id, patient_name=args.patient_name, date_range=args.date,
                       accession_number=args.accession, study_instance_uid=args.study_uid)
    studies = find_studies_web(args.url, query, timeout=args.timeout)
    emit({"ok": True, "error": None, "count": len(studies), "studies": studies}, args.json, _find_text)
    return 0


def _echo_web(args: argparse.Namespace) -> int:
    from engine.pacs.dicomweb import echo_web

    echo_web(args.url, timeout=args.timeout)  # raises with the one-line reason when it does not answer
    emit({"ok": True, "error": None, "peer": args.url}, args.json, lambda p: f"{p['peer']}: ok (QIDO-RS)")
    return 0


def _get_web(args: argparse.Namespace) -> int:
    from engine.pacs.dicomweb import retrieve_study_web

    summary = retrieve_study_web(args.url, args.study_uid, args.out, timeout=args.timeout)
    emit({"ok": True, "error": None, **summary.to_json()}, args.json,
         lambda p: f"{p['stored']} instance(s) of study {p['study_instance_uid']} -> {p['out']} (WADO-RS)")
    return 0


def _get(args: argparse.Namespace, peer: Any) -> int:
    from engine.pacs.scu import get_study, move_study

    if args.move_ae:
        summary = move_study(peer, args.study_uid, args.out, move_ae=args.move_ae, move_port=args.move_port,
                             calling_ae=args.calling_ae, timeout=args.timeout)
    else:
        summary = get_study(peer, args.study_uid, args.out, calling_ae=args.calling_ae, timeout=args.timeout)
    emit({"ok": True, "error": None, **summary.to_json()}, args.json,
         lambda p: f"{p['stored']} instance(s) of study {p['study_instance_uid']} -> {p['out']} "
                   f"(C-{p['method'].upper()}, {p['failed']} failed)")
    return 0


def _find_text(payload: dict[str, Any]) -> str:
    lines = [f"{payload['count']} stud{'y' if payload['count'] == 1 else 'ies'}"]
    for study in payload["studies"]:
        lines.append(f"{study['study_date'] or '--------'}  {study['patient_id']:<16} "
                     f"{'/'.join(study['modalities_in_study']) or '-':<6} {study['study_instance_uid']}  "
                     f"{study['study_description']}")
    return "\n".join(lines)
