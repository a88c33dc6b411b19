"""The production webhook path: https to the checked address, the certificate verified
against the URL's host name.

A receiver on 127.0.0.1 serves TLS with a certificate for "localhost" from a CA made
here; the test trusts that CA in place of certifi's bundle (the product's only trust
store). Sent to https://localhost, the message arrives signed, with the URL's host in
Host and its path and query kept. Sent to https://127.0.0.1 (a name the certificate
does not hold), or without trusting the CA, nothing is delivered.
"""

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from standardwebhooks import Webhook

from core import webhooks
from operations.alerts import notify, sending
from operations.models import AlertEndpoint

pytestmark = pytest.mark.django_db


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(subject, issuer, key, signer, *, ca: bool, names=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
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
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def tls_receiver(tmp_path):
    """(port, CA bundle path, requests received) of a TLS receiver for "localhost"."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test alerts CA", "Test alerts CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("localhost", "Test alerts CA", key, ca_key, ca=False, names=["localhost"])
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "leaf.pem").write_bytes(_pem(leaf))
    (tmp_path / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    received: list[tuple[str, dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a refused handshake is what some tests want

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll: shutdown() waits for the loop's next look (0.5 s by default).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield server.server_address[1], str(tmp_path / "ca.pem"), received
    server.shutdown()
    server.server_close()


@pytest.fixture
def localhost_is_127(monkeypatch):
    """ "localhost" resolves to 127.0.0.1 only (not ::1, where nothing listens)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "localhost":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _send(url: str) -> tuple:
    secret = webhooks.new_secret()
    endpoint = AlertEndpoint(name="On call", url=url)
    endpoint.set_secret(secret)
    endpoint.save()
    delivery = notify.send_test(endpoint)
    sending.attempt(delivery.pk)
    delivery.refresh_from_db()
    return delivery, secret


def test_https_to_the_host_named_by_the_certificate_is_delivered_and_signed(
    tls_receiver, localhost_is_127, monkeypatch
):
    port, ca_bundle, received = tls_receiver
    monkeypatch.setattr(certifi, "where", lambda: ca_bundle)
    delivery, secret = _send(f"https://localhost:{port}/hooks/alerts?team=ops")
    assert (delivery.state, delivery.status_code, delivery.error) == ("delivered", 204, "")
    [(path, headers, body)] = received
    assert path == "/hooks/alerts?team=ops"
    assert headers["Host"] == f"localhost:{port}"
    assert Webhook(secret).verify(body, headers)["type"] == "test"


def test_https_is_refused_for_a_name_the_certificate_lacks_or_an_untrusted_ca(
    tls_receiver, localhost_is_127, monkeypatch
):
    port, ca_bundle, received = tls_receiver
    bundle = certifi.where
    monkeypatch.setattr(certifi, "where", lambda: ca_bundle)
    mismatch, _ = _send(f"https://127.0.0.1:{port}/hooks/alerts")
    assert "127.0.0.1 could not be reached (SSLError)" in mismatch.error
    monkeypatch.setattr(certifi, "where", bundle)  # certifi's own: the test CA is unknown
    untrusted, _ = _send(f"https://localhost:{port}/hooks/alerts")
    assert "localhost could not be reached (SSLError)" in untrusted.error
    for delivery in (mismatch, untrusted):
        assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert received == []
