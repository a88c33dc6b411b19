"""Claim secrets at rest (claims/secrets.py): Fernet keyed by CLAIM_SECRETS_KEYS, rotatable."""

import pytest
from django.db import connection

from claims import secrets
from claims.models import Claim
from claims.secrets import SecretUnreadable

OLD_KEY = "old-claim-secrets-key-0123456789abcdef"
NEW_KEY = "new-claim-secrets-key-fedcba9876543210"
UNREADABLE = (
    "A stored claim secret cannot be decrypted with CLAIM_SECRETS_KEYS: the key that "
    "encrypted it is no longer configured. Enter the secret again."
)


@pytest.fixture
def keys(settings):
    """keys(*k): configure CLAIM_SECRETS_KEYS (the first encrypts, all decrypt)."""

    def configure(*values):
        settings.CLAIM_SECRETS_KEYS = list(values)

    configure(OLD_KEY)
    return configure


@pytest.mark.parametrize(
    "plain", ["hunter2", "pässwörd 🔑", " spaces kept ", "x" * 10_000, "line\nbreak"]
)
def test_round_trip(keys, plain):
    assert secrets.decrypt(secrets.encrypt(plain)) == plain


def test_empty_is_no_secret_both_ways(keys):
    assert secrets.encrypt("") == ""
    assert secrets.decrypt("") == ""
    assert secrets.rotate("") == ""


def test_ciphertext_hides_the_plaintext_and_differs_each_time(keys):
    first, second = secrets.encrypt("hunter2"), secrets.encrypt("hunter2")
    assert "hunter2" not in first
    assert first != second  # random IV: equal secrets do not look equal at rest
    assert secrets.decrypt(first) == secrets.decrypt(second) == "hunter2"


def test_an_old_ciphertext_still_decrypts_after_a_new_key_is_prepended(keys):
    old = secrets.encrypt("hunter2")
    keys(NEW_KEY, OLD_KEY)
    assert secrets.decrypt(old) == "hunter2"


def test_rotate_re_encrypts_with_the_newest_key(keys):
    old = secrets.encrypt("hunter2")
    keys(NEW_KEY, OLD_KEY)
    rotated = secrets.rotate(old)
    assert rotated != old
    keys(NEW_KEY)  # the old key is retired
    assert secrets.decrypt(rotated) == "hunter2"
    with pytest.raises(SecretUnreadable):
        secrets.decrypt(old)


def test_new_secrets_use_the_first_key(keys):
    keys(NEW_KEY, OLD_KEY)
    fresh = secrets.encrypt("hunter2")
    keys(NEW_KEY)
    assert secrets.decrypt(fresh) == "hunter2"


def test_a_secret_is_unreadable_once_its_key_is_removed(keys):
    old = secrets.encrypt("hunter2")
    keys(NEW_KEY)
    with pytest.raises(SecretUnreadable) as caught:
        secrets.decrypt(old)
    assert str(caught.value) == UNREADABLE
    with pytest.raises(SecretUnreadable, match="Enter the secret again"):
        secrets.rotate(old)


@pytest.mark.parametrize("garbage", ["not-a-token", "gAAAAA" + "A" * 100, "é∂ƒ", "=" * 5000])
def test_garbage_ciphertext_is_unreadable_not_a_crash(keys, garbage):
    with pytest.raises(SecretUnreadable):
        secrets.decrypt(garbage)


def test_a_tampered_ciphertext_is_unreadable(keys):
    token = secrets.encrypt("hunter2")
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(SecretUnreadable):
        secrets.decrypt(flipped)


# --- Through the Claim model ------------------------------------------------------------


def raw_column(claim: Claim, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM claims_claim WHERE id = %s", [claim.pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_claim_password_and_store_secret_are_never_stored_in_plain_text(keys):
    claim = Claim(slug="c", name="C", delivery="bitbadges", bitbadges_claim_id="x")
    claim.set_password("correct horse battery staple")
    claim.set_store_secret("store-secret-value")
    claim.save()

    stored_password = raw_column(claim, "password_encrypted")
    stored_secret = raw_column(claim, "store_secret_encrypted")
    assert stored_password and "correct horse" not in stored_password
    assert stored_secret and "store-secret-value" not in stored_secret

    again = Claim.objects.get(pk=claim.pk)
    assert again.has_password and again.has_store_secret
    assert again.password() == "correct horse battery staple"
    assert again.store_secret() == "store-secret-value"


@pytest.mark.django_db
def test_claim_without_secrets_has_none(keys):
    claim = Claim.objects.create(slug="c", name="C", delivery="workflow")
    assert (claim.has_password, claim.has_store_secret) == (False, False)
    assert claim.password() == "" and claim.store_secret() == ""
    claim.set_password("")
    assert claim.password_encrypted == ""


@pytest.mark.django_db
def test_claim_secret_unreadable_after_its_key_is_retired(keys):
    claim = Claim(slug="c", name="C", delivery="bitbadges")
    claim.set_password("hunter2")
    claim.save()
    keys(NEW_KEY)
    with pytest.raises(SecretUnreadable, match="no longer configured"):
        Claim.objects.get(pk=claim.pk).password()
