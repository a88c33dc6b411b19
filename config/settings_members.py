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
