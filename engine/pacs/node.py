"""The DICOM node as one object: Storage SCP + triage worker + result forwarder on one store folder.

``pneumollm serve`` and the viewer both run a ``PacsNode``; ``start`` recovers what a killed run left (rows left
running, files stored but never queued) before it listens, so nothing acknowledged is lost across restarts, and
with a destination it makes every send that had failed after its retries due again.

The node's log hashes UIDs with a key of its own (``node.key`` in the store folder: 32 random bytes made once,
owner-only, never logged), so that log lines of one store stay comparable across restarts and accounts while an
archive's UID list does not reverse them.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.io.keys import installation_key
from engine.pacs.forward import Forwarder
from engine.pacs.peer import Destination
from engine.pacs.queue import WorkQueue
from engine.pacs.scp import Received, StorageServer, adopt_orphans
from engine.pacs.worker import DEFAULT_RESULT_KINDS, TriageWorker

if TYPE_CHECKING:
    from engine.diagnoser import Diagnoser

log = logging.getLogger(__name__)
NODE_KEY = "node.key"


@dataclass(frozen=True)
class NodeConfig:
    store: Path
    ae_title: str = "PNEUMOLLM"
    port: int = 11112
    host: str = "127.0.0.1"
    allow: tuple[str, ...] = ()  # calling AE titles allowed (empty: any)
    forward: Destination | None = None  # where results are sent
    result_kinds: tuple[str, ...] = DEFAULT_RESULT_KINDS  # any of engine.pacs.worker.RESULT_KINDS
    batch_size: int = 4
    send_attempts: int = 5
    send_first_delay: float = 5.0
    ssl_context: ssl.SSLContext | None = None


class PacsNode:
    """Receive, triage, send back. ``start`` returns once the SCP listens; ``stop`` joins every thread.

    With ``diagnoser`` None no triage thread is started: the owner drains the queue itself with ``drain`` (the
    viewer does, on its one model thread, so the model is never used by two threads at once).
    """

    def __init__(self, config: NodeConfig, diagnoser: Diagnoser | None, *,
                 on_received: Callable[[Received], None] | None = None,
                 on_finished: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.queue = WorkQueue.in_store(config.store)
        self.uid_key = node_key(config.store)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._on_received = on_received

        self.server = StorageServer(config.store, self.queue, ae_title=config.ae_title, port=config.port,
                                    host=config.host, allow=config.allow, on_received=self._received,
                                    ssl_context=config.ssl_context, uid_key=self.uid_key)
        self._on_finished = on_finished
        self.worker = self._worker(diagnoser) if diagnoser is not None else None
        self.forwarder = Forwarder(self.queue, config.forward, calling_ae=config.ae_title,
                                   attempts=config.send_attempts, first_delay=config.send_first_delay,
                                   uid_key=self.uid_key) \
            if config.forward else None
        self._threads: list[threading.Thread] = []

    def _worker(self, diagnoser: Diagnoser) -> TriageWorker:
        return TriageWorker(self.queue, diagnoser, self.config.store, send_results=self.config.forward is not None,
                            result_kinds=self.config.result_kinds, batch_size=self.config.batch_size,
                            on_finished=self._on_finished, uid_key=self.uid_key)

    def drain(self, diagnoser: Diagnoser, cancelled: Callable[[], bool] = lambda: False) -> int:
        """Diagnose everything queued now, on the caller's thread; how many instances were finished."""
        return self._worker(diagnoser).process_available(cancelled)

    def _received(self, received: Received) -> None:
        self._wake.set()
        if self._on_received:
            self._on_received(received)

    def start(self) -> tuple[str, int]:
        adopt_orphans(self.config.store, self.queue)
        self.queue.recover()  # rows a killed run left running: queued again, finished once
        if self.forwarder:
            again = self.queue.resend_failed()  # the destination may be back: a restart is when people expect it
            if again:
                log.info("%d result send(s) that had failed are due again", again)
        address = self.server.start()
        self._threads = []
        if self.worker is not None:
            self._threads.append(threading.Thread(target=self.worker.run, args=(self._stop, self._wake),
                                                  daemon=True, name="pacs-triage"))
        if self.forwarder:
            self._threads.append(threading.Thread(target=self.forwarder.run, args=(self._stop,), daemon=True,
                                                  name="pacs-forward"))
        for thread in self._threads:
            thread.start()
        return address

    def stop(self, timeout: float = 30.0) -> None:
        self.server.stop()
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self.queue.close()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (tests, the benchmark); False on timeout."""
        pause = threading.Event()
        for _ in range(int(timeout / 0.05) + 1):
            counts = self.queue.counts()
            if counts["queued"] == 0 and counts["running"] == 0:
                return True
            pause.wait(0.05)
        return False

    @staticmethod
    def parse_allow(text: str | None) -> tuple[str, ...]:
        return tuple(title.strip() for title in (text or "").split(",") if title.strip())


def node_key(store: Path) -> bytes:
    """The store's own UID-hash key, made on first use (``engine.io.keys.installation_key``'s recipe)."""
    return installation_key(Path(store), name=NODE_KEY)


def sequence_text(titles: Sequence[str]) -> str:
    return ", ".join(titles) if titles else "any"
