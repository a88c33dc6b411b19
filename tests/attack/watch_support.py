"""The attack suite's watch (the autouse `watch` fixture in conftest.py wraps it): it
collects every response the site gives, every log record and every exception, and after
the test names each secret found in them and each 500. See conftest.py for what is
searched and what is not, and why."""

import json

from django.conf import settings

# Keys of the sandbox's JSON answers that hold a secret it issued.
HARVESTED = {
    "access_token": "OAuth access token",
    "token": "Connect token",
    "webhook_signing_key": "trigger signing key",
    "signing_key": "trigger signing key",
}
# Paths whose answers may carry the member's own Connect token (see conftest.py).
CONNECT_TOKEN_PATHS = ("/connect/token/",)


class Watch:
    def __init__(self):
        self.responses = []  # (method, path, status, text)
        self.logs = []  # (logger, level, text)
        self.exceptions = []  # (path, text)
        self.handoffs = []  # redirects to Pipedream's hosted page (they carry a token)
        self.issued = {}  # name -> value: tokens the sandbox handed out
        self.registered = {}  # name -> value: set by the tests

    def secret(self, name: str, value: str) -> str:
        self.registered[name] = value
        return value

    # --- collecting ---------------------------------------------------------------

    def record_response(self, request, response):
        path = request.path
        if getattr(response, "streaming", False):
            text = ""
        else:
            text = response.content.decode("utf-8", errors="replace")
        if path.startswith("/sandbox/"):
            self._harvest(text)
            return
        if path.startswith("/admin/sandbox/"):
            return  # the emulated upstream's own records (sandbox mode only)
        headers = "\n".join(f"{k}: {v}" for k, v in response.items() if k != "Location")
        location = response.get("Location", "")
        if location.startswith(settings.PIPEDREAM_CONNECT_URL + "/"):
            # The Connect Link hand-off: the member's own token, to Pipedream's page.
            self.handoffs.append(location)
        else:
            headers += f"\nLocation: {location}"
        self.responses.append((request.method, path, response.status_code, headers + "\n" + text))

    def _harvest(self, text: str):
        """Secrets in the sandbox's answers: OAuth access tokens, Connect tokens, trigger
        signing keys (anywhere in the JSON)."""
        try:
            data = json.loads(text)
        except ValueError:
            return
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                for key, value in item.items():
                    if isinstance(value, dict | list):
                        stack.append(value)
                    elif isinstance(value, str) and key in HARVESTED and len(value) >= 8:
                        self.issued[f"{HARVESTED[key]} {value[:6]}…"] = value

    # --- checking -----------------------------------------------------------------

    def configured(self) -> dict:
        found = {
            "PIPEDREAM_CLIENT_SECRET": settings.PIPEDREAM_CLIENT_SECRET,
            "BITBADGES_API_KEY": settings.BITBADGES_API_KEY,
            "SECRET_KEY": settings.SECRET_KEY,
        }
        for number, key in enumerate(settings.CLAIM_SECRETS_KEYS):
            found[f"CLAIM_SECRETS_KEYS[{number}]"] = key
        return found

    def leaks(self) -> list[str]:
        secrets = {**self.configured(), **self.issued}
        secrets.update(self.registered)
        secrets = {name: value for name, value in secrets.items() if value and len(value) >= 8}
        found = []
        for method, path, status, text in self.responses:
            for name, value in secrets.items():
                if name.startswith("Connect token") and path in CONNECT_TOKEN_PATHS:
                    continue
                if value in text:
                    found.append(f"{name} in the answer to {method} {path} ({status})")
        for location in self.handoffs:
            for name, value in secrets.items():
                if value in location and not name.startswith("Connect token"):
                    found.append(f"{name} in a hand-off to {location[:80]}")
        for logger_name, level, text in self.logs:
            for name, value in secrets.items():
                if value in text:
                    found.append(f"{name} in a {level} record of {logger_name}: {text[:300]!r}")
        for path, text in self.exceptions:
            for name, value in secrets.items():
                if value in text:
                    found.append(f"{name} in an exception raised by {path}")
        return found

    def server_errors(self) -> list[str]:
        return [
            f"{method} {path} answered {status}"
            for method, path, status, _ in self.responses
            if status >= 500 and status not in (502, 503, 504)
        ]
