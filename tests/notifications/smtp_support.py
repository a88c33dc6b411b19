"""Real SMTP servers on a local port: one refuses every recipient (550), for the tests of
what a refused send leaves behind; one accepts and keeps each message's raw bytes, for
the tests of what goes on the wire. Speak just enough SMTP for smtplib."""

import socket
import threading
from contextlib import contextmanager


def _serve(listener: socket.socket, received: list[bytes] | None = None) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 refuser ESMTP\r\n")
            for raw in lines:
                verb = raw[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 refuser\r\n")
                elif verb == b"RCPT" and received is not None:
                    conn.sendall(b"250 ok\r\n")
                elif verb == b"DATA" and received is not None:
                    conn.sendall(b"354 go on\r\n")
                    data = b""
                    for line in lines:
                        if line == b".\r\n":
                            break
                        data += line[1:] if line.startswith(b"..") else line
                    received.append(data)
                    conn.sendall(b"250 kept\r\n")
                elif verb == b"RCPT":
                    address = raw.split(b":", 1)[1].strip()
                    conn.sendall(b"550 5.1.1 " + address + b" no such user\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    break
                else:  # MAIL, RSET, NOOP
                    conn.sendall(b"250 ok\r\n")


@contextmanager
def refusing_smtp(settings, received: list[bytes] | None = None):
    """settings.MAILERS pointed at a server refusing every recipient, while inside; with
    `received`, one accepting every message and appending its raw bytes there."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    thread = threading.Thread(target=_serve, args=(listener, received), daemon=True)
    thread.start()
    original = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": listener.getsockname()[1], "timeout": 5},
        }
    }
    try:
        yield
    finally:
        settings.MAILERS = original
        listener.close()


@contextmanager
def accepting_smtp(settings):
    """settings.MAILERS pointed at a server accepting every message; yields the list of
    the raw messages (bytes, as smtplib sent them) it got."""
    received: list[bytes] = []
    with refusing_smtp(settings, received):
        yield received
