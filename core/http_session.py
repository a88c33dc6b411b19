"""The pooled HTTP session of the upstream clients (core.client.BaseApiClient): one per
process and upstream, its connections kept alive between calls."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase


class _OwnHeaders(AuthBase):
    """The session's auth: the request as the client built it. Each client sends its own
    Authorization header (a bearer token, an API key); with no auth set, requests would
    look for a ~/.netrc entry on every call (two file lookups) and, finding one for the
    host, replace that header with its Basic credentials. Credentials written into an
    API URL (https://user:pass@host) are not sent either; the clients follow no
    redirects (core/client.py), the one other place requests reads ~/.netrc."""

    def __call__(self, request: Any) -> Any:
        return request


class _Session(requests.Session):
    """A Session that reads the environment's proxy and CA settings (and their no_proxy
    rules) once per origin, not on every call as requests does: they do not change while
    the process runs, and reading them costs more than the rest of preparing a call.
    It never reads ~/.netrc (`_OwnHeaders`)."""

    def __init__(self) -> None:
        super().__init__()
        self.auth = _OwnHeaders()
        self._environment: dict[tuple[str, str], Any] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        found = self._environment.get(origin)
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[origin] = found
        return {**found, "proxies": dict(found["proxies"])}


class SessionPool:
    """One pooled `requests.Session` per process and upstream, kept alive between calls."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                session = _Session()
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                self._session = session
            return self._session

    def close(self) -> None:
        """Drop the kept-alive connections (tests, and a worker about to fork)."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
