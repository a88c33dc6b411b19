"""Deploying and removing claims' triggers at Pipedream.

A claim's trigger runs either on each member's own account (their own resources: a
deployment per claim and member, made when the member connects the app), or once for the
claim on the site's account (a shared resource such as one repository's stars: one
deployment with no member, made when the claim is enabled or the site's account changes).
Whichever, a row is taken first and only the request that took it deploys; the row's
webhook URL carries our signed reference to it. Disconnecting the account, the claim
completing (per member), or the claim being disabled removes the deployment upstream.
"""

import datetime
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from claims import allowlists
from claims.models import Claim, Completion, TriggerDeployment
from connections import pipedream, services
from connections.models import ConnectedAccount, SiteAccount
from users.models import User

logger = logging.getLogger(__name__)

REFERENCE_SALT = "claims.trigger-webhook"
DEPLOY_STALE_AFTER = datetime.timedelta(minutes=10)
Status = TriggerDeployment.Status
Scope = Claim.TriggerScope


@dataclass(frozen=True)
class Runner:
    """Whom a deployment runs for, and on which account."""

    external_user_id: str
    app_slug: str
    account_pipedream_id: str
    member: User | None = None  # None: the site
    account: ConnectedAccount | None = None
    site_account: SiteAccount | None = None

    @classmethod
    def for_member(cls, member, account: ConnectedAccount) -> "Runner":
        return cls(
            external_user_id=str(member.external_id),
            app_slug=account.app.slug,
            account_pipedream_id=account.pipedream_id,
            member=member,
            account=account,
        )

    @classmethod
    def for_site(cls, account: SiteAccount) -> "Runner":
        return cls(
            external_user_id=services.site_external_user_id(),
            app_slug=account.app.slug,
            account_pipedream_id=account.pipedream_id,
            site_account=account,
        )

    def moved_from(self, deployment: TriggerDeployment) -> bool:
        """Whether a live deployment must move to this runner's account: its account's
        upstream id changed (a reconnect replaced it), or the site uses another account."""
        if deployment.status != Status.ACTIVE:
            return False
        if self.member is None:
            return deployment.account_pipedream_id != self.account_pipedream_id
        return (
            self.account is not None
            and deployment.account_id == self.account.pk
            and deployment.account_pipedream_id != self.account_pipedream_id
        )


def webhook_url(deployment: TriggerDeployment) -> str:
    reference = signing.dumps(deployment.pk, salt=REFERENCE_SALT, compress=True)
    return f"{settings.PUBLIC_URL}{reverse('claims:trigger-webhook')}?d={reference}"


def claims_with_trigger_on(app_slug: str):
    """Enabled claims whose trigger runs on each member's account of `app_slug`."""
    return (
        Claim.objects.enabled()
        .exclude(trigger="")
        .filter(trigger_app__slug=app_slug, trigger_scope=Scope.MEMBER)
    )


def site_claims_on(app_slugs) -> list[Claim]:
    """Claims (enabled or not) whose trigger runs on the site's account of these apps."""
    return list(
        Claim.objects.exclude(trigger="").filter(
            trigger_app__slug__in=list(app_slugs), trigger_scope=Scope.SITE
        )
    )


def deployment_ensure(
    *, claim: Claim, member, account: ConnectedAccount
) -> TriggerDeployment | None:
    """Deploy the claim's trigger for `member` unless it is deployed (or being deployed).

    A live deployment on `account` whose upstream account is no longer the account's
    (a reconnect replaced it, and Pipedream deleted the old one) is deployed again: the
    same row, its old trigger removed upstream first.

    Returns the live deployment, or None when there is none to watch with: the claim's
    trigger runs on the site's account, the claim is completed, a removal is under way,
    or Pipedream refused (the row is then `failed` with the reason, and `recheck_claims`
    tries again).
    """
    if not _per_member(claim):
        return None  # disabled, no trigger, or on the site's account (a task queued before)
    if Completion.objects.completed().filter(claim=claim, member=member).exists():
        return None
    return _ensure(claim, Runner.for_member(member, account))


