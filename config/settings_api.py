"""Settings for the read API, api/ (star-imported through config/settings_host.py).

Every variable read here is listed in `.env.example`.
"""

from config.environment import rate_limit

# Requests one API key may make per window, "count/seconds", counted in the shared cache
# (so the limit holds across every web process behind a balancer). Past it: 429 with
# Retry-After until the window ends.
API_RATE_LIMIT = rate_limit("API_RATE_LIMIT", "300/60")
# Requests carrying a key that is not one of ours (unknown or malformed), per client
# address and window, "count/seconds". Past it, that address gets 429 for every API
# request, a right key included, until the window ends: guessing keys costs a window
# per few tries (a real key is 256 random bits; this keeps the noise out of the logs).
API_AUTH_FAILURE_RATE_LIMIT = rate_limit("API_AUTH_FAILURE_RATE_LIMIT", "20/600")
