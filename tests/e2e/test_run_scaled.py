"""`make run-scaled` serves the whole member flow: PostgreSQL, Redis, 2 gunicorn processes,
2 task workers and the scheduler, started exactly as the make target starts them.

The layout runs in processes of its own, on a database and a Redis database of its own
(never the test run's), and a member goes through it in Chromium: logs in, connects GitHub
in the iframe, and watches the demo claims complete. Then the ledger and the BitBadges
sandbox are read from that database: each completion delivered exactly once.

It needs the local PostgreSQL and Redis. Where they are missing it is skipped with the
reason, except in CI (CI=true, set by .ci/run), where it fails.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import requests
from playwright.sync_api import expect

from tests.e2e.flows_support import connect_in_iframe, log_in, watch_problems

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get(
    "SCALED_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/connect_claim_scaled_test"
)
CACHE_URL = os.environ.get("SCALED_TEST_CACHE_URL", "redis://127.0.0.1:6379/13")
START_TIMEOUT = 180  # seconds: migrations on a fresh PostgreSQL database, seeding, startup

pytestmark = pytest.mark.e2e


def _services_missing() -> str | None:
    admin = urlsplit(DATABASE_URL)._replace(path="/postgres").geturl()
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL is not reachable ({str(exc).strip()})"
    try:
        redis.Redis.from_url(CACHE_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable ({exc})"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(root: int) -> dict[int, str]:
    """{pid: command line} of the live processes under `root` (read from /proc).

    honcho starts each of its processes in a session of its own, so the tree, not the
    process group, says what belongs to the layout.
    """
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
        commands[int(entry.name)] = cmdline.strip()
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = commands[pid]
                frontier.append(pid)
    return found


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    missing = _services_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL and Redis for the scaled-out run: {missing}")
        pytest.skip(f"The scaled-out run needs PostgreSQL and Redis: {missing}")
    redis.Redis.from_url(CACHE_URL).flushdb()
    port = _free_port()
    workdir = tmp_path_factory.mktemp("scaled")
    log = (workdir / "run-scaled.log").open("w")
    # A newcomer's shell: none of the test run's own settings (pytest sets several).
    leaks = {
        "DATABASE_URL", "CACHE_URL", "SANDBOX_FAULTS", "DJANGO_SETTINGS_MODULE", "ENV_FILE",
        "SECRET_KEY", "CLAIM_SECRETS_KEYS", "ALLOWED_HOSTS", "SANDBOX", "DEBUG",
    }  # fmt: skip
    env = {key: value for key, value in os.environ.items() if key not in leaks}
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "run_scaled.py"),
            "--port",
            str(port),
            "--database-url",
            DATABASE_URL,
            "--cache-url",
            CACHE_URL,
            "--env-file",
            str(workdir / ".env.scaled"),
            "--mail-dir",
            str(workdir / "mail"),
            "--fresh",
            "--schedule-every",
            "5",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"run-scaled exited ({process.returncode}):\n{_tail(workdir)}")
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"run-scaled did not become healthy:\n{_tail(workdir)}")
            time.sleep(0.5)
        yield {"url": url, "pid": process.pid, "workdir": workdir}
    finally:
        # The database is left for a look afterwards; the next run starts it afresh.
        _stop(process)
        log.close()


def _tail(workdir: Path, lines: int = 40) -> str:
    return "\n".join((workdir / "run-scaled.log").read_text().splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to honcho (which stops what it started), then SIGKILL to any straggler."""
    started = _descendants(process.pid)
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    for pid, command in started.items():
        try:
            still = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue  # gone, as it should be
        if still.replace(b"\0", b" ").decode().strip() == command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_layout_is_what_it_says(scaled):
    commands = list(_descendants(scaled["pid"]).values())
    gunicorn = [c for c in commands if "gunicorn config.wsgi" in c]
    workers = [c for c in commands if "manage.py db_worker" in c]
    assert len(gunicorn) == 3, commands  # the arbiter and 2 worker processes
    assert len(workers) == 2, commands

    # Anonymous callers get the status only; each check is for staff (the demo's admin).
    health = requests.get(f"{scaled['url']}/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    staff = requests.Session()
    staff.get(f"{scaled['url']}/login/", timeout=5)
    staff.post(
        f"{scaled['url']}/login/",
        data={
            "login": "admin",
            "password": "connect-demo",
            "csrfmiddlewaretoken": staff.cookies["csrftoken"],
        },
        timeout=5,
    )
    health = staff.get(f"{scaled['url']}/healthz", timeout=5).json()
    assert health["status"] == "ok"
    assert health["checks"]["database"]["vendor"] == "postgresql"
    assert health["checks"]["cache"]["ok"] is True
    assert health["checks"]["upstream"]["sandbox"] is True


def test_emails_go_to_files_never_into_the_logs(scaled):
    """A password reset's link is a key: it is in the mail folder, not in any output."""
    url, mail = scaled["url"], scaled["workdir"] / "mail"
    browser = requests.Session()
    browser.get(f"{url}/password/reset/", timeout=5)
    sent = browser.post(
        f"{url}/password/reset/",
        data={"email": "alice@example.com", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        timeout=10,
    )
    assert sent.status_code in (200, 302), sent.status_code
    deadline = time.monotonic() + 20
    while not any("/password/reset/key/" in p.read_text() for p in mail.glob("*")):
        assert time.monotonic() < deadline, f"no reset email in {mail}"
        time.sleep(0.5)

    log = (scaled["workdir"] / "run-scaled.log").read_text()
    assert f"one file each in {mail}" in log  # the banner says where
    assert "/password/reset/key/" not in log
    assert "Subject:" not in log


def test_a_member_connects_and_her_claims_complete_once(scaled, page, screenshot):
    url = scaled["url"]
    problems = watch_problems(page)
    log_in(page, url)
    connect_in_iframe(page, "GitHub", "octo-pro")
    expect(page.locator("#accounts").get_by_text("octo-pro", exact=True)).to_be_visible(
        timeout=20_000
    )

    page.get_by_role("link", name="Claims", exact=True).click()
    for slug in ("github-starter", "github-builders", "github-workflow"):
        expect(page.locator(f"#claim-{slug} .badge")).to_have_text("Completed", timeout=60_000)
    screenshot("run-scaled-claims-completed")
    assert problems == []

    with psycopg.connect(DATABASE_URL) as conn:
        completions = conn.execute(
            """
            SELECT c.slug, k.state
            FROM claims_completion k
            JOIN claims_claim c ON c.id = k.claim_id
            JOIN users_user u ON u.id = k.member_id
            WHERE u.username = 'alice'
            """
        ).fetchall()
        delivered = conn.execute(
            """
            SELECT a.claim_id, count(*)
            FROM sandbox_bitbadgesattempt a
            WHERE a.status = 'success'
            GROUP BY a.claim_id
            """
        ).fetchall()
        in_store = conn.execute("SELECT count(*) FROM sandbox_bitbadgesstoreentry").fetchone()[0]
        accounts = conn.execute(
            "SELECT count(*) FROM connections_connectedaccount a"
            " JOIN users_user u ON u.id = a.member_id WHERE u.username = 'alice'"
        ).fetchone()[0]
    states = dict(completions)
    assert states["github-starter"] == "completed"
    assert states["github-builders"] == "completed"
    assert states["github-workflow"] == "completed"
    assert accounts == 1  # the webhook and the browser's callback recorded one account
    # Every BitBadges claim completed for her was completed once (the starter claim, the
    # one the workflow completes, and any the demo's store whitelists).
    assert len(delivered) >= 2
    assert all(count == 1 for _, count in delivered), delivered
    assert in_store == 1  # and she was added to the builders' store once
