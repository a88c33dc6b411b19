"""Settings for what members see and hear: languages, notifications, fresh health.

Star-imported by config/settings.py; every variable read from the environment is listed
in `.env.example`.
"""

from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Languages ------------------------------------------------------------------------

# The languages members may read the site in (LocaleMiddleware picks one from the
# browser's Accept-Language); the catalogues live in locale/<code>/LC_MESSAGES/.
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Notifications (the notifications app: emails to members) ----------------------------

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from config.environment import env as _env  # noqa: E402
from config.environment import rate_limit as _rate_limit  # noqa: E402

# Seconds an "account stopped working" email waits before it goes: every account one sync
# broke in that time goes in the same email, and an account working again by then sends
# nothing.
NOTIFICATIONS_SETTLE_SECONDS = _env.int("NOTIFICATIONS_SETTLE_SECONDS", default=120)
if NOTIFICATIONS_SETTLE_SECONDS < 0:
    raise ImproperlyConfigured(
        f"NOTIFICATIONS_SETTLE_SECONDS is seconds, 0 or more, not {NOTIFICATIONS_SETTLE_SECONDS}."
    )
# Seconds a "you earned" email waits: every badge the member earns in that time (one
# connect or sync completing several claims) goes in the same email.
NOTIFICATIONS_BADGE_SETTLE_SECONDS = _env.int("NOTIFICATIONS_BADGE_SETTLE_SECONDS", default=60)
# Seconds after an "account stopped working" email during which the same account breaking
# again sends none (the row is skipped, saying when the member was told).
NOTIFICATIONS_ACCOUNT_COOLDOWN_SECONDS = _env.int(
    "NOTIFICATIONS_ACCOUNT_COOLDOWN_SECONDS", default=24 * 60 * 60
)
# Days a sent, skipped or failed row is kept; the sweep (manage.py notifications_sweep)
# deletes older ones.
NOTIFICATIONS_RETENTION_DAYS = _env.int("NOTIFICATIONS_RETENTION_DAYS", default=365)
for _name in (
    "NOTIFICATIONS_SETTLE_SECONDS",
    "NOTIFICATIONS_BADGE_SETTLE_SECONDS",
    "NOTIFICATIONS_ACCOUNT_COOLDOWN_SECONDS",
):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} is seconds, 0 or more, not {globals()[_name]}.")
if NOTIFICATIONS_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(
        f"NOTIFICATIONS_RETENTION_DAYS is days, 1 or more, not {NOTIFICATIONS_RETENTION_DAYS}."
    )
# The unsubscribe page: links that are not ours (someone guessing), per client address;
# count/seconds. A link we made is never counted here: mail providers and link scanners
# share addresses.
NOTIFICATIONS_UNSUBSCRIBE_RATE_LIMIT = _rate_limit("NOTIFICATIONS_UNSUBSCRIBE_RATE_LIMIT", "30/600")
# The unsubscribe page, per link we made (one member, one kind): count/seconds.
NOTIFICATIONS_UNSUBSCRIBE_LINK_RATE_LIMIT = _rate_limit(
    "NOTIFICATIONS_UNSUBSCRIBE_LINK_RATE_LIMIT", "60/3600"
)

# --- Fresh health (connections/freshness.py) ----------------------------------------------

# Opening the home page, /claims/ or /accounts/ re-reads the member's accounts from
# Pipedream in the background when the oldest was last read more than this many seconds
# ago; at most once per member in that time (0: never, only the scheduler's poll).
FRESH_HEALTH_SECONDS = _env.int("FRESH_HEALTH_SECONDS", default=300)

# --- Sign in with BitBadges (users/siwbb/: allauth's social accounts) ----------------------

