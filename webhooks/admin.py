"""The host site's webhooks in the admin: endpoints, and the delivery log with replay.

- Webhook endpoints: adding one makes its signing secret, shown on the next page once
  and never again (it is stored encrypted). Rotate secret makes a new one the same way
  and keeps the old one signing beside it for WEBHOOK_SECRET_OVERLAP; Send test queues
  a signed webhook.test message. The URL is checked (https, public host); staff who may
  only view see its scheme and host, not its path (often a token).
- Webhook deliveries: each message to each endpoint, filtered by state, event and
  endpoint, with its tries below it and its body (which holds no secret). Replay sends
  the same message again (same webhook-id, signed anew) as a new row; "Retry failed"
  replays the failed ones not replayed yet. Both need "Can replay webhook deliveries".
"""

import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse

from core import webhook_admin, webhooks
from webhooks import events
from webhooks.models import SUBSCRIBABLE, Attempt, Delivery, Endpoint, EventType


class EndpointForm(webhook_admin.EndpointForm):
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=SUBSCRIBABLE,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick the events this endpoint receives; none ticked means all of them, "
        "and the events added later too.",
    )

    class Meta:
        model = Endpoint
        fields = ["name", "url", "enabled", "event_types"]

    def clean_event_types(self):
        chosen = set(self.cleaned_data["event_types"])
        return [value for value, _ in SUBSCRIBABLE if value in chosen]


@admin.register(Endpoint)
class EndpointAdmin(webhook_admin.EndpointAdmin):
    form = EndpointForm
    list_display = ["name", "host", "enabled", "receives", "secret_set_at"]
    list_filter = ["enabled"]
    readonly_fields = ["disabled_reason", "secret_set_at", "previous_secret_until", "created_at"]

    @admin.display(description="events")
    def receives(self, endpoint: Endpoint) -> str:
        return ", ".join(endpoint.event_types) if endpoint.event_types else "All"

    def save_model(self, request, obj, form, change):
        if obj.enabled:
            obj.disabled_reason = ""  # turned on again by staff: the 410 is history
        super().save_model(request, obj, form, change)

    def rotate_secret(self, endpoint: Endpoint, secret: str) -> datetime.datetime | None:
        overlap = datetime.timedelta(seconds=float(settings.WEBHOOK_SECRET_OVERLAP))
        endpoint.set_secret(secret, overlap=overlap)
        endpoint.save()
        return endpoint.previous_secret_until

    def rotation_overlap(self) -> datetime.timedelta | None:
        return datetime.timedelta(seconds=float(settings.WEBHOOK_SECRET_OVERLAP))

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None:  # nothing to say yet of a secret, a turning off or a creation
            return [name for name in fields if name not in self.readonly_fields]
        if not self.has_change_permission(request, obj):  # the list as words, not JSON
            fields = [name for name in fields if name != "receives"]
            return ["receives" if name == "event_types" else name for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if self.has_change_permission(request, obj) else [*readonly, "receives"]

    def queue_test(self, endpoint: Endpoint) -> str:
        events.send_test(endpoint)
        log = reverse("admin:webhooks_delivery_changelist")
        return f"{log}?endpoint__id__exact={endpoint.pk}"


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = readonly_fields = ("at", "status_code", "duration_ms", "error")
    extra = 0
    can_delete = False
    verbose_name_plural = "tries"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "endpoint", "outcome", "message_id"]
    list_filter = ["state", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["=message_id"]
    date_hierarchy = "created_at"
    actions = ["replay", "retry_failed"]
    inlines = [AttemptInline]
    fields = readonly_fields = (
        "event_type",
        "endpoint",
        "message_id",
        "replay_of",
        *webhooks.TRY_FIELDS,
        "created_at",
        "body",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.replay_delivery")

    @admin.display(description="outcome", ordering="state")
    def outcome(self, delivery: Delivery) -> str:
        tries = f"{delivery.attempts} tr{'y' if delivery.attempts == 1 else 'ies'}"
        said = f": {delivery.error}" if delivery.error else ""
        return f"{delivery.get_state_display()} after {tries}{said}"

    @admin.action(description="Replay: send the same message again", permissions=["replay"])
    def replay(self, request, queryset):
        self._replay(
            request, queryset, "message(s) queued again, each with its original webhook-id"
        )

    @admin.action(description="Retry failed: replay the failed ones", permissions=["replay"])
    def retry_failed(self, request, queryset):
        failed = queryset.filter(state=Delivery.State.FAILED, replays__isnull=True)
        self._replay(
            request, failed, "failed message(s) queued again (any already replayed are left)"
        )

    def _replay(self, request, queryset, done: str) -> None:
        """Replay the chosen messages, except those still being tried (a replay beside
        them would send each twice over, doubling the calls to a receiver that is
        failing already) and those to an endpoint turned off (they would fail unsent)."""
        made, waiting, off = [], 0, set()
        for delivery in queryset.select_related("endpoint").order_by("pk"):
            if delivery.state == Delivery.State.PENDING:
                waiting += 1
            elif not delivery.endpoint.enabled and delivery.event_type != EventType.TEST:
                off.add(delivery.endpoint.name)
            else:
                made.append(events.replay(delivery))
        said = f"{len(made)} {done}."
        if waiting:
            said += (
                f" {waiting} still being tried {'was' if waiting == 1 else 'were'} left as "
                "they are: replay them once they are delivered or failed."
            )
        if off:
            said += f" Left out, turned off: {', '.join(sorted(off))}; turn it on first."
        self.message_user(request, said, messages.WARNING if waiting or off else messages.SUCCESS)
