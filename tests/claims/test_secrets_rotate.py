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
