"""The claim form of the admin: method fields, write-only secrets, and the claim looked
up on BitBadges before it is saved."""

import json
import logging

from django import forms
from django.db.models import Count
from django.forms.fields import InvalidJSONInput

from claims import preflight, rules, services
from claims.audit import RULE_FIELDS
from claims.models import (
    Claim,
    Completion,
)
from claims.secrets import SecretUnreadable
from connections import services as connection_services

logger = logging.getLogger(__name__)

State = Completion.State
ADDRESS_RULES = ("require_proven_address", "one_completion_per_address")


def json_problem(text: str, *, max_chars: int | None = None, what: str = "Props") -> str:
    """Why JSON text cannot be props, or "": too long, nested deeper than MAX_DEPTH
    (Python's parser would recurse), NaN or Infinity (not JSON: the database's JSON
    column refuses them) or a NUL character (PostgreSQL's jsonb refuses it)."""
    if max_chars is not None and len(text) > max_chars:
        return f"{what} are at most {max_chars:,} characters of JSON."
    if _depth(text) > MAX_DEPTH:
        return f"{what} nest at most {MAX_DEPTH} levels deep: give a flat JSON object."
    if "\\u0000" in text or "\x00" in text:
        return f"{what} hold a NUL character, which cannot be stored: remove it."
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except _NotJSON as exc:
        return f"{what} hold {exc.args[0]}, which JSON has not: give a number."
    except (ValueError, RecursionError):
        return ""  # the field's own parse says it is not JSON
    return ""


MAX_DEPTH = 20


def _depth(text: str) -> int:
    """How deep brackets nest in JSON text, outside its strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str):
    raise _NotJSON(name)


class BoundedJSONField(forms.JSONField):
    """Props as JSON, refused with a sentence when they could not be stored as props
    (json_problem), before Python's parser could recurse too deep on them."""

    MAX_CHARS = 20_000

    def _unbounded(self, value) -> bool:
        return isinstance(value, str) and bool(json_problem(value, max_chars=self.MAX_CHARS))

    def bound_data(self, data, initial):
        if self._unbounded(data):  # shown back as typed, never parsed
            return InvalidJSONInput(data)
        return super().bound_data(data, initial)

    def to_python(self, value):
        if isinstance(value, str) and (problem := json_problem(value, max_chars=self.MAX_CHARS)):
            raise forms.ValidationError(problem)
        return super().to_python(value)


def _secret_widget():
    # new-password: keeps the browser from filling in the admin's own login password.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class UpstreamChecked(forms.ModelForm):
    """A form whose clean looks things up upstream, once per request: the admin checks
    the claim and its requirements before its save transaction opens (ClaimAdmin), and
    the validation inside the transaction reuses the answers."""

    upstream_notes: list[str]  # what a save should say, set by each form's _post_clean

    # Set by ClaimAdmin.get_form: the request, whose memo of BitBadges lookups lets the
    # admin check a claim before its save transaction opens and reuse the answer inside.
    request = None

    def _memoised(self, settings, check):
        """check(settings): its problems, or the CheckUnavailable it raised, kept on the
        request so the save transaction reuses the answer instead of asking again."""
        memo = getattr(self.request, "claim_upstream_checks", None)
        if memo is not None and settings in memo:
            return memo[settings]
        try:
            found = check(settings)
        except preflight.CheckUnavailable as exc:
            found = exc
        if memo is not None:
            memo[settings] = found
        return found

    def _check_components(self, settings: preflight.ComponentSettings, enabled: bool) -> None:
        """A requirement's action or the claim's trigger as Pipedream defines it: an
        unknown key, or a required prop left out, stops the save with Pipedream's reason."""
        found = self._memoised(settings, preflight.component_problems)
        if isinstance(found, preflight.CheckUnavailable):
            if enabled:
                self.add_error(
                    None,
                    f"Could not look this claim's components up on Pipedream: {found}. Try "
                    "again in a moment, or save it disabled and enable it once Pipedream "
                    "answers.",
                )
            else:
                self.upstream_notes.append(
                    f"Components not checked on Pipedream ({found}); they are checked when "
                    "you enable it."
                )
            return
        for problem in found:
            if problem.blocking:
                self.add_error(
                    problem.field if problem.field in self.fields else None, problem.text
                )
            else:
                self.upstream_notes.append(problem.text)