def _per_member(claim: Claim) -> bool:
    return bool(claim.enabled and claim.trigger and claim.trigger_scope == Scope.MEMBER)


def _redeploy_if_wanted(claim_id: int, member) -> TriggerDeployment | None:
    """After a member's deployment was removed: deploy it again when the claim (as it is
    now) still wants one for them, on their newest usable account of its app (a removal
    for new props, or one that raced a deploy, must not leave them unwatched)."""
    claim = Claim.objects.filter(pk=claim_id).first()
    if claim is None or member is None or not _per_member(claim) or not claim.trigger_app_id:
        return None
    account = (
        ConnectedAccount.objects.filter(member=member, app_id=claim.trigger_app_id)
        .usable()
        .newest_first()
        .select_related("app")
        .first()
    )
    if account is None:
        return None
    return deployment_ensure(claim=claim, member=member, account=account)


def member_deployments_sync(claim: Claim, *, redeploy: bool = False) -> list[ConnectedAccount]:
    """For a claim whose trigger runs on each member's account: with `redeploy` (its
    component or props changed), remove the members' deployments first; then the usable
    accounts to deploy on, one per member (the newest), for members who have none and
    have not completed the claim. [] when the claim's trigger does not run per member."""
    claim = Claim.objects.select_related("trigger_app").get(pk=claim.pk)
    per_member = _per_member(claim)
    if redeploy or not per_member:
        for deployment in TriggerDeployment.objects.filter(claim=claim, member__isnull=False):
            deployment_remove(deployment)
    if not per_member or claim.trigger_app_id is None:
        return []
    # A row being removed (a refused removal, or a deploy in flight) is deployed again
    # once its removal ends (_redeploy_if_wanted); the others are left as they are.
    watched = TriggerDeployment.objects.filter(claim=claim, member__isnull=False).values(
        "member_id"
    )
    done = Completion.objects.completed().filter(claim=claim).values("member_id")
    accounts = (
        ConnectedAccount.objects.filter(app_id=claim.trigger_app_id)
        .exclude(member_id__in=watched)
        .exclude(member_id__in=done)
        .usable()
        .newest_first()
        .select_related("app", "member")
    )
    newest: dict[int, ConnectedAccount] = {}  # each member's newest, in that order
    for account in accounts:
        newest.setdefault(account.member_id, account)
    return list(newest.values())


def site_deployment_sync(claim: Claim, *, redeploy: bool = False) -> TriggerDeployment | None:
    """Make the claim's one deployment on the site's account match the claim: deployed
    while the claim is enabled with a trigger on the site's account, removed otherwise
    (members' own deployments of it are member_deployments_sync's and tidy's). `redeploy` replaces a live one
    (its component or props changed). Without a usable site account of the app the row
    is `failed`, saying so, and `recheck_claims` tries again."""
    claim = Claim.objects.select_related("trigger_app").get(pk=claim.pk)
    app = claim.trigger_app
    existing = TriggerDeployment.objects.filter(claim=claim, member__isnull=True).first()
    wanted = bool(
        claim.enabled
        and claim.trigger
        and claim.trigger_app_id
        and claim.trigger_scope == Scope.SITE
    )
    if existing is not None and (not wanted or redeploy):
        if not deployment_remove(existing):
            return None  # removal refused: recheck_claims tries again
        existing = None
    if not wanted or app is None:
        return None
    account = services.site_account_for(app.slug)
    if account is None:
        reason = (
            f"No usable {app.name} account is connected for the site: "
            "connect one under Site accounts."
        )
        with transaction.atomic():
            row, _ = TriggerDeployment.objects.select_for_update().get_or_create(
                claim=claim, member=None, defaults={"status": Status.FAILED, "error": reason}
            )
            if row.status == Status.DEPLOYING:
                return None  # another sync is deploying it now: it settles the row
            trigger_id = row.pipedream_id
            TriggerDeployment.objects.filter(pk=row.pk).update(status=Status.FAILED, error=reason)
        # Nothing may run on an account the site no longer has. Kept (failed, with its
        # id) when Pipedream refuses the removal: recheck_claims tries again.
        if trigger_id and _delete_upstream(trigger_id, row.external_user_id()):
            TriggerDeployment.objects.filter(pk=row.pk, pipedream_id=trigger_id).update(
                pipedream_id="", signing_key_encrypted=""
            )
        return None
    return _ensure(claim, Runner.for_site(account))


