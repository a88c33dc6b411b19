"""Signals of Sign in with BitBadges, for the apps above users (claims re-checks)."""

from django.dispatch import Signal

# Sent when BitBadges proves a member's address (a sign-up, a log-in, a connect), with
# `member`, `address` (what the member's address is now) and `previous` (what it was).
address_proven = Signal()
