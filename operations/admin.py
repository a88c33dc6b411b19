"""Alerts in the admin: the webhooks operators configure, incidents, and the delivery log.

- Alert webhooks: adding one makes its signing secret, shown on the next page once and
  never again (it is stored encrypted); Rotate secret makes a new one the same way;
  Send test queues a signed test message. The URL is checked (https, public host).
- Incidents: read-only, filtered open / resolved.
- Alert deliveries: read-only log of every email and webhook message with its tries;
  Replay sends the same message again (same webhook-id, signed anew).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import webhooks
from operations.alerts import notify
from operations.models import AlertDelivery, AlertEndpoint, Incident


class AlertEndpointForm(forms.ModelForm):
    url = forms.CharField(
        label="URL",
        max_length=webhooks.MAX_URL,
        help_text=AlertEndpoint._meta.get_field("url").help_text,
        widget=forms.URLInput(attrs={"size": 80}),
    )

    class Meta:
        model = AlertEndpoint
        fields = ["name", "url", "enabled"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if "\x00" in name:
            raise forms.ValidationError("A name cannot hold a NUL character.")
        return name

    def clean_url(self):
        try:
            return webhooks.check_url(self.cleaned_data["url"])
        except webhooks.UrlRefused as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(AlertEndpoint)
class AlertEndpointAdmin(admin.ModelAdmin):
    form = AlertEndpointForm
    list_display = ["name", "host", "enabled", "secret_set_at"]
    readonly_fields = ["secret_set_at", "created_at"]
    change_form_template = "admin/operations/alertendpoint/change_form.html"

    @admin.display(description="host")
    def host(self, endpoint: AlertEndpoint) -> str:
        return webhooks.host_of(endpoint.url)

    @admin.display(description="URL")
    def masked_url(self, endpoint: AlertEndpoint) -> str:
        return webhooks.masked(endpoint.url)

    def _looks_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj) if name != "masked_url"]
        if self._looks_only(request, obj):
            # Staff who may only look: the path of a webhook URL is often its credential.
            return ["masked_url" if name == "url" else name for name in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "masked_url"] if self._looks_only(request, obj) else readonly

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/rotate/",
                view(require_POST(self.rotate_view)),
                name="{}_{}_rotate".format(*info),
            ),
            path(
                "<int:object_id>/test/",
                view(require_POST(self.test_view)),
                name="{}_{}_test".format(*info),
            ),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_act": self.has_change_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            request._alert_secret = webhooks.new_secret()
            obj.set_secret(request._alert_secret)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_alert_secret", "")
        if not secret:
            return super().response_add(request, obj, post_url_continue)
        return self._show_secret(request, obj, secret, made=True)

    def _show_secret(self, request, endpoint, secret, *, made):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "endpoint": endpoint,
            "secret": secret,
            "made": made,
            "title": "Signing secret",
        }
        response = TemplateResponse(request, "admin/operations/alert_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _endpoint(self, request, object_id) -> AlertEndpoint:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(AlertEndpoint, pk=object_id)

    def rotate_view(self, request, object_id):
        with transaction.atomic():
            endpoint = self._endpoint(request, object_id)
            secret = webhooks.new_secret()
            endpoint.set_secret(secret)
            endpoint.save(update_fields=["secret_encrypted", "secret_set_at"])
        self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._show_secret(request, endpoint, secret, made=False)

    def test_view(self, request, object_id):
        endpoint = self._endpoint(request, object_id)
        notify.send_test(endpoint)
        self.message_user(
            request,
            "A signed test message is queued; the alert delivery log shows how it went.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:operations_alertdelivery_changelist")
            + f"?endpoint__id__exact={endpoint.pk}"
        )


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
    "state",
    "attempts",
    "last_attempt_at",
    "next_attempt_at",
    "status_code",
    "error",
    "delivered_at",
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