class ClaimAdminForm(UpstreamChecked):
    """The claim, with its secrets write-only: typed in, never shown back."""

    password = forms.CharField(
        label="Password plugin's password",
        required=False,
        strip=False,
        widget=_secret_widget(),
    )
    clear_password = forms.BooleanField(label="Remove the stored password", required=False)
    store_secret = forms.CharField(
        label="Dynamic store secret",
        required=False,
        strip=False,
        widget=_secret_widget(),
    )
    clear_store_secret = forms.BooleanField(label="Remove the stored store secret", required=False)
    # Set by ClaimAdmin.get_form: whether the page holds the requirements' inline.
    may_edit_requirements = True

    class Meta:
        model = Claim
        # The rules the audit trail records; never the ciphertexts (password_encrypted,
        # store_secret_encrypted).
        # The address rules, until claims/audit.py lists them among RULE_FIELDS (then the
        # duplicates drop out here).
        fields = list(dict.fromkeys([*RULE_FIELDS, *ADDRESS_RULES]))
        field_classes = {"trigger_props": BoundedJSONField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        claim = self.instance
        self.fields["password"].help_text = (
            "A password is stored. Leave blank to keep it; type a new one to replace it."
            if claim.has_password
            else "None stored. Needed for the BitBadges method."
        )
        self.fields["store_secret"].help_text = (
            "A store secret is stored. Leave blank to keep it; type a new one to replace it."
            if claim.has_store_secret
            else "None stored. Needed for the dynamic store method."
        )

    def _will_have(self, name: str, stored: bool) -> bool:
        entered = self.cleaned_data.get(name)
        cleared = self.cleaned_data.get(f"clear_{name}")
        return bool(entered) or (stored and not cleared)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        for name, label in (("password", "password"), ("store_secret", "store secret")):
            if cleaned.get(name) and cleaned.get(f"clear_{name}"):
                self.add_error(
                    f"clear_{name}",
                    f"Either type a new {label} or remove the stored one, not both.",
                )
        method = services.method_of(cleaned.get("delivery") or "")
        if method is not None and method.secret is not None:
            name, missing = method.secret
            if not self._will_have(name, getattr(self.instance, f"has_{name}")):
                self.add_error(name, missing)
        if (
            cleaned.get("enabled")
            and not self.may_edit_requirements
            and not (self.instance.pk and self.instance.requirements.exists())
        ):
            self.add_error(
                "enabled",
                "This claim has no requirements, and adding them needs a permission you do "
                "not have: save it disabled and ask someone who may add its requirements.",
            )
        # Claim.clean (method fields, window) runs in the ModelForm's _post_clean.
        return cleaned

    def _post_clean(self):
        # After the model's own validation (as UserCreationForm checks passwords): the
        # claim as it would be saved is looked up on BitBadges, and what would make
        # every member fail stops the save with what to change there.
        super()._post_clean()  # type: ignore[misc]  # Django's hook, not in the stubs
        self.upstream_notes: list[str] = []
        if not self.errors:
            self._check_address_rules()
            self._check_site_account()
            self._check_components(
                preflight.ComponentSettings.of(self.instance), self.instance.enabled
            )
            self._check_upstream()

    def _check_address_rules(self) -> None:
        """A proven address can be required only where members can prove one (Sign in
        with BitBadges on): refused for an enabled claim, noted for a disabled one. One
        completion per address turned on over deliveries that already share an address
        is noted: they keep them, and no address gets another."""
        claim = self.instance
        if claim.require_proven_address and not rules.address_proving_available():
            text = (
                "Members prove their address with Sign in with BitBadges, which is off on this "
                "site (BITBADGES_CLIENT_ID and BITBADGES_CLIENT_SECRET are not set): nobody "
                "could meet “require a proven address”"
            )
            if claim.enabled:
                self.add_error(
                    "require_proven_address",
                    f"{text}. Turn Sign in with BitBadges on first, or leave this off.",
                )
            else:
                self.upstream_notes.append(f"{text} until it is turned on.")
        if claim.one_completion_per_address and claim.pk is not None:
            shared = (
                Completion.objects.filter(
                    claim=claim, state__in=[State.DELIVERING, State.COMPLETED]
                )
                .exclude(address="")
                .values("address")
                .annotate(n=Count("pk"))
                .filter(n__gt=1)
                .count()
            )
            if shared:
                self.upstream_notes.append(
                    f"{shared} address(es) already hold more than one completion of this "
                    "claim, delivered before one completion per address: they keep them, and "
                    "none of them gets another."
                )

    def _check_site_account(self) -> None:
        """A trigger on the site's account needs one: refused for an enabled claim."""
        claim = self.instance
        if not (claim.trigger and claim.trigger_scope == Claim.TriggerScope.SITE):
            return
        app = claim.trigger_app
        if app is None or connection_services.site_account_for(app.slug) is not None:
            return
        text = (
            f"No usable {app.name} account is connected for the site, and this trigger runs "
            "on it: connect one under Connections > Site accounts (Connect for the site)"
        )
        if claim.enabled:
            self.add_error("trigger_scope", f"{text}, then enable the claim.")
        else:
            self.upstream_notes.append(f"{text} before you enable the claim.")

    def _secret(self, name: str, stored: bool, read) -> str:
        if self.cleaned_data.get(name):
            return self.cleaned_data[name]
        if not stored or self.cleaned_data.get(f"clear_{name}"):
            return ""
        try:
            return read()
        except SecretUnreadable:
            return ""

    def _upstream_problems(self, settings: preflight.ClaimSettings) -> list[preflight.Problem]:
        found = self._memoised(settings, services.claim_problems)
        if isinstance(found, preflight.CheckUnavailable):
            raise found
        return found

    def _check_upstream(self) -> None:
        claim = self.instance
        settings = preflight.ClaimSettings(
            delivery=claim.delivery,
            bitbadges_claim_id=claim.bitbadges_claim_id,
            password_instance_id=claim.password_instance_id,
            password=self._secret("password", claim.has_password, claim.password),
            store_id=claim.store_id,
            store_secret=self._secret("store_secret", claim.has_store_secret, claim.store_secret),
        )
        try:
            problems = self._upstream_problems(settings)
        except preflight.CheckUnavailable as exc:
            if claim.enabled:
                self.add_error(
                    None,
                    f"Could not check this claim on BitBadges: {exc}. Try again in a moment, or "
                    "save it disabled and enable it once BitBadges answers.",
                )
            else:
                self.upstream_notes.append(
                    f"Not checked on BitBadges ({exc}); it is checked when you enable it."
                )
            return
        for problem in problems:
            if problem.blocking:
                self.add_error(
                    problem.field if problem.field in self.fields else None, problem.text
                )
            else:
                self.upstream_notes.append(problem.text)

    def save(self, commit=True):
        claim = self.instance
        if self.cleaned_data.get("clear_password"):
            claim.password_encrypted = ""
        if self.cleaned_data.get("password"):
            claim.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("clear_store_secret"):
            claim.store_secret_encrypted = ""
        if self.cleaned_data.get("store_secret"):
            claim.set_store_secret(self.cleaned_data["store_secret"])
        return super().save(commit=commit)
