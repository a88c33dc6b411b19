"""A claim's public landing page, /c/<slug>/ (a contract: docs/architecture.md): the door from BitBadges.

A visitor reads what the claim asks for and gets one button: "Sign in with BitBadges"
when the site has it (users.siwbb: one click signs them up, proves the address the badge
goes to and brings them back here), with signing up or logging in below it; sign up (or
log in) alone when it does not. A member sees their progress and the one next step:
confirm the email (a member whose address BitBadges proved needs none:
users.selectors.member_identity_confirmed), set the address (or prove it, on a claim that
takes only a proven address), connect each required app, then the claim's own state.
`landing_steps` decides it; the views stay thin. Everything a member sees is read for
them alone.
"""

import functools
import hashlib
import html
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from branding.selectors import _key as brand_key
from claims import life, selectors, services, wording
from claims import views as claims_views
from claims.audit import Actor
from claims.forms import AddressForm
from claims.models import Claim, ClaimVisit, Completion, Requirement, TriggerDeployment
from connections import views as page_views
from connections.models import App
from core import pagecache
from users.selectors import member_email_state
from users.siwbb.config import siwbb_enabled

TEMPLATE = "claims/landing.html"
MISSING_TEMPLATE = "404.html"
POLL_SECONDS = 2  # a completion under way
EMAIL_POLL_SECONDS = 5  # waiting for the member to open the confirmation link
WATCH_POLL_SECONDS = 10  # a trigger watches for the event the member is waiting on
MAX_SLUG_LENGTH = 80


def landing_url(claim: Claim) -> str:
    """The absolute landing URL, on PUBLIC_URL (it goes into BitBadges' instructions)."""
    return settings.PUBLIC_URL + reverse("claims:landing", args=[claim.slug])


# --- the badge mark ----------------------------------------------------------------------

_HUES = (248, 262, 200, 170, 150, 28, 340, 215)


def _initials(name: str) -> str:
    words = [word for word in name.split() if word[:1].isalnum()]
    letters = "".join(word[0] for word in words[:2]).upper()
    return letters or "◆"


def badge_mark(claim: Claim) -> str:
    """A medal with the claim's initials, as a data: URI (the CSP allows data: images).

    There is no image field; the colour comes from the slug, so each claim keeps its own.
    """
    hue = _HUES[hashlib.sha256(claim.slug.encode()).digest()[0] % len(_HUES)]
    initials = html.escape(_initials(claim.name))
    size = 40 if len(initials) < 2 else 34
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 140">'
        "<defs>"
        f'<linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue},75%,62%)"/>'
        f'<stop offset="1" stop-color="hsl({(hue + 30) % 360},70%,42%)"/>'
        "</linearGradient></defs>"
        f'<path d="M38 86 L26 136 L46 124 L58 138 L64 92 Z" fill="hsl({hue},55%,38%)"/>'
        f'<path d="M82 86 L94 136 L74 124 L62 138 L56 92 Z" fill="hsl({hue},55%,46%)"/>'
        '<circle cx="60" cy="58" r="54" fill="url(#g)"/>'
        '<circle cx="60" cy="58" r="44" fill="none" stroke="#fff" stroke-opacity=".55" '
        'stroke-width="3" stroke-dasharray="2 6" stroke-linecap="round"/>'
        f'<text x="60" y="{58 + size * 0.36:.0f}" text-anchor="middle" font-size="{size}" '
        'font-weight="700" fill="#fff" font-family="system-ui,-apple-system,Segoe UI,'
        f'Roboto,Arial,sans-serif">{initials}</text>'
        "</svg>"
    )
    return "data:image/svg+xml," + quote(svg, safe=",:;=/'()-.")


# --- the steps -----------------------------------------------------------------------------


@dataclass
class AppStatus:
    app: App
    state: str  # "connected", "missing", "unhealthy", "unavailable"
    account_id: int | None = None  # the account to reconnect

    @property
    def done(self) -> bool:
        return self.state == "connected"


