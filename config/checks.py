"""Deploy checks of the layout (`manage.py check --deploy`; README, "Running it at scale").

With DEBUG off, the cache holds every rate limit, allauth's attempt counters and the
OAuth state, and the mailer carries every bearer link (settings refuse a console mailer). deploy/gunicorn.conf.py refuses to
start on the same findings (`cache_findings`, `mail_findings`), so a server started with
it and one started without it (checked with `check --deploy`) are held to the same rules.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

SHARED_CACHE_HINT = "Set CACHE_URL to a shared cache, such as CACHE_URL=redis://127.0.0.1:6379/1."


def cache_kind() -> str:
    """'dummy', 'locmem' or another backend's module name, of the default cache."""
    backend = settings.CACHES["default"]["BACKEND"]
    return backend.rsplit(".", 2)[-2]


def cache_findings() -> list[CheckMessage]:
    if settings.DEBUG:
        return []
    backend = settings.CACHES["default"]["BACKEND"]
    kind = cache_kind()
    if kind == "dummy":
        return [
            Error(
                f"The cache keeps nothing ({backend}): with it every rate limit, allauth's "
                "login attempt counters and the Connect sign-in state are silently off.",
                hint=SHARED_CACHE_HINT,
                id="config.E001",
            )
        ]
    if kind == "locmem":
        return [
            Warning(
                f"The cache is each process's own ({backend}): with more than one web "
                "process or host, every rate limit is counted per process and multiplied "
                "by their number, and sign-in state started on one is missing on another.",
                hint=SHARED_CACHE_HINT + " A single web process may keep it.",
                id="config.W001",
            )
        ]
    return []


def mail_findings() -> list[CheckMessage]:
    """EMAIL_URL left unset with DEBUG off (settings then send to localhost:25)."""
    if settings.DEBUG or not getattr(settings, "EMAIL_URL_IS_DEFAULT", False):
        return []
    if settings.MAILERS["default"]["BACKEND"] == "core.mail.ConsoleEmailBackend":
        return []  # the sandbox's (settings refuse the console anywhere else)
    return [
        Warning(
            f"EMAIL_URL is not set: emails (password resets, address confirmations) go to "
            f"{settings.EMAIL_URL}, an SMTP server on this host, if there is one.",
            hint="Set EMAIL_URL to your mail server, such as "
            "EMAIL_URL=smtp+tls://user:password@smtp.example.com:587.",
            id="config.W002",
        )
    ]


@register(deploy=True)
def edge_check(app_configs, **kwargs) -> list[CheckMessage]:
    return cache_findings() + mail_findings()
