"""What the claims admin's pages share."""

import logging

from claims.models import (
    Completion,
)

logger = logging.getLogger(__name__)

State = Completion.State


class ReadOnly:
    """Audit records: listed and shown, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
