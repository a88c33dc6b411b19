"""Signals of Sign in with BitBadges, for the apps above users (claims re-checks)."""

from django.dispatch import Signal

# Sent when BitBadges proves an address that was not the member's proven one (a connect,
# a log-in with the account of an address they typed), with `member`, `address` (what the
# member's address is now) and `previous` (what it was). Not for a log-in that only
# renews a proof, nor for a sign-up (a new member has nothing waiting).
address_proven = Signal()