# The OAuth 2.0 client BitBadges issues for this site (https://bitbadges.io/developer, with
# the redirect URI {PUBLIC_URL}/auth/bitbadges/login/callback/ registered there). Both
# empty: Sign in with BitBadges is off (no buttons, /auth/bitbadges/* answer 404); one
# without the other is a `manage.py check` warning. `sandbox_setup` writes the sandbox's.
BITBADGES_CLIENT_ID = _env.str("BITBADGES_CLIENT_ID", default="").strip()
BITBADGES_CLIENT_SECRET = _env.str("BITBADGES_CLIENT_SECRET", default="").strip()
# BitBadges' sign-in page. Empty: https://bitbadges.io/siwbb/authorize, or with SANDBOX
# on, the sandbox's page on PUBLIC_URL (users/siwbb/config.py decides when it is read).
# The code is exchanged at BITBADGES_API_URL + /api/v0/siwbb/token, within BITBADGES_TIMEOUT.
BITBADGES_SIWBB_AUTHORIZE_URL = _env.str("BITBADGES_SIWBB_AUTHORIZE_URL", default="").strip()

SOCIALACCOUNT_ADAPTER = "users.siwbb.adapter.SocialAccountAdapter"
# A newcomer gets an account at once (SIGNUP_OPEN permitting): BitBadges gives an address,
# never an email, and a username is made from the address.
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_QUERY_EMAIL = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
# /auth/bitbadges/login/ starts only on a POST (a GET shows a page with a button).
SOCIALACCOUNT_LOGIN_ON_GET = False
# No scopes are asked, so BitBadges issues no token worth keeping.
SOCIALACCOUNT_STORE_TOKENS = False
# Connecting BitBadges asks the member to confirm it is them (password, second factor or,
# for members without a password, Confirm with BitBadges) before they leave for
# BitBadges, and again on the way back when that ran out meanwhile (users/siwbb/
# adapter.py); disconnecting asks before it happens.
SOCIALACCOUNT_REAUTHENTICATION_REQUIRED = True

# --- Accounts (django-allauth's account app) ----------------------------------------------
ACCOUNT_ADAPTER = "users.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# "optional", not "mandatory": a member may log in before confirming, but minting a
# Connect token (and a claim completing) needs a verified address. The link goes out at
# sign-up and again at each login while the address is unconfirmed. A sign-up itself is
# handled as "mandatory" (users/forms.py): it never logs in, so a new and a registered
# address get the same "check your inbox"; the link, opened in the same browser, logs
# the newcomer in and carries on to where they signed up from.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# Addresses per member (each new one is sent a link: no mailing strangers in bulk).
ACCOUNT_MAX_EMAIL_ADDRESSES = 3
# The link opens a page with a button (mail scanners that follow links confirm nothing).
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
# Password reset answers the same for a known and an unknown address.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Connect & Claim] "
ACCOUNT_SESSION_REMEMBER = None  # the member chooses ("Keep me logged in")
ACCOUNT_LOGOUT_REDIRECT_URL = "/login/"
ACCOUNT_USERNAME_BLACKLIST = ["admin", "administrator", "root", "staff", "support", "sandbox"]
# allauth's limits, kept in the cache (CACHE_URL: Redis for several processes). "ip" is
# the client's address as read under "The edge" (core.ratelimit.client_ip).
# Wrong passwords (users/adapter.py) are counted per account, whichever login string
# names it (bob, BOB, bob@example.com), in three buckets, each counted only if the ones
# before it allowed the try: 10 a minute from one address (any accounts); 5 per account
# from one address in 5 minutes (the tight one: a guesser locks out only their own
# address); 15 per account from all addresses in 5 minutes (distributed guessing: it
# takes 3+ addresses to lock a member out, for at most 5 minutes).
# "login_failed" itself counts wrong second-factor codes (allauth.mfa, key: the member).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "login_failed_from": "10/m/ip",
    "login_failed_account_from": "5/5m/key",
    "login_failed_account": "15/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "confirm_email": "1/3m/key",
}

# Our forms: look-alike characters normalised or refused, sign-up that does not tell
# whether an email is registered, no adding another member's address, and password
# reset links only to a member who confirmed the address or signs in with it.
ACCOUNT_FORMS = {
    "login": "users.forms.LoginForm",
    "signup": "users.forms.SignupForm",
    "add_email": "users.forms.AddEmailForm",
    "reset_password": "users.forms.ResetPasswordForm",
}
# Adding, removing or changing the primary email asks for the password again (allauth's
# "Confirm it is you"; logging in does not count), which then lasts 5 minutes. The old
# address gets a notice of changes (and the account's address, of password changes).
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_EMAIL_NOTIFICATIONS = True
