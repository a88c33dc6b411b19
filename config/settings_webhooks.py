"""Settings for the signed webhooks to the host site, webhooks/ (star-imported through config/settings_host.py).

Every variable read here is listed in `.env.example`. Times are in seconds.
"""

from django.core.exceptions import ImproperlyConfigured

from config.environment import days, env


def _number(name: str, default: float, low: float, high: float) -> float:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails this too
        raise ImproperlyConfigured(
            f"{name} must be a number from {low:g} to {high:g}, not {raw!r}."
        )
    return value


# The retry schedule follows the spirit of the Standard Webhooks guidance: retry with
# exponential backoff and random jitter over a span of days, so a receiver that is down
# for a night still gets every message. A message is tried at once, then after about
# WEBHOOK_RETRY_BASE seconds, each wait four times the one before (jittered by a
# fifth either way) up to WEBHOOK_RETRY_MAX: with the defaults about 5 s, 20 s, 80 s,
# 5 min, 21 min, 1.4 h, 5.7 h, 23 h, 24 h, which is 10 tries over about two and a
# quarter days (the spec's example is 10 tries over about three). After the last, the
# delivery is failed; the admin's Replay sends it again with the same webhook-id.
WEBHOOK_ATTEMPTS = int(_number("WEBHOOK_ATTEMPTS", 10, 1, 50))
if _number("WEBHOOK_ATTEMPTS", 10, 1, 50) != WEBHOOK_ATTEMPTS:
    raise ImproperlyConfigured("WEBHOOK_ATTEMPTS must be a whole number of tries, from 1 to 50.")
WEBHOOK_RETRY_BASE = _number("WEBHOOK_RETRY_BASE", 5.0, 0.0, 86400.0)
WEBHOOK_RETRY_MAX = _number("WEBHOOK_RETRY_MAX", 86400.0, 0.0, 7 * 86400.0)
# One try, whole (connect, send, the answer's status and headers): the spec recommends
# 15 to 30 s, enough for a receiver to store the message before it answers.
WEBHOOK_SEND_TIMEOUT = _number("WEBHOOK_SEND_TIMEOUT", 15.0, 0.1, 60.0)
# After Rotate secret, how long the old secret still signs each message beside the new
# one (two signatures in webhook-signature), so the host can switch without losing any.
WEBHOOK_SECRET_OVERLAP = _number("WEBHOOK_SECRET_OVERLAP", 86400.0, 0.0, 30 * 86400.0)
# How long one `send_webhooks` pass (the scheduler's, each minute) may spend sending
# what no task worker took before it leaves the rest for the next pass.
WEBHOOK_PASS_BUDGET = _number("WEBHOOK_PASS_BUDGET", 20.0, 0.0, 300.0)
# Delivered and failed messages (their bodies name members by their ids) are kept in
# the admin's delivery log this many days, then `send_webhooks` deletes them.
WEBHOOK_LOG_DAYS = days("WEBHOOK_LOG_DAYS", 30)