@dataclass
class Progress:
    """What one member has in place for one claim, and the one thing to do next."""

    email_verified: bool
    pending_email: str
    address: str
    apps: list[AppStatus]
    completion: Completion | None
    watching: bool = False
    address_proven: bool = False  # by Sign in with BitBadges
    needs_proof: bool = False  # the claim takes only a proven address; the member's is not
    step: str = ""  # email, prove, address, connect, reconnect, unavailable, check,
    # working, completed, closed, stopped (used up or halted: claims/life.py)
    stop: life.Stop | None = None  # why the claim takes no new deliveries now
    app: AppStatus | None = None  # the app of a connect / reconnect step
    steps: list[dict] = field(default_factory=list)
    row: selectors.ClaimRow | None = None  # as /claims/ shows it: what is unmet, Check now

    @property
    def state(self) -> str:
        return self.completion.state if self.completion else "new"

    @property
    def identity_confirmed(self) -> bool:
        """A confirmed email or a proven address: connecting and completing need one."""
        return self.email_verified or self.address_proven

    @property
    def reason(self) -> str:
        """The completion's stored reason (English), in the active language when it is one
        of the fixed sentences (claims/wording.py, claims/life.py)."""
        return life.sentence_words(self.completion.reason) if self.completion else ""

    @property
    def address_taken(self) -> bool:
        """Refused because another account's completion holds the address (one completion
        per address): the member checks their address, as /claims/ offers."""
        return bool(self.completion and self.completion.reason == wording.ADDRESS_CLAIMED)

    @property
    def started(self) -> bool:
        """Some step before the claim's own is done (the progress badge then says what
        comes next, never "Not started")."""
        return any(item["done"] for item in self.steps if item["key"] != "completed")


def _window(claim: Claim, now) -> dict:
    return {
        "opens": claim.starts_at if claim.starts_at and now < claim.starts_at else None,
        "closes": claim.ends_at if claim.ends_at and now < claim.ends_at else None,
        "closed": claim.ends_at if claim.ends_at and claim.ends_at <= now else None,
    }


_APP_STATES = {
    "": "connected",
    selectors.FIX_CONNECT: "missing",
    selectors.FIX_RECONNECT: "unhealthy",
    selectors.FIX_UNAVAILABLE: "unavailable",
}


def _app_status(app: App, accounts: selectors.Accounts) -> AppStatus:
    """The app's step, from the fix /claims/ gives its requirements (selectors.app_fix)."""
    fix, account_id = selectors.app_fix(app, accounts)
    return AppStatus(app, _APP_STATES[fix], account_id)


def _apps_every_member_needs(claim: Claim) -> list[App]:
    """The apps of its "all" and "none" requirements (a check needs an account), once."""
    found: dict[int, App] = {}
    for requirement in claim.requirements.all():
        if requirement.group != Requirement.Group.ANY:
            found.setdefault(requirement.app_id, requirement.app)
    return list(found.values())


def _apps_one_of(claim: Claim, needed: list[AppStatus]) -> list[App]:
    """The apps of its "any" requirements that every member does not need anyway."""
    taken = {status.app.pk for status in needed}
    found: dict[int, App] = {}
    for requirement in claim.requirements.all():
        if requirement.group == Requirement.Group.ANY and requirement.app_id not in taken:
            found.setdefault(requirement.app_id, requirement.app)
    return list(found.values())


def _or_others(status: AppStatus, either: list[AppStatus]) -> str:
    others = [other.app.name for other in either if other is not status]
    return ", ".join(others)


def _app_step(status: AppStatus, others: str) -> str:
    """The step of an app: "GitHub connected", or "GitHub connected (or Discord, Slack)"
    for one of the "any" apps."""
    if others:
        # Translators: others lists the other apps that would do as well: "Discord, Slack".
        return gettext("%(app)s connected (or %(others)s)") % {
            "app": status.app.name,
            "others": others,
        }
    return gettext("%(app)s connected") % {"app": status.app.name}


def _first_steps(progress: Progress, claim: Claim) -> list[dict]:
    """Who the member is and where the badge goes, before the apps: the proven address
    alone on a claim that takes only that; else the email (done too for a member whose
    address BitBadges proved: they need none) and the address."""
    if getattr(claim, "require_proven_address", False):
        return [
            {
                "label": gettext("BitBadges address proven"),
                "done": progress.address_proven,
                "key": "prove",
            }
        ]
    if progress.address_proven and not progress.email_verified:
        identity = {"label": gettext("Signed in with BitBadges"), "done": True, "key": "email"}
    else:
        identity = {
            "label": gettext("Email address confirmed"),
            "done": progress.email_verified,
            "key": "email",
        }
    address = {
        # The news of a proof is that BitBadges proved it, not that it is set.
        "label": gettext("BitBadges address proven")
        if progress.address_proven
        else gettext("BitBadges address set"),
        "done": bool(progress.address),
        "key": "address",
    }
    return [identity, address]


