"""core.http_session: the upstream clients' pooled session reads the environment's proxy
settings once per origin, and still honours them (and NO_PROXY) as requests does; it
never takes credentials from ~/.netrc."""

import responses

from core.http_session import SessionPool


def test_proxy_settings_are_read_once_per_origin_and_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    pool = SessionPool()
    session = pool.get()
    try:
        reads = []
        real = type(session).__mro__[1].merge_environment_settings

        def counting(self, *args):
            reads.append(args[0])
            return real(self, *args)

        monkeypatch.setattr(type(session).__mro__[1], "merge_environment_settings", counting)
        merge = session.merge_environment_settings
        first = merge("https://api.example/v1/a", {}, None, None, None)
        again = merge("https://api.example/v1/b?x=1", {}, None, None, None)
        bypassed = merge("https://internal.example/v1", {}, None, None, None)
        assert first["proxies"] == again["proxies"]
        assert first["proxies"]["https"] == "http://proxy.example:3128"
        assert "https" not in bypassed["proxies"], "NO_PROXY still applies, per origin"
        assert reads == ["https://api.example/v1/a", "https://internal.example/v1"]
        # A call's own settings are never taken from what was kept for its origin.
        own = merge("https://api.example/v1/c", {"https": "http://other:1"}, None, None, None)
        assert own["proxies"]["https"] == "http://other:1"
        # What a caller changes in the answer does not change what is kept.
        first["proxies"]["https"] = "changed"
        assert merge("https://api.example/", {}, None, None, None)["proxies"]["https"] != "changed"
    finally:
        pool.close()


@responses.activate
def test_a_netrc_entry_never_replaces_the_clients_own_authorization(monkeypatch, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine api.example login someone password from-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    responses.get("https://api.example/v1/me", json={})
    pool = SessionPool()
    try:
        pool.get().get("https://api.example/v1/me", headers={"Authorization": "Bearer ours"})
    finally:
        pool.close()
    assert responses.calls[0].request.headers["Authorization"] == "Bearer ours"
