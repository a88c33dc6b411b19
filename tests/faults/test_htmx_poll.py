"""In a real browser, /claims/ keeps polling through a 503 and then shows the result.

The poll's database connection is cut twice in a row (the retry too), so the member's
page gets the 503; htmx swaps nothing on an error and the element keeps its `every`
trigger, so the next poll, once the worker has completed the claim, shows it.
"""

import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_claims_page_keeps_polling_through_a_503(
    demo_claims, alice, connect, upstreams, client, dbdrop, worker, page
):
    page.set_default_timeout(15_000)
    connect(alice, "github", "octo-pro")  # the claims are queued: the page polls
    client.force_login(alice)
    host = upstreams.url.split("//", 1)[1].split(":")[0]
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "domain": host,
                "path": "/",
            }
        ]
    )
    polls = []
    page.on(
        "response",
        lambda r: (
            r.url.endswith("/claims/")
            and r.request.headers.get("hx-request") == "true"
            and polls.append(r.status)
        ),
    )
    page.goto(f"{upstreams.url}/claims/")
    assert page.locator("#claims[data-polling]").count() == 1
    starter = page.locator("#claim-github-starter")
    assert starter.get_attribute("data-state") == "waiting"

    cut = dbdrop.drop(sql='"claims_completion"', path="/claims/", times=2)
    for _ in range(150):  # Playwright delivers its events only while it is called
        if 503 in polls:
            break
        page.wait_for_timeout(100)
    assert 503 in polls, (polls, cut.fired)
    assert len(cut.fired) == 2
    worker()  # the claims complete meanwhile

    page.locator('#claim-github-starter[data-state="completed"]').wait_for()
    assert 500 not in polls
    assert polls.index(503) < len(polls) - 1  # polled again after the 503
    assert polls[-1] == 200
