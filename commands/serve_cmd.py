"""``pneumollm serve --ae-title AE --port N --store DIR [--allow AE,...] [--forward HOST:PORT:AE]``.

A DICOM node: a Storage SCP receiving chest radiographs into DIR, a worker that triages them as they arrive
(queue and results in ``DIR/worklist.sqlite3``; ``pneumollm worklist --store DIR`` reads it) and, with
``--forward``, each result's DICOM objects sent to that AE (``--send``: the TID 1500 SR and the presentation
state by default; the segmentation and the Secondary Capture on request). Runs until stopped (Ctrl+C or
SIGTERM); a restart resumes where the last run stopped and sends again what had failed to send.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from commands.common import guarded
from commands.predict_cmd import add_model_arguments, make_diagnoser

DEFAULT_SEND = "sr,pr"  # engine.pacs.worker.DEFAULT_RESULT_KINDS (not imported here: the parser stays light)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ae-title", default="PNEUMOLLM", help="our AE title (default PNEUMOLLM)")
    parser.add_argument("--port", type=int, default=11112, help="TCP port to listen on (default 11112)")
    parser.add_argument("--store", type=Path, required=True, help="folder for received studies and the worklist")
    parser.add_argument("--allow", metavar="AE,...", help="accept associations only from these calling AE titles")
    parser.add_argument("--forward", metavar="HOST:PORT:AE", help="send each result's DICOM objects to this AE")
    parser.add_argument("--send", default=DEFAULT_SEND, metavar="sr,pr,seg,sc",
                        help="what --forward sends per result, comma-separated: sr (TID 1500 SR), pr (presentation "
                             "state over the radiograph), seg (lung and zone segmentation), sc (the annotated image "
                             f"as a Secondary Capture); default {DEFAULT_SEND}")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 to accept from the network)")
    parser.add_argument("--batch-size", type=int, default=4, help="instances diagnosed together")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: accept DICOM TLS instead of plain TCP")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument("--tls-ca", type=Path, help="PEM CA bundle: require peers' certificates signed by it")
    parser.add_argument("--forward-tls-ca", type=Path, metavar="CA.pem",
                        help="send results over DICOM TLS, trusting the destination's certificate from this CA")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from commands.pacs_cmd import quiet_pynetdicom

    quiet_pynetdicom(args.verbose)
    if args.verbose >= 2:  # pynetdicom's debug output dumps datasets and UIDs: a node's log stays PHI-free
        logging.getLogger("pynetdicom").setLevel(logging.INFO)
    if args.verbose == 0:  # a node reports what it receives and finds (hashed UIDs only), like any DICOM service
        logging.getLogger("engine.pacs").setLevel(logging.INFO)
    return guarded(False, lambda: _serve(args))


def _serve(args: argparse.Namespace) -> int:
    from engine.errors import PneumoError
    from engine.pacs.node import NodeConfig, PacsNode, sequence_text
    from engine.pacs.peer import Destination, tls_client_context
    from engine.pacs.scp import tls_server_context
    from engine.pacs.worker import RESULT_KINDS

    if not 0 < args.port < 65536:
        raise PneumoError(f"--port {args.port} is outside 1-65535.")
    if not args.ae_title.strip() or len(args.ae_title) > 16:
        raise PneumoError("--ae-title must be 1-16 characters.")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise PneumoError("--tls-cert and --tls-key go together.")
    forward = Destination.parse(args.forward) if args.forward else None
    if forward is not None and args.forward_tls_ca:
        forward = forward.with_tls(tls_client_context(args.forward_tls_ca))
    context = tls_server_context(args.tls_cert, args.tls_key, args.tls_ca) if args.tls_cert else None
    kinds = tuple(kind.strip().lower() for kind in args.send.split(",") if kind.strip())
    if not kinds or set(kinds) - set(RESULT_KINDS):
        raise PneumoError(f"--send {args.send!r}: choose any of {', '.join(RESULT_KINDS)}, comma-separated.")
    config = NodeConfig(store=args.store, ae_title=args.ae_title, port=args.port, host=args.host,
                        allow=PacsNode.parse_allow(args.allow), forward=forward, result_kinds=kinds,
                        batch_size=max(1, args.batch_size), ssl_context=context)
    node = PacsNode(config, make_diagnoser(args))
    try:
        host, port = node.start()
    except OSError as exc:
        raise PneumoError(f"Cannot listen on {args.host}:{args.port} ({exc.strerror}) — is another node using "
                          "that port?") from exc
    stopped = threading.Event()
    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: stopped.set())
    sys.stdout.write(f"{config.ae_title} listening on {host}:{port}, storing in {config.store} "
                     f"(calling AEs: {sequence_text(config.allow)}; results to: {forward or 'nowhere'})\n")
    sys.stdout.flush()
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        node.stop()
    _print_counts(node)
    return 0


def _print_counts(node: Any) -> None:
    from engine.pacs.queue import WorkQueue

    queue = WorkQueue.in_store(node.config.store, readonly=True)
    counts = queue.counts()
    queue.close()
    sys.stdout.write("stopped: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + "\n")
