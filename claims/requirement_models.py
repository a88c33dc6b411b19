"""A claim's requirements: what a member must have, or must not have, to earn it.

Each requirement names an app of the project's catalogue and what is checked on the
member's healthy account of it: only that the account exists and is healthy, the result
of an allowed Pipedream action run on it, or an upstream API answer read with GET
through Pipedream's proxy. A requirement belongs to one of three groups, as Guild.xyz
combines its requirements: every requirement of "all" must be met, at least one of "any"
(when the claim has some), and none of "none".

A Django model of the claims app (claims/models.py imports it).
"""

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from claims import allowlists, wording
from claims.rules import criterion_label
from connections.pipedream.proxy import (
    allowed_domains,
    base_url_depends_on_account,
    on_allowed_domain,
)

_WHAT = "an https:// URL, or a path starting with / for an app whose base URL is the account's"


def validate_proxy_url(value: str) -> None:
    """A proxy URL's shape, whatever its app: an https URL with a host name and no
    credentials, or a path starting with a single `/`; no spaces, backslashes or `.` and
    `..` segments. What its app allows is `proxy_url_problem`'s (Requirement.clean); the
    client (connections/pipedream/proxy.py, `_proxy_target`) checks both again."""
    text = str(value)
    if "\\" in text or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError(f"Give {_WHAT}: no spaces, backslashes or control characters.")
    if text.startswith("//"):
        raise ValidationError(f"Give {_WHAT}, not one starting with // (it names another host).")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValidationError(f"This is not a URL: give {_WHAT}.") from None
    if not text.startswith("/"):
        if parts.scheme != "https":
            raise ValidationError(f"The proxy calls upstream APIs over https only: give {_WHAT}.")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ValidationError(
                "A proxy URL carries no user name or password: Pipedream adds the account's "
                "credentials."
            )
        if not allowlists.HOST_NAME.match(parts.hostname or ""):
            raise ValidationError(f"The URL has no host name: give {_WHAT}.")
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        raise ValidationError("A proxy URL has no . or .. segments in its path.")


def proxy_url_problem(url: str, app: Any) -> str:
    """Why the app's Pipedream `connect` object (App.connect) refuses `url`, or "": a
    path needs a base URL that depends on the account, a full URL one of its allowed
    domains (when Pipedream lists them). The client checks both again."""
    try:
        validate_proxy_url(url)
    except ValidationError:
        return ""  # the field's own validator said why
    connect = app.connect or {}
    domains = allowed_domains(connect)
    own_base = base_url_depends_on_account(connect)
    if url.startswith("/"):
        if own_base:
            return ""
        if not connect:
            return (
                f"Pipedream's description of {app.name} is not here yet, so a path cannot be "
                "checked: sync the app (Apps, action Sync from Pipedream), or give the full "
                "https URL."
            )
        example = f", e.g. https://{domains[0]}{url}" if domains else ""
        return (
            "A path is only for an app whose base URL depends on the member's account "
            f"(Pipedream's base_proxy_target_url has a placeholder); {app.name}'s does not: "
            f"give the full https URL{example}."
        )
    host = (urlsplit(url).hostname or "").lower()
    if domains is None or on_allowed_domain(host, domains):
        return ""
    hint = (
        ", or a path starting with /, which Pipedream joins to the account's own base URL"
        if own_base
        else ""
    )
    return (
        f"Pipedream's proxy does not call {host} with a {app.name} account: its allowed "
        f"domains are {', '.join(domains) or 'none'}. Give a URL on one of them{hint}."
    )


