"""Alerts in the admin: the webhooks operators configure, incidents, and the delivery log.

- Alert webhooks: adding one makes its signing secret, shown on the next page once and
  never again (it is stored encrypted); Rotate secret makes a new one the same way;
  Send test queues a signed test message. The URL is checked (https, public host).
- Incidents: read-only, filtered open / resolved.
- Alert deliveries: read-only log of every email and webhook message with its tries;
  Replay sends the same message again (same webhook-id, signed anew).
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone

from core import webhook_admin, webhooks
from operations.alerts import notify
from operations.models import AlertDelivery, AlertEndpoint, Incident


class AlertEndpointForm(webhook_admin.EndpointForm):
    class Meta:
        model = AlertEndpoint
        fields = ["name", "url", "enabled"]


@admin.register(AlertEndpoint)
class AlertEndpointAdmin(webhook_admin.EndpointAdmin):
    form = AlertEndpointForm
    list_display = ["name", "host", "enabled", "secret_set_at"]
    readonly_fields = ["secret_set_at", "created_at"]

    def rotate_secret(self, endpoint: AlertEndpoint, secret: str) -> None:
        endpoint.set_secret(secret)
        endpoint.save(update_fields=["secret_encrypted", "secret_set_at"])

    def queue_test(self, endpoint: AlertEndpoint) -> str:
        notify.send_test(endpoint)
        log = reverse("admin:operations_alertdelivery_changelist")
        return f"{log}?endpoint__id__exact={endpoint.pk}"


class OpenFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open"), ("no", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


INCIDENT_FIELDS: tuple[str, ...] = (
    "kind",
    "key",
    "summary",
    "detail",
    "count",
    "opened_at",
    "last_seen_at",
    "resolved_at",
)
DELIVERY_FIELDS: tuple[str, ...] = (
    "event",
    "channel",
    "incident",
    "endpoint",
    "recipients",
    "message_id",
    "replay_of",
    *webhooks.TRY_FIELDS,
    "payload",
)


@admin.register(Incident)
class IncidentAdmin(ReadOnly):
    list_display = ["kind", "summary", "count", "opened_at", "status"]
    list_filter = [OpenFilter, "kind"]
    date_hierarchy = "opened_at"
    fields = readonly_fields = INCIDENT_FIELDS

    @admin.display(description="status", ordering="resolved_at")
    def status(self, incident: Incident) -> str:
        if incident.resolved_at is None:
            return f"Open (last seen {timezone.localtime(incident.last_seen_at):%Y-%m-%d %H:%M})"
        return f"Resolved {timezone.localtime(incident.resolved_at):%Y-%m-%d %H:%M}"


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnly):
    list_display = ["created_at", "event", "target", "outcome"]
    list_filter = ["state", "channel", "event", "endpoint"]
    list_select_related = ["endpoint", "incident"]
    actions = ["replay"]
    fields = readonly_fields = DELIVERY_FIELDS

    @admin.display(description="to")
    def target(self, delivery: AlertDelivery) -> str:
        if delivery.channel == AlertDelivery.Channel.EMAIL:
            count = len(delivery.recipients.splitlines())
            return f"{count} operator(s) by email"
        return str(delivery.endpoint or "(deleted webhook)")

    @admin.display(description="outcome", ordering="state")
    def outcome(self, delivery: AlertDelivery) -> str:
        tries = f"{delivery.attempts} tr{'y' if delivery.attempts == 1 else 'ies'}"
        said = f": {delivery.error}" if delivery.error else ""
        return f"{delivery.get_state_display()} after {tries}{said}"

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("operations.change_alertdelivery")

    @admin.action(description="Replay: send the same message again", permissions=["replay"])
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset.select_related("endpoint"):
            if delivery.channel == AlertDelivery.Channel.WEBHOOK and delivery.endpoint is None:
                continue
            notify.replay(delivery)
            replayed += 1
        self.message_user(
            request,
            f"{replayed} message(s) queued again, each with its original webhook-id.",
            messages.SUCCESS,
        )
