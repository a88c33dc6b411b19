"""Host members coming back to the callback at the same moment.

Three tabs of one host member (a double click, two claim pages): one account, every tab
logged in to it. Two host members whose names make the same username ("sam" and "sam_"
are both "sam" here): two accounts, two usernames, nobody logged in to the other's. No
500 either way.
"""

import threading

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.hostsso.host_support import START_PATH, at_host

pytestmark = pytest.mark.django_db(transaction=True)


def _tab(base: str, username: str) -> tuple[requests.Session, str]:
    """A browser that pressed Log in with <host> and approved as `username`: where the
    host sends it back."""
    web = requests.Session()
    web.get(base + "/login/", timeout=10)
    started = web.post(
        base + START_PATH,
        data={"process": "login", "csrfmiddlewaretoken": web.cookies.get("csrftoken")},
        headers={"Referer": base + "/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert started.status_code == 302, started.text[:300]
    return web, at_host(started.headers["Location"], member="", username=username)


def _together(tabs) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(len(tabs))

    def come_back(web: requests.Session, location: str) -> None:
        barrier.wait()
        statuses.append(web.get(location, allow_redirects=False, timeout=20).status_code)

    threads = [threading.Thread(target=come_back, args=tab) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _logged_in_as(base: str, web: requests.Session) -> str:
    profile = web.get(base + "/profile/", allow_redirects=False, timeout=10)
    assert profile.status_code == 200
    return profile.text


def test_one_host_member_in_three_tabs_gets_one_account(host):
    tabs = [_tab(host.url, "sam") for _ in range(3)]
    assert _together(tabs) == [302, 302, 302]
    [member] = get_user_model().objects.all()
    assert SocialAccount.objects.get().user == member
    for web, _ in tabs:
        assert member.username in _logged_in_as(host.url, web)


def test_two_host_members_after_one_username_get_two(host):
    tabs = [_tab(host.url, "sam"), _tab(host.url, "sam_")]
    assert _together(tabs) == [302, 302]
    members = get_user_model().objects.order_by("pk")
    assert len(members) == 2 and len({member.username for member in members}) == 2
    assert all(member.username.startswith("sam") for member in members)
    logins = dict(SocialAccount.objects.values_list("user_id", "extra_data__preferred_username"))
    assert sorted(logins.values()) == ["sam", "sam_"]
    for member in members:
        web = tabs[["sam", "sam_"].index(logins[member.pk])][0]
        assert f"Signed in as <strong>{member.username}</strong>" in _logged_in_as(host.url, web)
