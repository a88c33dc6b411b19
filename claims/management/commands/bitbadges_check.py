"""Check the BitBadges side end to end, step by step: what an operator runs the day real
keys arrive, and after changing a claim on BitBadges.

The steps: the settings; the API key and its credits (one cheap request); then for each
enabled claim (or the one named): that its BitBadges claim exists and is set up for its
delivery method (sign-in, password plugin and password, store gate and secret), and that
the claim attempts route answers for it, which is how an unknown outcome is verified.
Every step prints its outcome. A failure of the settings or the key stops there; the
claims are all checked, and the command exits non-zero naming each failing step. Nothing
is changed on BitBadges; each request costs one credit. The key and secrets are never
printed. Each claim's life (uses left, window, halt: claims/life.py) is read and kept too.

`--life` reads only the lives, of the enabled claims whose reading is older than
CLAIM_LIFE_MAX_AGE (or of the one named): the scheduler runs it (Procfile.scaled). A
reading that fails keeps the last one; the command then exits non-zero.
"""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from claims import bitbadges, life, preflight, services
from claims.management.commands.complete_claims import claim_lookup
from claims.models import Claim
from claims.secrets import SecretUnreadable


class Command(BaseCommand):
    help = (
        "Check the BitBadges configuration end to end: the API key and credits, then each "
        "enabled claim's BitBadges claim against its delivery method, its dynamic store and "
        "the attempts route used to verify unknown outcomes. Exits non-zero naming the "
        "failing steps."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--claim", help="Check only this claim (slug or number), enabled or not."
        )
        parser.add_argument(
            "--all", action="store_true", help="Check disabled claims too (default: enabled ones)."
        )
        parser.add_argument(
            "--life",
            action="store_true",
            dest="life_only",
            help="Only read each claim's life (uses, window, halt) where the last reading is "
            "older than CLAIM_LIFE_MAX_AGE, and keep it.",
        )

    def handle(self, *args, claim=None, all=False, life_only=False, verbosity=1, **options):
        # The client logs each failure; here the steps already say what happened.
        client_logger = logging.getLogger("claims.bitbadges")
        level = client_logger.level
        if verbosity < 2:
            client_logger.setLevel(logging.CRITICAL)
        try:
            if life_only:
                self.read_lives(claim=claim, verbosity=verbosity)
            else:
                self.run_steps(claim=claim, include_disabled=all)
        finally:
            client_logger.setLevel(level)

    def run_steps(self, *, claim, include_disabled):
        if claim is not None:
            claims = [claim_lookup(claim)]
        else:
            queryset = Claim.objects.all() if include_disabled else Claim.objects.enabled()
            claims = list(queryset.order_by("slug"))
        self.step_no = 0
        self.total = 2 + len(claims)
        self.failures: list[str] = []
        sandbox = " [sandbox]" if settings.SANDBOX else ""
        self.stdout.write(f"Checking BitBadges at {settings.BITBADGES_API_URL or '?'}{sandbox}")

        client = self.step("Settings", self._settings, stop=True)
        self.step("API key", lambda: self._key(client), stop=True)
        if not claims:
            self.stdout.write("  No enabled claims to check (--all includes disabled ones).")
        for item in claims:
            self.step(f"Claim {item.slug}", lambda item=item: self._claim(client, item))

        if self.failures:
            first = self.failures[0]
            more = f" ({len(self.failures)} steps failed)" if len(self.failures) > 1 else ""
            raise CommandError(f"{first}{more}")
        self.stdout.write(self.style.SUCCESS(f"All {self.total} steps passed."))

    def read_lives(self, *, claim, verbosity):
        claims = [claim_lookup(claim)] if claim is not None else list(life.due_for_reading())
        failed = []
        client = bitbadges.BitBadgesClient.from_settings()
        for item in claims:
            if life.refresh(item, client=client):
                if verbosity:
                    self.stdout.write(f"  {item.slug}: {_life_words(item)}")
            elif item.bitbadges_claim_id:
                failed.append(item.slug)
                self.stdout.write(f"  {item.slug}: not read: {item.life_read_error}")
        if failed:
            raise CommandError(f"Could not read the life of {', '.join(failed)} from BitBadges")
        if verbosity:
            self.stdout.write(f"Read {len(claims)} claim(s) from BitBadges.")

    # --- steps ----------------------------------------------------------------------

    def _settings(self):
        client = bitbadges.BitBadgesClient.from_settings()
        key = settings.BITBADGES_API_KEY
        self.ok(f"API URL {client.api_url}, API key set ({len(key)} characters)")
        return client

    def _key(self, client):
        try:
            client.probe()
        except bitbadges.PaymentRequired as exc:
            where = f" Top up at {exc.top_up_url}." if exc.top_up_url else ""
            raise _Failed(
                f"BitBadges accepts the key but its account is out of credits.{where}"
            ) from None
        self.ok(
            "accepted, with credits left (BitBadges serves no credit balance for an API key; a "
            "request answered is the proof)"
        )

    def _claim(self, client, claim: Claim):
        try:
            checks = preflight.ClaimSettings.of(claim)
        except SecretUnreadable:
            raise _Failed(
                "the claim's stored password or store secret cannot be decrypted with "
                "CLAIM_SECRETS_KEYS (was a key dropped before claim_secrets_rotate ran?)"
            ) from None
        try:
            problems = services.claim_problems(checks, client=client)
        except preflight.CheckUnavailable as exc:
            raise _Failed(f"BitBadges could not be asked: {exc}") from None
        blocking = [problem.text for problem in problems if problem.blocking]
        notes = [problem.text for problem in problems if not problem.blocking]
        # A store claim's outcomes are checked in the store; the others' on its attempts.
        method = services.method_of(claim.delivery)
        verified_by_attempts = method is not None and method.verified_by_attempts(claim)
        if not blocking and verified_by_attempts:
            blocking += self._attempts_route_problems(client, claim)
        if blocking:
            raise _Failed(" ".join(blocking))
        detail = f"{claim.get_delivery_display()}"
        if claim.bitbadges_claim_id:
            detail += f", BitBadges claim {claim.bitbadges_claim_id}"
            if life.refresh(claim, client=client):
                detail += f" ({_life_words(claim)})"
        if verified_by_attempts:
            detail += "; unknown outcomes verifiable through its attempts"
        self.ok(detail)
        for note in notes:
            self.stdout.write(self.style.WARNING(f"        note: {note}"))

    def _attempts_route_problems(self, client, claim: Claim) -> list[str]:
        """Why an unknown outcome of this claim could not be verified (none: it can)."""
        try:
            client.success_count(claim.bitbadges_claim_id, preflight.PROBE_ADDRESS)
        except bitbadges.CannotVerify as exc:
            return [
                f"Unknown outcomes of this claim cannot be verified: {exc.message}. If the "
                "claim hides its current state (numUses), only its manager may list its "
                "attempts: turn that off on BitBadges."
            ]
        except bitbadges.BitBadgesError as exc:
            return [f"The claim attempts route failed: {exc}"]
        return []

    # --- output ---------------------------------------------------------------------

    def step(self, name: str, action, *, stop: bool = False):
        self.step_no += 1
        self.stdout.write(f"  [{self.step_no}/{self.total}] {name:<24} ", ending="")
        self.stdout.flush()
        try:
            return action()
        except (_Failed, bitbadges.BitBadgesError) as exc:
            self.stdout.write(self.style.ERROR("FAILED"))
            self.stdout.write(f"        {exc}")
            message = f"Step {self.step_no} of {self.total} ({name}) failed: {exc}"
            self.failures.append(message)
            if stop:
                raise CommandError(message) from None
        return None

    def ok(self, detail: str):
        self.stdout.write(self.style.SUCCESS("ok") + f"  {detail}")


def _life_words(claim: Claim) -> str:
    left = life.remaining(claim)
    uses = f"{left} of {claim.life_max_uses} uses left" if left is not None else "uses hidden"
    stop = life.stop_for(claim)
    return f"{uses}; {stop.sentence if stop else 'open'}"


class _Failed(Exception):
    """A step's failure, in a sentence an operator can act on."""
