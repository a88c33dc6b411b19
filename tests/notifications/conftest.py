"""Fixtures for the notifications tests."""

import pytest


@pytest.fixture
def two_accounts(settings, upstreams, apps, member, make_claim, connect):
    """alice (no BitBadges address yet: nothing gets delivered) with a GitHub and a
    Discord account, and a claim needing each."""
    settings.NOTIFICATIONS_SETTLE_SECONDS = 0
    github = connect(member, "github", "octo")
    discord = connect(member, "discord", "octo#1")
    make_claim("stars", name="Star Gazer", apps=[apps["github"]])
    make_claim("chatter", name="Chatter", apps=[apps["discord"]])
    return member, github, discord


@pytest.fixture(autouse=True)
def badges_at_once(settings):
    """Badge emails without the settle delay, unless a test sets one."""
    settings.NOTIFICATIONS_BADGE_SETTLE_SECONDS = 0
