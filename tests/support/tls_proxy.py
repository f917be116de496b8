"""Loopback TLS and proxy plumbing for the S3 client's HTTPS_PROXY / NO_PROXY / AWS_CA_BUNDLE tests.

- `make_ca(dir)`: a private CA and a server certificate for 127.0.0.1 (PEM files);
- `TlsFront`: terminates TLS with that certificate and pipes bytes to a plain HTTP backend;
- `Proxy`: an HTTP proxy (CONNECT tunnels and absolute-URI requests), logging each target.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca(directory: Path) -> Certs:
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("glider test CA")).issuer_name(_name("glider test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    certs = Certs(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certs


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes."""

    def copy(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=copy, args=(b, a), daemon=True)
    other.start()
    copy(a, b)
    other.join(timeout=30)
    a.close()
    b.close()


class _Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        self._server = _Threaded(("127.0.0.1", 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _Base:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _TlsHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        owner: TlsFront = self.server.owner  # type: ignore[attr-defined]
        try:
            tls = owner.context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust us: nothing to forward
        _pipe(tls, socket.create_connection(owner.backend, timeout=30))


class TlsFront(_Base):
    """https://127.0.0.1:<port> in front of `backend` (host, port)."""

    def __init__(self, certs: Certs, backend: tuple[str, int]) -> None:
        self.backend = backend
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certs.cert, certs.key)
        super().__init__(_TlsHandler)


class _ProxyHandler(socketserver.StreamRequestHandler):
    rbufsize = 0  # unbuffered: nothing past the request head is read ahead and lost

    def handle(self) -> None:
        owner: Proxy = self.server.owner  # type: ignore[attr-defined]
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return
            head += line
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            owner.seen.append(f"CONNECT {target}")
            upstream = socket.create_connection((host, int(port)), timeout=30)
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            parts = urlsplit(target)
            owner.seen.append(f"{method} {parts.hostname}:{parts.port}")
            upstream = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=30)
            upstream.sendall(head)
        _pipe(self.request, upstream)


class Proxy(_Base):
    """http://127.0.0.1:<port>; `seen` lists "CONNECT host:port" or "METHOD host:port" per connection."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(_ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