def validate_member_link(value: str) -> None:
    """A link members follow: https, a host name, no user name or password, no spaces."""
    text = str(value)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text) or "\\" in text:
        raise ValidationError("Give an https:// link with no spaces or backslashes.")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValidationError("This is not a link: give an https:// URL.") from None
    if parts.scheme != "https":
        raise ValidationError("Members follow https links only: give an https:// URL.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationError("A link carries no user name or password.")
    if not allowlists.HOST_NAME.match(parts.hostname or ""):
        raise ValidationError("The link has no host name: give an https:// URL.")


class Comparison(models.TextChoices):
    EQ = "eq", "equals"
    NE = "ne", "does not equal"
    GT = "gt", "is greater than"
    GTE = "gte", "is at least"
    LT = "lt", "is less than"
    LTE = "lte", "is at most"
    CONTAINS = "contains", "contains"
    TRUTHY = "truthy", "is true (present, non-empty)"


class Requirement(models.Model):
    class Group(models.TextChoices):
        ALL = "all", "Must meet (all of these)"
        ANY = "any", "One of these is enough (any)"
        NONE = "none", "Must not meet (none of these)"

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Has a healthy account"
        ACTION = "action", "The result of a Pipedream action"
        PROXY = "proxy", "An API answer read with GET through Pipedream's proxy"

    Comparison = Comparison

    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="requirements")
    position = models.PositiveSmallIntegerField(default=0)
    group = models.CharField(max_length=4, choices=Group.choices, default=Group.ALL)
    app = models.ForeignKey(
        "connections.App",
        on_delete=models.PROTECT,
        related_name="requirements",
        help_text="The app whose account the member connects, and the check runs on.",
    )
    kind = models.CharField(
        "what is checked", max_length=10, choices=Kind.choices, default=Kind.ACCOUNT
    )
    action = models.CharField(
        max_length=200, blank=True, help_text="Pipedream action key, e.g. github-get-current-user."
    )
    props = models.JSONField(
        default=dict,
        blank=True,
        help_text='Other props of the action, e.g. {"repoFullname": "owner/name"}.',
    )
    proxy_url = models.CharField(
        "proxy URL",
        max_length=500,
        blank=True,
        validators=[validate_proxy_url],
        help_text="An upstream API URL read with GET through Pipedream's proxy on the member's "
        "account, e.g. https://api.github.com/user, on one of the app's allowed domains; for "
        "an app whose base URL depends on the account (GitLab) a path, e.g. /api/v4/user. A "
        "list answer is under items; $status is the HTTP status (204 for a starred repository).",
    )
    path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Dotted path into the result, e.g. user.public_repos or items.0.name.",
    )
    comparison = models.CharField(max_length=10, choices=Comparison.choices, blank=True)
    value = models.CharField(
        max_length=200, blank=True, help_text="Compared as a number when both sides are numbers."
    )
    text = models.CharField(
        "as members read it",
        max_length=200,
        blank=True,
        help_text='The sentence members read, e.g. "Have at least 5 public repositories".',
    )
    link = models.URLField(
        "where members do it",
        max_length=500,
        blank=True,
        validators=[validate_member_link],
        help_text="Optional https page where members do what this asks, e.g. the repository "
        "to star. Shown next to the requirement.",
    )
    identity_path = models.CharField(
        max_length=200,
        blank=True,
        help_text="Optional path into the result naming the upstream identity (e.g. "
        "user.login): the claim then completes once per identity, whichever member "
        "connected it.",
    )

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["app", "claim"])]

    def __str__(self) -> str:
        return self.label()

    @property
    def runs_check(self) -> bool:
        """An action or a proxy read: a call to Pipedream with the member's account."""
        return self.kind in (self.Kind.ACTION, self.Kind.PROXY)

    @property
    def rule_key(self) -> str:
        """The evidence key of the check's result."""
        return f"criterion:{self.pk}"

    def label(self) -> str:
        """What the requirement asks, as members read it (an instruction, in the
        operator's words when there are some; claims/wording.py), whatever its group."""
        return wording.requirement_sentence(self, positive=True)

    def member_sentence(self) -> str:
        """What members read: the instruction, or for "none" who the claim is not for."""
        return wording.requirement_sentence(self)

    def technical_label(self) -> str:
        """As staff read it (the admin, dry runs): the operator's words when there are
        some, else the check's path, comparison and value."""
        if self.text:
            return self.text
        if not self.runs_check:
            return f"A healthy {self.app.name} account" if self.app_id else "A healthy account"
        return criterion_label(self.path, self.comparison, self.value)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.runs_check:
            self._clean_check(errors)
        else:
            for name in ("action", "proxy_url", "path", "comparison", "value", "identity_path"):
                if getattr(self, name):
                    errors[name] = (
                        "Only an action or a proxy read has this: the check is an account."
                    )
            if self.props:
                errors["props"] = "Only an action has props."
            if self.group == self.Group.NONE:
                errors["group"] = (
                    "Must not applies to a check of an account (an action or a proxy read): "
                    "a member could always disconnect an account to pass it."
                )
        if not isinstance(self.props, dict):
            errors["props"] = "Props are a JSON object."
        if self.identity_path and self.group != self.Group.ALL:
            errors["identity_path"] = (
                "Only a requirement every member must meet names the identity."
            )
        if errors:
            raise ValidationError(errors)

    def _clean_check(self, errors: dict[str, str]) -> None:
        if self.kind == self.Kind.ACTION:
            if not self.action:
                errors["action"] = "Choose the Pipedream action to run."
            if self.proxy_url:
                errors["proxy_url"] = "An action check reads no proxy URL."
            elif self.action and (problem := allowlists.component_problem(self.action)):
                errors["action"] = problem
        else:
            if not self.proxy_url:
                errors["proxy_url"] = "Give the API URL to read through the proxy."
            elif self.action:
                errors["action"] = "A proxy read runs no action."
            else:
                # What the app's Pipedream description allows, then the operator's list.
                problem = (proxy_url_problem(self.proxy_url, self.app) if self.app_id else "") or (
                    allowlists.proxy_url_problem(self.proxy_url)
                    if self.proxy_url.startswith("https://")
                    else ""
                )
                if problem:
                    errors["proxy_url"] = problem
            if self.props:
                errors["props"] = "Only an action has props."
        if not self.path:
            errors["path"] = "Give the path into the result the comparison looks at."
        if not self.comparison:
            errors["comparison"] = "Choose a comparison."
        elif self.comparison != Comparison.TRUTHY and self.value == "":
            errors["value"] = "This comparison needs a value."

    def snapshot(self) -> dict[str, Any]:
        """What the audit trail keeps of it (claims/audit.py)."""
        data: dict[str, Any] = {
            "group": self.group,
            "app": self.app.slug if self.app_id else None,
            "kind": self.kind,
        }
        for name in ("action", "props", "proxy_url", "path", "comparison", "value", "text", "link"):
            value = getattr(self, name)
            if value not in ("", {}, None):
                data[name] = value
        if self.identity_path:
            data["identity_path"] = self.identity_path
        return data
