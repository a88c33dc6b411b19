"""Two tabs coming back from BitBadges for one new wallet at the same moment.

A double click or two claim pages: each has its own start and its own code, and their
callbacks arrive together. One account is made; the other tabs log in to it. No 500, no
account without its login (an address proven on an account nobody can reach).
"""

import threading

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import ALICE_0X, ALICE_BB, at_bitbadges

pytestmark = pytest.mark.django_db(transaction=True)

TABS = 3


def _tab(base: str) -> tuple[requests.Session, str]:
    """A browser that pressed Sign in with BitBadges and approved: where BitBadges sends it."""
    web = requests.Session()
    web.get(base + "/login/", timeout=10)
    started = web.post(
        base + "/auth/bitbadges/login/",
        data={"process": "login", "csrfmiddlewaretoken": web.cookies.get("csrftoken")},
        headers={"Referer": base + "/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert started.status_code == 302, started.text[:300]
    return web, at_bitbadges(started.headers["Location"], address=ALICE_0X)


@pytest.mark.parametrize("round_", range(2))
def test_callbacks_at_the_same_moment_make_one_account_and_log_every_tab_in(siwbb, round_):
    tabs = [_tab(siwbb.url) for _ in range(TABS)]
    statuses: list[int] = []
    barrier = threading.Barrier(TABS)

    def come_back(web: requests.Session, location: str) -> None:
        barrier.wait()
        statuses.append(web.get(location, allow_redirects=False, timeout=20).status_code)

    threads = [threading.Thread(target=come_back, args=tab) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * TABS
    [member] = get_user_model().objects.all()
    assert list(SocialAccount.objects.values_list("user", "uid")) == [(member.pk, ALICE_BB)]
    assert member.address_proven
    for web, _ in tabs:
        profile = web.get(siwbb.url + "/profile/", allow_redirects=False, timeout=10)
        assert profile.status_code == 200 and member.username in profile.text