def _ensure(claim: Claim, runner: Runner) -> TriggerDeployment | None:
    with transaction.atomic():
        deployment, created = TriggerDeployment.objects.select_for_update().get_or_create(
            claim=claim,
            member=runner.member,
            defaults={
                "account": runner.account,
                "site_account": runner.site_account,
                "deploy_started_at": timezone.now(),
            },
        )
        retry = deployment.status == Status.FAILED
        moved = runner.moved_from(deployment)
        if retry or moved:  # deployed (again); take the row back first
            deployment.status = Status.DEPLOYING
            deployment.account = runner.account
            deployment.site_account = runner.site_account
            # What a disconnect of the account looks for, from now on.
            deployment.account_pipedream_id = runner.account_pipedream_id
            deployment.deploy_started_at = timezone.now()
            deployment.save(
                update_fields=[
                    "status",
                    "account",
                    "site_account",
                    "account_pipedream_id",
                    "deploy_started_at",
                ]
            )
    if not (created or retry or moved):
        return deployment if deployment.status == Status.ACTIVE else None
    if deployment.pipedream_id and not _earlier_remove(deployment, runner):
        return None
    return _deploy(deployment, claim=claim, runner=runner)


def _earlier_remove(deployment: TriggerDeployment, runner: Runner) -> bool:
    """Before the row is deployed again: remove the trigger it names upstream (one on an
    account a reconnect replaced, or one left by a deploy that gave no signing key), so
    no trigger stays deployed that no row names. Gone already (404) is removed. False
    when Pipedream failed: the row is then `failed` and keeps the trigger's id, so
    `recheck_claims` tries again."""
    if _delete_upstream(deployment.pipedream_id, runner.external_user_id):
        TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
            pipedream_id="", signing_key_encrypted=""
        )
        deployment.pipedream_id = deployment.signing_key_encrypted = ""
        return True
    TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
        status=Status.FAILED, error="The trigger deployed before could not be removed yet."
    )
    return False


