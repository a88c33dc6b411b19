"""Settings for the read API, api/ (star-imported through config/settings_host.py)."""
