"""An HTTP proxy on a free loopback port, for what a client does when the proxy, not the server, fails.

It answers each CONNECT as told: refuses it (403, 407: the tunnel never opens), hangs up without an
answer, or opens the tunnel to the host and port named, optionally cutting the client's side the moment
a condition holds (the far end has the request: what a proxy dying mid-request does). Every CONNECT's
target is recorded. The far end of a tunnel speaks TLS, so this also makes a throwaway CA and a
certificate for 127.0.0.1 (`local_tls`) and puts a LocalHttpServer behind TLS (`serve_tls`).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.support.http_server import LocalHttpServer, ServedOnAThread

Answer = Literal["refuse", "hang_up", "tunnel"]
HEAD_LIMIT = 65536


@dataclass
class ProxyState:
    answer: Answer = "refuse"
    status: int = 403  # of a refusal
    cut_when: Callable[[], bool] | None = None  # a tunnel: cut the client's side once this holds
    connects: list[str] = field(default_factory=list)  # every CONNECT's host:port
    others: list[str] = field(default_factory=list)  # the request line of anything else it was sent
    cuts: int = 0


class RefusingProxy(ServedOnAThread):
    def __init__(self, answer: Answer = "refuse", *, status: int = 403) -> None:
        self.state = ProxyState(answer=answer, status=status)
        state = self.state

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                _serve(self.request, state)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        super().__init__(server)


def _serve(client: socket.socket, state: ProxyState) -> None:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
        chunk = client.recv(4096)
        if not chunk:
            return
        head += chunk
    method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
    target = rest.split(" ", 1)[0]
    if method != "CONNECT":
        state.others.append(f"{method} {target}")
        client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    state.connects.append(target)
    if state.answer == "hang_up":
        client.shutdown(socket.SHUT_RDWR)
    elif state.answer == "refuse":
        body = b"tunnel refused by policy"
        client.sendall(
            f"HTTP/1.1 {state.status} Refused\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
    else:
        _tunnel(client, target, state)


def _tunnel(client: socket.socket, target: str, state: ProxyState) -> None:
    host, _, port = target.rpartition(":")
    upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    cut = threading.Event()
    pumps = [
        threading.Thread(target=_pump, args=(client, upstream, cut), daemon=True),
        threading.Thread(target=_pump, args=(upstream, client, cut), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    if state.cut_when is not None:
        while not state.cut_when():
            if not any(pump.is_alive() for pump in pumps):
                break
            time.sleep(0.01)
        else:
            # The far end has the request: the client's side goes, and nothing more reaches it.
            cut.set()
            state.cuts += 1
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
    for pump in pumps:
        pump.join(timeout=15)
    upstream.close()


def _pump(source: socket.socket, sink: socket.socket, cut: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            if cut.is_set():
                continue  # read and dropped: the far end's answer never gets back
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@dataclass(frozen=True)
class LocalTls:
    ca_file: Path  # trust this (SSL_CERT_FILE, REQUESTS_CA_BUNDLE) to trust the server
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def local_tls(folder: Path) -> LocalTls:
    """A throwaway CA and, signed by it, a certificate for 127.0.0.1 and localhost, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "naver-sms test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = LocalTls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    tls.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    tls.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


def serve_tls(server: LocalHttpServer, tls: LocalTls) -> str:
    """Puts a server not yet entered behind TLS; its https:// URL. Each connection's handshake happens
    in that connection's own thread, so a client that never completes one holds up nobody else."""
    listening = server._server  # a test helper reaching into its own support class
    listening.socket = tls.server_context().wrap_socket(
        listening.socket, server_side=True, do_handshake_on_connect=False
    )
    return server.url.replace("http://", "https://", 1)
