"""The sandbox's shared state: the faults injected into either emulated service."""

from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from core import shared_version
from sandbox.common.fault_specs import describe as describe_spec


class Fault(models.Model):
    """A fault to inject into matching sandbox endpoints (see sandbox/common/faults.py)."""

    endpoint = models.CharField(
        max_length=100,
        help_text='An endpoint name ("pipedream.accounts.list") or a pattern ("pipedream.*").',
    )
    latency_ms = models.PositiveIntegerField(default=0, help_text="Added delay.")
    rate = models.FloatField(default=1.0, help_text="Probability (0..1) that the fault fires.")
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Answer with this status (429, 500, 503...)."
    )
    retry_after = models.PositiveIntegerField(default=1, help_text="Seconds, for a 429.")
    hang_seconds = models.FloatField(default=0, help_text="Sleep this long before answering.")
    malformed = models.BooleanField(default=False, help_text="Answer 200 with broken JSON.")
    error_message = models.CharField(
        max_length=500,
        blank=True,
        help_text="With a status: the errorMessage (or error) of the answer, instead of the "
        "generic one.",
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.endpoint}: {self.describe()}"

    def as_spec(self) -> dict:
        return {
            "latency_ms": self.latency_ms,
            "rate": self.rate,
            "status": self.status,
            "retry_after": self.retry_after,
            "hang_seconds": self.hang_seconds,
            "malformed": self.malformed,
            "error_message": self.error_message or None,
        }

    def describe(self) -> str:
        if self.endpoint.startswith("host.id_token."):
            # The host provider's id_token faults (sandbox/host/faults.py) are on while
            # enabled, whatever effect the row names: say what they do instead.
            return "a 200 whose id_token is wrong in the way the note says"
        return describe_spec(self.as_spec())


# The enabled faults, asked by every sandbox request, kept per process under a version in
# the shared cache that every save or deletion of a Fault replaces (core/shared_version.py:
# on a cache the processes do not share the rows are read every time). Nothing writes
# faults by queryset update: the control page, the admin and the host provider's setup
# save and delete them one by one.
_enabled: shared_version.Kept[list[tuple[str, dict]]] = shared_version.Kept(
    "sandbox:faults-version"
)


def enabled_faults() -> list[tuple[str, dict]]:
    """(endpoint pattern, spec) of each enabled Fault row, in creation order."""
    version, rows = _enabled.lookup()
    if rows is shared_version.MISSING:
        rows = [(fault.endpoint, fault.as_spec()) for fault in Fault.objects.filter(enabled=True)]
        _enabled.keep(version, rows)
    return rows


@receiver(post_save, sender=Fault, dispatch_uid="sandbox.fault_saved")
@receiver(post_delete, sender=Fault, dispatch_uid="sandbox.fault_deleted")
def on_fault_changed(sender, **kwargs):
    _enabled.changed()
