"""The LOGGING dictionary settings.py builds from LOG_FORMAT and LOG_LEVEL.

Kept apart from the settings so that it can be read (and tested) on its own; it imports
nothing of Django's, since the settings import it before Django is set up.
"""


def logging_dict(log_format: str, log_level: str) -> dict:
    """dictConfig's dictionary: one console handler, in `log_format`, with request ids."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "config.observability.RequestIdFilter"},
            "request_path": {"()": "config.observability.RequestPathFilter"},
        },
        "formatters": {
            "plain": {
                "()": "config.observability.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "format": "%(levelname)s %(name)s %(request_id)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id", "request_path"],
            },
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            "connections": {"level": log_level},
            "claims": {"level": log_level},
            "webhooks": {"level": log_level},
            "api": {"level": log_level},
            "sandbox": {"level": log_level},
            "users": {"level": log_level},
            "members": {"level": log_level},
            "core": {"level": log_level},
            "config": {"level": log_level},
            "log_request_id": {"level": log_level},
            "django_tasks_db": {"level": log_level},
            "django.tasks": {"level": log_level},
            # urllib3's debug lines carry whole URLs, query strings included (BitBadges'
            # dynamic store lookup takes its dataSecret there): never below WARNING.
            "urllib3": {"level": "WARNING"},
        },
    }