def landing_steps(*, claim: Claim, member, now=None) -> Progress:
    """The member's progress for `claim`, in a fixed number of queries.

    Order: a proven address on a claim that takes only that (connecting BitBadges proves
    it and sets it, and confirms the member as an email would), else the email (a Connect
    token needs it, or a proven address), the address (so connecting completes at once);
    then each app every member needs in the requirements' order, one of the apps of the
    "any" requirements, then the claim's own state from the ledger.
    """
    now = now or timezone.now()
    email = member_email_state(member=member)
    accounts = selectors.member_accounts(member)  # read once: the steps and the row
    completion = Completion.objects.filter(claim=claim, member=member).first()
    # The member's own deployment, or the claim's one on the site's account.
    watching = (
        TriggerDeployment.objects.filter(claim=claim, status=TriggerDeployment.Status.ACTIVE)
        .filter(Q(member=member) | Q(member__isnull=True))
        .exists()
    )
    apps = [_app_status(app, accounts) for app in _apps_every_member_needs(claim)]
    # Of the "any" requirements' apps one connected is enough: until then each is offered.
    either = [_app_status(app, accounts) for app in _apps_one_of(claim, apps)]
    connected = [status for status in either if status.done]
    apps += connected or either
    progress = Progress(
        email_verified=email.verified,
        pending_email=email.pending,
        address=member.address or "",
        apps=apps,
        completion=completion,
        watching=watching,
        address_proven=member.address_proven,
        needs_proof=selectors.needs_proof(claim, member),
    )
    # users.selectors.member_identity_confirmed, from the email state read above.
    identity = progress.identity_confirmed
    todo = next((status for status in apps if not status.done), None)
    progress.stop = life.stop_for(claim, now)
    if completion and completion.state == Completion.State.COMPLETED:
        progress.step = "completed"
    elif progress.stop and progress.stop.kind == "closed":
        progress.step = "closed"
    elif progress.stop and progress.stop.kind in ("used_up", "halted"):
        progress.step = "stopped"
    elif progress.needs_proof:
        progress.step = "prove"
    elif not identity:
        progress.step = "email"
    elif not progress.address:
        progress.step = "address"
    elif todo is not None:
        progress.step = {"missing": "connect", "unhealthy": "reconnect"}.get(
            todo.state, "unavailable"
        )
        progress.app = todo
    elif (
        completion
        and completion.in_progress
        and not (progress.stop and completion.state == Completion.State.WAITING)
    ):
        progress.step = "working"
    else:
        progress.step = "check"
    progress.steps = [
        *_first_steps(progress, claim),
        *(
            {
                "label": _app_step(status, _or_others(status, either))
                if not connected and status in either
                else _app_step(status, ""),
                "done": status.done,
                "key": f"app-{status.app.slug}",
                "app": status.app,
                "problem": status.state == "unhealthy",
            }
            for status in apps
        ),
        {
            "label": gettext("Claim completed"),
            "done": progress.step == "completed",
            "key": "completed",
        },
    ]
    progress.row = selectors.claim_row(
        claim=claim,
        member=member,
        completion=completion,
        watching=watching,
        verified=identity,
        now=now,
        accounts=accounts,
    )
    if progress.step == "completed":
        # Earned stays earned: a later disconnect leaves nothing to fix here.
        for item in progress.steps:
            item["done"], item["problem"] = True, False
    return progress


# --- the views -----------------------------------------------------------------------------


def _claim_or_none(slug: str) -> Claim | None:
    if len(slug) > MAX_SLUG_LENGTH:
        return None
    return (
        Claim.objects.enabled()
        .prefetch_related(
            Prefetch("requirements", queryset=Requirement.objects.select_related("app"))
        )
        .filter(slug=slug)
        .first()
    )


def _missing(request) -> HttpResponse:
    return render(
        request,
        MISSING_TEMPLATE,
        {
            "title": gettext("No such claim"),
            "message": gettext(
                "This claim does not exist, or it is not open to anyone right now. "
                "Check the link you followed, or ask whoever shared it."
            ),
        },
        status=404,
    )


def _context(request, claim: Claim, *, address_form=None) -> dict:
    now = timezone.now()
    here = reverse("claims:landing", args=[claim.slug])
    context = {
        "claim": claim,
        "badge_src": badge_mark(claim),
        "window": _window(claim, now),
        "stop": life.stop_for(claim, now),
        "apps": claim.apps(),
        "checks": [r for r in claim.requirements.all() if r.runs_check],
        "one_of": [r.app for r in claim.requirements.all() if r.group == Requirement.Group.ANY],
        "here": here,
        "next_query": quote(here, safe="/"),
        "progress": None,
        "polling": False,
        # The button's `next` is this page, never a parameter of the request.
        "siwbb_on": siwbb_enabled(),
    }
    if request.user.is_authenticated:
        progress = landing_steps(claim=claim, member=request.user, now=now)
        poll = {
            "email": EMAIL_POLL_SECONDS,
            "working": POLL_SECONDS,
        }.get(progress.step)
        if poll is None and progress.step == "check" and progress.watching:
            poll = WATCH_POLL_SECONDS if progress.state == "ineligible" else None
        context.update(
            progress=progress,
            polling=poll is not None,
            poll_seconds=poll,
            address_form=address_form or AddressForm(instance=request.user),
            # The page says it in its own step: no second banner above it.
            email_state=None,
        )
    return context


