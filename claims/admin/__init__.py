"""The claims admin, one module per subject: claims (claim.py, with its form in
forms.py), the ledger of completions and the delivery pause (ledger.py), and triggers
(triggers.py). Importing them registers their ModelAdmins."""

from claims.admin import claim, jobs, ledger, triggers  # noqa: F401
