"""The development mailer (EMAIL_URL=consolemail://): each email, readable, on stdout.

Django's console backend prints the MIME message as it would be sent, so a long line of
the text, such as a confirmation link, arrives quoted-printable: cut by soft line breaks
("=" at the end of a line) and with "=3D" for "=". Pasted into a browser, such a link
leads nowhere. This one prints the headers and the plain-text body decoded, every line
whole, and names the other parts (the HTML alternative, attachments) without their bytes.
"""

from email.message import MIMEPart

from django.core.mail import EmailMessage
from django.core.mail.backends.console import EmailBackend


class ConsoleEmailBackend(EmailBackend):
    def write_message(self, message: EmailMessage) -> None:
        msg = message.message()
        # Content-Transfer-Encoding describes the body as sent, not as printed here.
        lines = [
            f"{name}: {value}"
            for name, value in msg.items()
            if name.lower() != "content-transfer-encoding"
        ]
        lines.append("")
        body = msg.get_body(preferencelist=("plain",))
        lines.append(body.get_content().rstrip("\n") if body is not None else "(no text part)")
        others = [part for part in msg.walk() if _shown_apart(part, body)]
        if others:
            lines.append("")
            lines.extend(f"[{_described(part)}]" for part in others)
        self.stream.write("\n".join(lines) + "\n")
        self.stream.write("-" * 79 + "\n")


def _shown_apart(part: MIMEPart, body: MIMEPart | None) -> bool:
    return part is not body and not part.is_multipart()


def _described(part: MIMEPart) -> str:
    filename = part.get_filename()
    if filename:
        return f"attachment {filename} ({part.get_content_type()})"
    return f"also as {part.get_content_type()}"
