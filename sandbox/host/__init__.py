"""The host site's identity provider, emulated: an OpenID Connect provider at /sandbox/host/.

It stands in for the site that runs Connect & Claim ("Sandbox Community"): its members
sign on here through OpenID Connect (users/hostsso/ is the product's side). Built on
Authlib's OAuth 2.0 / OpenID Connect server (sandbox/host/server.py); docs/fidelity.md,
"Sign-on from the host site", names the source of each behaviour.
"""
