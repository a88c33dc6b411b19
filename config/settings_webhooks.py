"""Settings for the signed webhooks to the host site, webhooks/ (star-imported through config/settings_host.py)."""
