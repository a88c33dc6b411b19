"""The newcomer's whole journey over HTTP, nothing faked: the claim page's Sign in with
BitBadges against the sandbox, back on the claim, GitHub connected through Pipedream's
hosted page (the sandbox), the real task worker, and the badge delivered by the
BitBadges sandbox to the proven address; no password, no email, no address typed."""

import re

import pytest
from django.contrib.auth import get_user_model

from claims.models import Completion
from core.addresses import to_bitbadges_address
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from tests.claims.claims_support import run_worker
from tests.connections.views_support import local
from tests.siwbb.siwbb_support import ALICE_EIP55, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/c/github-starter/"


def test_sign_in_with_bitbadges_connect_github_and_the_claim_completes(
    client, demo_claims, siwbb_sandbox
):
    claim = demo_claims["github-starter"]
    page = client.get(URL).content.decode()
    assert re.search(r'name="next" value="/c/github-starter/"', page)
    assert sign_in(client, next_url=URL)["Location"] == URL
    member = get_user_model().objects.get()
    assert member.address == ALICE_EIP55 and member.address_proven
    assert not member.has_usable_password() and member.email == ""

    assert 'data-step="connect"' in client.get(URL).content.decode()
    hand_off = client.get(f"/connect/github/?next={URL}")
    assert hand_off.status_code == 302, hand_off.content[:300]
    answer = client.post(local(hand_off["Location"]), {"action": "allow", "name": "octo"})
    done = client.get(local(answer["Location"]), follow=True)
    assert done.redirect_chain[-1] == (URL, 302)
    run_worker()

    completion = Completion.objects.get(claim=claim, member=member)
    assert completion.state == "completed", completion.reason
    assert completion.address == to_bitbadges_address(ALICE_EIP55)
    assert bb_sandbox_attempts.completions(claim.bitbadges_claim_id, ALICE_EIP55) == 1
    assert 'data-step="completed"' in client.get(URL).content.decode()
