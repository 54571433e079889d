"""A DICOM peer we connect to (``HOST:PORT:AE``), bounded timeouts, and the error for peers that fail."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import PneumoError


class PacsError(PneumoError):
    """A DICOM peer could not be reached or refused the request."""

    default_message = "The DICOM peer did not answer — check its host, port and AE title."


@dataclass(frozen=True)
class Destination:
    """A DICOM AE we connect to: ``HOST:PORT:AE`` on the command line."""

    host: str
    port: int
    ae_title: str
    tls: ssl.SSLContext | None = field(default=None, compare=False, repr=False)  # DICOM TLS when set

    def with_tls(self, context: ssl.SSLContext | None) -> Destination:
        return replace(self, tls=context)

    @classmethod
    def parse(cls, text: str) -> Destination:
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[2] or not parts[1].isdigit():
            raise PneumoError(f"{text!r} is not HOST:PORT:AE (e.g. 127.0.0.1:4242:ORTHANC).")
        port = int(parts[1])
        if not 0 < port < 65536:
            raise PneumoError(f"port {port} is outside 1-65535.")
        if len(parts[2]) > 16:
            raise PneumoError(f"AE title {parts[2]!r} is longer than 16 characters.")
        return cls(parts[0], port, parts[2])

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def apply_timeouts(ae: Any, seconds: float) -> None:
    """Bound every wait of a pynetdicom AE: a silent peer costs ``seconds``, never a hang."""
    for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, timer, seconds)


def associate(ae: Any, peer: Destination, **kwargs: Any) -> Any:
    """Open an association to ``peer`` (over TLS when it has a context) or raise a one-line PacsError saying why
    not."""
    if peer.tls is not None:
        kwargs["tls_args"] = (peer.tls, peer.host)  # the certificate must name the host we connect to
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, **kwargs)
    if not assoc.is_established:
        reason = "rejected the association (is our AE title known to it?)" if assoc.is_rejected else \
            "did not answer (not listening there, or it dropped the connection)"
        raise PacsError(f"{peer} {reason} — check its host, port and AE title.")
    return assoc


def tls_client_context(ca: str | Path, cert: str | Path | None = None, key: str | Path | None = None
                       ) -> ssl.SSLContext:
    """A client TLS context trusting ``ca``; with ``cert`` and ``key``, we present our own certificate."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert:
            context.load_cert_chain(str(cert), str(key) if key else None)
    except (OSError, ssl.SSLError) as exc:
        raise PneumoError(f"The TLS certificate files could not be read ({exc}).") from exc
    return context
