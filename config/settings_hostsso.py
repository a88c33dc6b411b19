"""Settings for sign-on from the host site, users/hostsso/ (star-imported through config/settings_host.py)."""