def _count_visit(claim: Claim) -> None:
    """One more anonymous visit of the claim's page today (the funnel shows them apart):
    an atomic increment, the day's row made on the first visit (a racing first visit
    that made it meanwhile is incremented instead)."""
    day = timezone.localdate()
    visits = ClaimVisit.objects.filter(claim=claim, day=day)
    if visits.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            ClaimVisit.objects.create(claim=claim, day=day, count=1)
    except IntegrityError:
        visits.update(count=F("count") + 1)


@login_not_required
@require_GET
@never_cache
def landing(request, slug: str):
    """GET /c/<slug>/: public; for a member, their progress and the next step (kept by
    core/pagecache.py until a row it shows changes, or the clock does)."""
    if request.user.is_authenticated and pagecache.cacheable(request):
        return pagecache.serve(
            request,
            "landing",
            functools.partial(_page, request, slug),
            extra=lambda read: (slug, *page_views.page_extra(read)),
            prefetch=[brand_key()],
        )
    claim = _claim_or_none(slug)
    if claim is None:
        return _missing(request)
    if request.method == "GET" and not request.user.is_authenticated and not request.htmx:
        _count_visit(claim)
    context = _context(request, claim)
    if request.htmx and not request.htmx.boosted:
        return render(request, f"{TEMPLATE}#progress", context)
    return render(request, TEMPLATE, context)


def _page(request, slug: str, marks: dict) -> pagecache.Rendered:
    """A member's page of the claim, rendered with `marks` (pagecache.serve)."""
    claim = _claim_or_none(slug)
    if claim is None:
        return pagecache.Rendered(_missing(request))
    context = _context(request, claim)
    response = render(request, TEMPLATE, {**context, **marks})
    if not marks:  # not kept: nothing more to read
        return pagecache.Rendered(response)
    row = context["progress"].row if context["progress"] else None
    return pagecache.Rendered(
        response, until=claims_views.page_until(request.user, [row] if row else [])
    )


def _back(claim: Claim, *, status: int = 302):
    response = redirect("claims:landing", slug=claim.slug)
    response.status_code = status
    return response


@require_POST
def landing_address(request, slug: str):
    """The address step, on the page: AddressForm's checks, then back to the claim."""
    claim = _claim_or_none(slug)
    if claim is None:
        return _missing(request)
    before = request.user.address
    form = AddressForm(request.POST, instance=request.user)
    if not form.is_valid():
        request.user.refresh_from_db(fields=["address"])  # the form changed it in memory
        context = _context(request, claim, address_form=form)
        return render(request, TEMPLATE, context, status=400)
    level, sentence = services.address_save(member=request.user, form=form, before=before)
    getattr(messages, level)(request, sentence)
    if level == "error":
        return _back(claim, status=303)
    progress = landing_steps(claim=claim, member=request.user)
    if level == "success" and progress.step == "check" and progress.completion is None:
        # Everything else was in place: the claim goes on by itself, as it would had the
        # address come first.
        services.completion_request(
            claim=claim, member=request.user, actor=Actor.member(request.user)
        )
    return _back(claim)


@require_POST
def landing_check(request, slug: str):
    """ "Check now": the member's Check again for this claim, then back to its page."""
    claim = _claim_or_none(slug)
    if claim is None:
        return _missing(request)
    status = 302
    retry_after = None
    try:
        completion = services.member_check_again(claim=claim, member=request.user)
    except services.TooManyChecks as exc:
        messages.error(request, str(exc))
        status = 303
        retry_after = exc.retry_after
    except services.ClaimsError as exc:
        messages.error(request, str(exc))
        status = 303
    else:
        if completion.state == Completion.State.COMPLETED:
            messages.info(
                request,
                gettext("“%(claim)s” is already completed for you.") % {"claim": claim.name},
            )
        else:
            messages.success(request, gettext("Checking now. This page updates by itself."))
    if request.htmx:
        html_ = render_to_string(f"{TEMPLATE}#progress", _context(request, claim), request=request)
        html_ += render_to_string("connections/_messages.html", {"oob": True}, request=request)
        response = HttpResponse(html_)
    else:
        response = _back(claim, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)  # for scripts; people read the message
    return response
