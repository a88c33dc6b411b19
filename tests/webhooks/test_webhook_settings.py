"""A malformed webhook setting stops the site at start with a sentence naming it."""

import pytest

from tests.settings_support import run

PRODUCTION = {
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "example.com",
    "CLAIM_SECRETS_KEYS": "k" * 40,
}


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEBHOOK_ATTEMPTS", "2.5", "WEBHOOK_ATTEMPTS must be a whole number of tries"),
        ("WEBHOOK_SEND_TIMEOUT", "soon", "WEBHOOK_SEND_TIMEOUT must be a number from 0.1 to 60"),
    ],
)
def test_a_malformed_webhook_setting_is_named(tmp_path, name, value, says):
    result = run(["check"], {**PRODUCTION, name: value}, tmp_path)
    assert result.returncode != 0
    assert says in result.stderr and "Traceback" not in result.stderr
