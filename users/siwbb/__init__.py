"""Sign in with BitBadges: a django-allauth social account provider ("bitbadges").

BitBadges' OAuth 2.0 flow (SIWBB) proves which address a member holds: the code it
returns is exchanged server-side (client.py) and the `bitbadgesAddress` it answers with
is the SocialAccount's uid. adapter.py decides what that does to the member (sign-up,
log-in, connect); proof.py keeps User.address_proven_at true to it.
"""
