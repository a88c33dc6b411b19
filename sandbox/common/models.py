"""The sandbox's shared state: the faults injected into either emulated service."""

from django.db import models
from django.utils import timezone

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
