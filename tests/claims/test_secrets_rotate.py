"""`manage.py claim_secrets_rotate`: a key rotation loses nothing."""

import io

import pytest
from django.core.management import CommandError, call_command

from claims import secrets
from claims.models import Claim

pytestmark = pytest.mark.django_db

OLD = "old-claim-secrets-key-0123456789abcdefghij"
NEW = "new-claim-secrets-key-0123456789abcdefghij"


def make_claim(slug: str, password: str = "pw", store_secret: str = "") -> Claim:
    claim = Claim(
        slug=slug,
        name=slug,
        delivery="bitbadges",
        bitbadges_claim_id="c1",
        password_instance_id="pwd",
    )
    claim.set_password(password)
    claim.set_store_secret(store_secret)
    claim.save()
    return claim


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("claim_secrets_rotate", *args, stdout=out)
    return out.getvalue()


def test_rotation_re_encrypts_with_the_newest_key(settings):
    settings.CLAIM_SECRETS_KEYS = [OLD]
    claim = make_claim("one", "hunter2", "store-secret")
    before = claim.password_encrypted

    settings.CLAIM_SECRETS_KEYS = [NEW, OLD]
    assert "2 secret(s) re-encrypted" in rotate()
    claim.refresh_from_db()
    assert claim.password_encrypted != before

    settings.CLAIM_SECRETS_KEYS = [NEW]  # the old key is gone: still readable
    assert claim.password() == "hunter2"
    assert claim.store_secret() == "store-secret"


def test_dry_run_writes_nothing(settings):
    settings.CLAIM_SECRETS_KEYS = [OLD]
    claim = make_claim("one")
    before = claim.password_encrypted
    settings.CLAIM_SECRETS_KEYS = [NEW, OLD]
    assert "1 secret(s) can be re-encrypted" in rotate("--dry-run")
    claim.refresh_from_db()
    assert claim.password_encrypted == before


def test_an_unreadable_secret_is_named_and_kept(settings):
    settings.CLAIM_SECRETS_KEYS = [OLD]
    lost = make_claim("lost")
    settings.CLAIM_SECRETS_KEYS = [NEW]
    kept = make_claim("kept")
    with pytest.raises(CommandError, match=r"No configured key can read: lost \(password\)"):
        rotate()
    lost.refresh_from_db()
    with pytest.raises(secrets.SecretUnreadable):
        lost.password()
    kept.refresh_from_db()
    assert kept.password() == "pw"


def test_trigger_signing_keys_are_rotated_too(settings, django_user_model):
    from claims.models import TriggerDeployment

    settings.CLAIM_SECRETS_KEYS = [OLD]
    claim = make_claim("stars", "pw")
    member = django_user_model.objects.create_user(username="octo", password="x")
    mine = TriggerDeployment(claim=claim, member=member, pipedream_id="dc_1", status="active")
    mine.set_signing_key("member-key")
    mine.save()
    site = TriggerDeployment(claim=make_claim("shared"), pipedream_id="dc_2", status="active")
    site.set_signing_key("site-key")
    site.save()

    settings.CLAIM_SECRETS_KEYS = [NEW, OLD]
    assert "4 secret(s) re-encrypted" in rotate()
    settings.CLAIM_SECRETS_KEYS = [NEW]
    mine.refresh_from_db()
    site.refresh_from_db()
    assert (mine.signing_key(), site.signing_key()) == ("member-key", "site-key")


def test_an_unreadable_signing_key_is_named(settings, django_user_model):
    from claims.models import TriggerDeployment

    settings.CLAIM_SECRETS_KEYS = [OLD]
    deployment = TriggerDeployment(claim=make_claim("stars"), pipedream_id="dc_9", status="active")
    deployment.set_signing_key("k")
    deployment.save()
    settings.CLAIM_SECRETS_KEYS = [NEW]  # the old key was dropped before rotating
    with pytest.raises(CommandError, match="the signing key of trigger dc_9 \\(stars\\)"):
        rotate()
