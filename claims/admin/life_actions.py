"""Staff actions on the ledger in the admin: Revoke and Re-issue on a completion's page,
"Grant a claim to a member" from the ledger's list or a claim's page.

Each is a page that says what will happen (upstream too) and asks for a reason, then a
POST with CSRF; the engine does the rest (claims/engine/staff_actions.py). Only staff
with claims.manage_completions see the buttons; anyone else gets 403, GET or POST.
"""

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from claims.engine import staff_actions
from claims.engine.staff_actions import REASON_MAX, StaffActionRefused
from claims.models import Claim, Completion

PERMISSION = "claims.manage_completions"
State = Completion.State
Delivery = Claim.Delivery

# What taking a delivery back does upstream, per method, before the staff member confirms.
UPSTREAM: dict[str, str] = {
    Delivery.DYNAMIC_STORE: (
        "The address {address} is removed from the dynamic store {store}; the ledger changes "
        "only once BitBadges accepts the removal. A badge already claimed on BitBadges "
        "through the store stays with that address."
    ),
    Delivery.BITBADGES: (
        "BitBadges cannot undo a completed claim: the badge stays with {address}. Only this "
        "site's ledger changes."
    ),
    Delivery.WORKFLOW: (
        "The workflow is not run: it completes claims and cannot take one back, so what it "
        "did for {address} on BitBadges stays. Only this site's ledger changes."
    ),
}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=REASON_MAX,
        strip=True,
        help_text=f"Why (at most {REASON_MAX} characters). Kept in the ledger with your name; "
        "members do not see it.",
    )

    def clean_reason(self):
        try:
            return staff_actions.clean_reason(self.cleaned_data.get("reason"))
        except StaffActionRefused as exc:
            raise forms.ValidationError(str(exc)) from None


class GrantForm(ReasonForm):
    """Whom to grant which claim. A member is found by their username, or by an email
    address they confirmed (anyone can type someone else's address unconfirmed); staff
    accounts are not members. The grant waits for a second POST that names, in
    `confirmed`, the member the page showed."""

    claim = forms.ModelChoiceField(queryset=Claim.objects.all())
    member = forms.CharField(
        max_length=254,
        help_text="The member's username, or an email address they have confirmed. The "
        "next page shows who that is before anything is granted.",
    )
    confirmed = forms.IntegerField(required=False, widget=forms.HiddenInput)
    field_order = ["claim", "member", "reason"]

    def clean_member(self):
        lookup = self.cleaned_data["member"].strip()
        users = get_user_model().objects.all()
        if "@" in lookup:  # usernames have no "@" (users/adapter.py)
            verified = EmailAddress.objects.filter(email__iexact=lookup, verified=True)
            users = users.filter(pk__in=verified.values("user_id"))
            missing = f"No member has confirmed the email address {lookup!r}."
        else:
            users = users.filter(username__iexact=lookup)
            missing = f"No member has the username {lookup!r}."
        found = list(users[:2])
        if not found:
            raise forms.ValidationError(missing)
        if len(found) > 1:
            raise forms.ValidationError("Several members match: give the username.")
        member = found[0]
        if member.is_staff or member.is_superuser:
            raise forms.ValidationError(
                f"{member.get_username()} is a staff account, not a member: grants go to "
                "members' accounts."
            )
        return member


def member_summary(member) -> dict:
    """What the grant's confirmation shows of the member it found."""
    emails = EmailAddress.objects.filter(user=member).order_by("-primary", "pk")[:3]
    return {
        "username": member.get_username(),
        "name": member.get_full_name(),
        "emails": [(entry.email, entry.verified) for entry in emails],
        "joined": member.date_joined,
        "address": member.address,
        "address_proven": member.address_proven,
        "active": member.is_active,
    }


def unproven_warning(claim: Claim, member) -> str:
    """On the grant's confirmation: the claim requires a proven address, and the
    member's is not (the grant delivers there anyway); "" otherwise."""
    try:
        address = staff_actions.member_address(member)
    except StaffActionRefused:
        return ""  # the grant is refused for that, with its own sentence
    why = staff_actions.not_proven(claim, member, address)
    return f"{why} Granting delivers there anyway." if why else ""


def upstream_sentence(completion: Completion) -> str:
    claim = completion.claim
    text = UPSTREAM.get(claim.delivery, "Nothing is changed upstream.")
    return text.format(address=completion.address or "(none)", store=claim.store_id)