def _deploy(deployment, *, claim: Claim, runner: Runner):
    client = pipedream.get_client()
    # A deploy of an earlier try may have happened without its answer reaching us.
    _orphans_remove(deployment=deployment, claim=claim, runner=runner)
    # Claim.clean checked the operator's list on save; a row saved before it shrank, or
    # written past the admin, is refused here, before the trigger is named to Pipedream.
    problem = allowlists.component_problem(claim.trigger)
    if problem:
        logger.warning("Trigger %s of claim %s not deployed: not allowed", claim.trigger, claim.pk)
        TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
            status=Status.FAILED, error=f"Not deployed: {problem}"[:1000]
        )
        return None
    try:
        # The account under the trigger's own app prop name, and the dynamic props its
        # definition makes for this account (github-new-star's reload on repoFullname).
        props, dynamic_props_id = client.props_for_account(
            claim.trigger,
            app_slug=runner.app_slug,
            account_id=runner.account_pipedream_id,
            external_user_id=runner.external_user_id,
            props=claim.trigger_props or {},
        )
        data = client.deploy_trigger(
            trigger_id=claim.trigger,
            external_user_id=runner.external_user_id,
            configured_props=props,
            webhook_url=webhook_url(deployment),
            dynamic_props_id=dynamic_props_id,
            emit_on_deploy=False,
        )
    except pipedream.PipedreamError as exc:
        whom = f"member {runner.member.pk}" if runner.member else "the site"
        logger.warning("Trigger %s not deployed for %s: %s", claim.trigger, whom, exc)
        TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
            status=Status.FAILED, error=str(exc)[:1000]
        )
        return None
    trigger_id = str(data.get("id") or "")
    key = str(data.get("webhook_signing_key") or "")
    deployment.set_signing_key(key)
    # Only if the row is still ours to finish: a removal may have come meanwhile.
    finished = TriggerDeployment.objects.filter(pk=deployment.pk, status=Status.DEPLOYING).update(
        pipedream_id=trigger_id,
        account_pipedream_id=runner.account_pipedream_id,
        signing_key_encrypted=deployment.signing_key_encrypted,
        status=Status.ACTIVE if key else Status.FAILED,
        error="" if key else "Pipedream gave no signing key: events could not be verified.",
    )
    if not finished or not key:
        # Removed while deploying, or unusable: nothing may stay deployed unwatched.
        _delete_upstream(trigger_id, runner.external_user_id)
        if not finished:
            TriggerDeployment.objects.filter(pk=deployment.pk).delete()
            return _redeploy_if_wanted(claim.pk, runner.member)
        return None
    deployment.refresh_from_db()
    return deployment


def _delete_upstream(trigger_id: str, external_user_id: str) -> bool:
    if not trigger_id:
        return True
    try:
        pipedream.get_client().delete_deployed_trigger(
            trigger_id, external_user_id=external_user_id
        )
    except pipedream.NotFound:
        return True
    except pipedream.PipedreamError as exc:
        logger.warning("Trigger %s not removed yet: %s", trigger_id, exc)
        return False
    return True


def _orphans_remove(*, deployment: TriggerDeployment, claim: Claim, runner: Runner) -> int:
    """After a deploy whose answer was lost: a trigger may exist upstream that we hold no
    row (and no signing key) for. Remove the runner's deployments of this component that
    no row of ours names and whose webhook URL carries our reference to this row, or to a
    row that no longer exists: never another row's deploy in flight (its id is not known
    yet), nor a trigger someone else deployed."""
    mine = TriggerDeployment.objects.filter(member=runner.member)
    ours = set(mine.exclude(pipedream_id="").values_list("pipedream_id", flat=True))
    client = pipedream.get_client()
    removed = 0
    try:
        for data in client.list_deployed_triggers(external_user_id=runner.external_user_id):
            trigger_id = data.get("id")
            if data.get("component_key") != claim.trigger or trigger_id in ours:
                continue
            urls = client.list_trigger_webhooks(
                str(trigger_id), external_user_id=runner.external_user_id
            )
            named = {pk for pk in map(_reference_in, urls) if pk is not None}
            if not named or not all(
                pk == deployment.pk or not TriggerDeployment.objects.filter(pk=pk).exists()
                for pk in named
            ):
                continue
            client.delete_deployed_trigger(
                str(trigger_id), external_user_id=runner.external_user_id
            )
            removed += 1
    except pipedream.PipedreamError as exc:
        logger.warning("Orphan triggers of %s not removed: %s", runner.external_user_id, exc)
    return removed


def _reference_in(url: str) -> int | None:
    """The deployment our webhook URL names (its signed `d`), or None."""
    try:
        reference = parse_qs(urlsplit(str(url)).query).get("d", [""])[0]
        value = signing.loads(reference, salt=REFERENCE_SALT)
    except (signing.BadSignature, ValueError):
        return None
    return value if isinstance(value, int) else None


