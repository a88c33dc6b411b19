"""Members' upstream values in the admin: only for staff with their own permission.

What a criterion read on a member's account (a follower count, a login, an email in a
profile, a trigger's event) belongs to the member. Seeing who would qualify, or why a
completion stopped, does not need it: without `claims.view_member_values` the admin shows
the same pages in words that carry no such value (passed / not met / no account / error).
"""

from typing import Any

from django.utils.html import format_html

PERMISSION = "claims.view_member_values"
HIDDEN = "(hidden)"
WHY_HIDDEN = "Hidden: seeing members' upstream values needs its own permission."
# Evidence values that are ours, not read upstream.
_MARKERS = {"(not checked)", "(error)", "(absent)", ""}


def can_see(request) -> bool:
    return bool(request.user.has_perm(PERMISSION))


def is_check(item: dict[str, Any]) -> bool:
    """A requirement's check ("criterion:<pk>"; "criterion" before requirements)."""
    return str(item.get("rule", "")).split(":", 1)[0] == "criterion"


def evidence_item(item: dict[str, Any]) -> dict[str, Any]:
    """One evidence row as shown without the permission. Only the checks hold values
    read upstream (what an action or proxy call returned); the other rules' values are
    the site's own (accounts connected, the member's address, email confirmed)."""
    if not is_check(item):
        return item
    value = str(item.get("value", ""))
    if item.get("passed"):
        detail = ""
    elif value == "(not checked)":
        detail = item.get("detail", "")  # asks for an account: no value in it
    elif value == "(error)":
        detail = "Checking the member's account failed."
    else:
        detail = "Not met."
    return {**item, "value": value if value in _MARKERS else HIDDEN, "detail": detail}


def completion_reason(completion) -> str:
    """The completion's reason, unless it quotes what the criterion read (its detail
    is the member's own explanation: "Needs x ≥ 5; yours is 3")."""
    reason = completion.reason or ""
    items = completion.evidence if isinstance(completion.evidence, list) else []
    for item in items:
        if not isinstance(item, dict) or not is_check(item):
            continue
        value = str(item.get("value", ""))
        if reason and (reason == item.get("detail") or (value not in _MARKERS and value in reason)):
            shown = evidence_item(item)["detail"] or "Not met."
            return f"{item.get('label') or 'Criterion'}: {shown}"
    return reason


def event_details(details: Any) -> Any:
    """An event's details: the reason it recorded may quote the criterion's value. (A
    staff member's own reason for a revoke, re-issue or grant is `staff_reason`: the
    ledger shows who did it and why to every staff member who may read it.)"""
    if isinstance(details, dict) and "reason" in details:
        return {**details, "reason": WHY_HIDDEN}
    return details


def hidden_html():
    return format_html("<span class='help'>{}</span>", WHY_HIDDEN)


class HidesMemberValues:
    """A ModelAdmin (or inline) whose fields in `value_fields` show members' upstream
    values: for staff without the permission each is swapped for the field named next to
    it, which shows the same thing without them."""

    value_fields: dict[str, str] = {}
    value_search_fields: tuple[str, ...] = ()

    def _swapped(self, request, names):
        if can_see(request):
            return names
        return tuple(self.value_fields.get(name, name) for name in names)

    def get_fields(self, request, obj=None):
        return self._swapped(request, super().get_fields(request, obj))  # type: ignore[misc]

    def get_readonly_fields(self, request, obj=None):
        return self._swapped(request, super().get_readonly_fields(request, obj))  # type: ignore[misc]

    def get_list_display(self, request):
        return self._swapped(request, super().get_list_display(request))  # type: ignore[misc]

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)  # type: ignore[misc]
        if can_see(request):
            return fields
        # Searching by a value would tell whether some member has it.
        return tuple(name for name in fields if name not in self.value_search_fields)