class StaffActions:
    """Mixed into CompletionAdmin: the three actions' pages and buttons."""

    def has_manage_permission(self, request) -> bool:
        return request.user.is_active and request.user.has_perm(PERMISSION)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(  # type: ignore[attr-defined]
                require_http_methods(["GET", "POST"])(function)
            )

        return [
            path(
                "<int:object_id>/revoke/", view(self.revoke_view), name="claims_completion_revoke"
            ),
            path(
                "<int:object_id>/reissue/",
                view(self.reissue_view),
                name="claims_completion_reissue",
            ),
            path("grant/", view(self.grant_view), name="claims_completion_grant"),
        ] + super().get_urls()  # type: ignore[misc]

    def staff_action_context(self, request, obj) -> dict:
        may = obj is not None and self.has_manage_permission(request)
        return {
            "can_revoke": may and obj.state == State.COMPLETED,
            "can_reissue": may and obj.state in Completion.SETTLED,
            "can_grant": self.has_manage_permission(request),
        }

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_grant": self.has_manage_permission(request)}
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    # --- Revoke and Re-issue: one completion ----------------------------------------

    def revoke_view(self, request, object_id):
        return self._on_completion(request, object_id, "revoke")

    def reissue_view(self, request, object_id):
        return self._on_completion(request, object_id, "reissue")

    def _on_completion(self, request, object_id, action):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        completion = get_object_or_404(
            Completion.objects.select_related("claim", "member"), pk=object_id
        )
        form = ReasonForm(request.POST if request.method == "POST" else None)
        status, refusal = 200, ""
        if request.method == "POST":
            if form.is_valid():
                act = staff_actions.revoke if action == "revoke" else staff_actions.reissue
                try:
                    done = act(
                        completion_id=completion.pk,
                        staff=request.user,
                        reason=form.cleaned_data["reason"],
                    )
                except StaffActionRefused as exc:
                    status, refusal = 409, str(exc)
                else:
                    self.message_user(request, done, messages.SUCCESS)  # type: ignore[attr-defined]
                    return HttpResponseRedirect(
                        reverse("admin:claims_completion_change", args=[completion.pk])
                    )
            else:
                status = 400
        completion.refresh_from_db()
        member = completion.member
        new_address = ""
        if action == "reissue" and member is not None:
            try:
                new_address = staff_actions.member_address(member)
            except StaffActionRefused as exc:
                refusal = refusal or str(exc)
            else:
                refusal = (
                    refusal
                    or staff_actions.reissue_unproven(completion.claim, member, new_address)
                    or staff_actions.delivers_twice(completion, new_address)
                )
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.opts,  # type: ignore[attr-defined]
            "title": "Revoke this completion" if action == "revoke" else "Re-issue this completion",
            "action": action,
            "completion": completion,
            "form": form,
            "refusal": refusal,
            "upstream": upstream_sentence(completion),
            "new_address": new_address,
        }
        return TemplateResponse(
            request, "admin/claims/completion/staff_action.html", context, status=status
        )

    # --- Grant: a claim to a member ------------------------------------------------

    def grant_view(self, request):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        status, refusal, confirm = 200, "", None
        if request.method == "POST":
            form = GrantForm(request.POST)
            if not form.is_valid():
                status = 400
            elif form.cleaned_data["confirmed"] != form.cleaned_data["member"].pk:
                # Show whom the lookup found; only a POST that names them grants.
                member = form.cleaned_data["member"]
                confirm = member_summary(member)
                confirm["unproven"] = unproven_warning(form.cleaned_data["claim"], member)
                form = GrantForm({**request.POST.dict(), "confirmed": str(member.pk)})
            else:
                data = form.cleaned_data
                try:
                    done = staff_actions.grant(
                        claim=data["claim"],
                        member=data["member"],
                        staff=request.user,
                        reason=data["reason"],
                    )
                except StaffActionRefused as exc:
                    status, refusal = 409, str(exc)
                else:
                    self.message_user(request, done, messages.SUCCESS)  # type: ignore[attr-defined]
                    completion = Completion.objects.get(claim=data["claim"], member=data["member"])
                    return HttpResponseRedirect(
                        reverse("admin:claims_completion_change", args=[completion.pk])
                    )
        else:
            initial = {}
            claim_id = request.GET.get("claim", "")
            # ASCII digits only ("²" is a digit to isdigit, not to int), and few enough
            # for a primary key: anything else preselects nothing.
            usable = claim_id.isascii() and claim_id.isdigit() and len(claim_id) <= 18
            if usable and Claim.objects.filter(pk=int(claim_id)).exists():
                initial["claim"] = int(claim_id)
            form = GrantForm(initial=initial)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.opts,  # type: ignore[attr-defined]
            "title": "Grant a claim to a member",
            "action": "grant",
            "form": form,
            "refusal": refusal,
            "confirm": confirm,
        }
        return TemplateResponse(
            request, "admin/claims/completion/staff_action.html", context, status=status
        )