def deployment_remove(deployment: TriggerDeployment) -> bool:
    """Delete the trigger upstream, then the row. A deployment still being made is only
    marked: its deploy sees that and deletes what it made. False (row kept, marked
    removing) when Pipedream failed: `recheck_claims` tries again."""
    with transaction.atomic():
        current = (
            TriggerDeployment.objects.select_for_update(of=("self",))
            .select_related("member")
            .filter(pk=deployment.pk)
            .first()
        )
        if current is None:
            return True
        deploying = current.status == Status.DEPLOYING
        current.status = Status.REMOVING
        current.save(update_fields=["status"])
    if deploying:
        return True
    if not _delete_upstream(current.pipedream_id, current.external_user_id()):
        return False
    current.delete()
    return True


def deployments_to_remove(
    *, member, account_pipedream_id: str | None = None, claim: Claim | None = None
):
    deployments = TriggerDeployment.objects.filter(member=member).select_related("member")
    if account_pipedream_id is not None:
        deployments = deployments.filter(account_pipedream_id=account_pipedream_id)
    if claim is not None:
        deployments = deployments.filter(claim=claim)
    return deployments


def tidy(limit: int | None = None) -> int:
    """Removals Pipedream refused earlier are tried again (and the member's deployment made
    again where the claim still wants one); live deployments the claim no longer wants are
    removed; deploys that failed (or that a stopped worker left half-made) are tried again
    while there is still something to watch; a claim on the site's account that has no
    deployment gets one. Returns how many were settled."""
    cutoff = timezone.now() - DEPLOY_STALE_AFTER
    TriggerDeployment.objects.filter(status=Status.DEPLOYING).filter(
        Q(deploy_started_at__lt=cutoff) | Q(deploy_started_at__isnull=True, created_at__lt=cutoff)
    ).update(status=Status.FAILED, error="The deploy did not finish.")
    settled = 0
    removing = TriggerDeployment.objects.filter(status=Status.REMOVING).select_related("member")
    for deployment in removing[:limit] if limit else removing:
        if deployment_remove(deployment):
            settled += 1
            # Removed for new props, or off an account the member no longer has: the
            # claim may still want one for them (on the account they have now).
            _redeploy_if_wanted(deployment.claim_id, deployment.member)
    # Live deployments the claim no longer wants (a deploy queued before it was
    # disabled, moved to the other scope, or lost its trigger).
    strays = TriggerDeployment.objects.filter(status=Status.ACTIVE).filter(
        Q(claim__enabled=False)
        | Q(claim__trigger="")
        | Q(member__isnull=False, claim__trigger_scope=Scope.SITE)
        | Q(member__isnull=True, claim__trigger_scope=Scope.MEMBER)
    )
    for deployment in strays.select_related("member")[:limit] if limit else strays:
        settled += deployment_remove(deployment)
    failed = TriggerDeployment.objects.filter(status=Status.FAILED).select_related(
        "claim__trigger_app", "member", "account__app"
    )
    for deployment in failed[:limit] if limit else failed:
        claim, member = deployment.claim, deployment.member
        if member is None:
            settled += site_deployment_sync(claim) is not None
            continue
        account = deployment.account or (
            ConnectedAccount.objects.filter(member=member, app=claim.trigger_app)
            .select_related("app")
            .first()
        )
        done = Completion.objects.completed().filter(claim=claim, member=member).exists()
        gone = not claim.enabled or not claim.trigger or claim.trigger_scope == Scope.SITE
        if account is None or done or gone:
            deployment_remove(deployment)  # nothing left to watch
            continue
        settled += deployment_ensure(claim=claim, member=member, account=account) is not None
    missing = (
        Claim.objects.enabled()
        .exclude(trigger="")
        .filter(trigger_scope=Scope.SITE)
        .exclude(
            Exists(TriggerDeployment.objects.filter(claim=OuterRef("pk"), member__isnull=True))
        )
    )
    for claim in missing[:limit] if limit else missing:
        settled += site_deployment_sync(claim) is not None
    return settled
