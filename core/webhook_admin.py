"""The admin of a webhook endpoint, for both kinds (operators' alerts, the host site's).

`EndpointForm` checks the URL (core/webhooks.py) and the name. `EndpointAdmin`:
- adding an endpoint makes its signing secret and shows it on the next page, once
  (Cache-Control: no-store); it is stored encrypted and never shown again;
- Rotate secret asks first (GET: what happens to the current secret), then (POST)
  makes a new one and shows it the same way; Send test (POST) queues a signed test
  message; both need the change permission;
- staff who may only view see the URL's scheme and host, never its path or query
  (a webhook URL's path is often a token).

A subclass says what rotating and testing do: `rotate_secret(endpoint, secret)` (saves
it; returns until when the old secret still signs, or None), `rotation_overlap()` (how
long the old one will, said before rotating) and `queue_test(endpoint)` (returns the
delivery log's URL to go to).
"""

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timesince, timezone
from django.views.decorators.http import require_http_methods, require_POST

from core import webhooks


class EndpointForm(forms.ModelForm[Any]):
    url = forms.CharField(
        label="URL", max_length=webhooks.MAX_URL, widget=forms.URLInput(attrs={"size": 80})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["url"].help_text = self._meta.model._meta.get_field("url").help_text

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if "\x00" in name:
            raise forms.ValidationError("A name cannot hold a NUL character.")
        return name

    def clean_url(self) -> str:
        try:
            return webhooks.check_url(self.cleaned_data["url"])
        except webhooks.UrlRefused as exc:
            raise forms.ValidationError(str(exc)) from None


class EndpointAdmin(admin.ModelAdmin[Any]):
    change_form_template = "admin/webhook_endpoint_change_form.html"

    def rotate_secret(self, endpoint: Any, secret: str) -> datetime.datetime | None:
        raise NotImplementedError

    def queue_test(self, endpoint: Any) -> str:
        raise NotImplementedError

    def rotation_overlap(self) -> datetime.timedelta | None:
        return None

    @admin.display(description="host")
    def host(self, endpoint: Any) -> str:
        return webhooks.host_of(endpoint.url)

    @admin.display(description="URL")
    def masked_url(self, endpoint: Any) -> str:
        return webhooks.masked(endpoint.url)

    def _looks_only(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [name for name in super().get_fields(request, obj) if name != "masked_url"]
        if self._looks_only(request, obj):
            # Staff who may only look: the path of a webhook URL is often its credential.
            return ["masked_url" if name == "url" else name for name in fields]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "masked_url"] if self._looks_only(request, obj) else readonly

    def _url_name(self, action: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{action}"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/rotate/",
                view(require_http_methods(["GET", "POST"])(self.rotate_view)),
                name=self._url_name("rotate"),
            ),
            path(
                "<int:object_id>/test/",
                view(require_POST(self.test_view)),
                name=self._url_name("test"),
            ),
        ] + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_act": self.has_change_permission(request),
            "rotate_url": f"admin:{self._url_name('rotate')}",
            "test_url": f"admin:{self._url_name('test')}",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Form, change: bool) -> None:
        if not change:  # kept on the request for response_add's page, and only there
            secret = webhooks.new_secret()
            setattr(request, "_webhook_secret", secret)  # noqa: B010
            obj.set_secret(secret)
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "_webhook_secret", "")
        if not secret:
            return super().response_add(request, obj, post_url_continue)
        return self._show_secret(request, obj, secret, made=True)

    def _show_secret(
        self,
        request: HttpRequest,
        endpoint: Any,
        secret: str,
        *,
        made: bool,
        old_until: datetime.datetime | None = None,
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "endpoint": endpoint,
            "secret": secret,
            "made": made,
            "old_until": old_until,
            "title": "Signing secret",
        }
        response = TemplateResponse(request, "admin/webhook_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _endpoint(self, request: HttpRequest, object_id: int, *, lock: bool = False) -> Any:
        if not self.has_change_permission(request):
            raise PermissionDenied
        queryset = self.model._default_manager
        return get_object_or_404(queryset.select_for_update() if lock else queryset, pk=object_id)

    def rotate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":  # ask first: the receiver holds the current secret
            endpoint = self._endpoint(request, object_id)
            overlap, now = self.rotation_overlap(), timezone.now()
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "endpoint": endpoint,
                "overlap": timesince.timeuntil(now + overlap, now) if overlap else "",
                "title": "Rotate the signing secret",
            }
            return TemplateResponse(request, "admin/webhook_rotate_confirm.html", context)
        with transaction.atomic():  # two rotations at once: one after the other
            endpoint = self._endpoint(request, object_id, lock=True)
            secret = webhooks.new_secret()
            old_until = self.rotate_secret(endpoint, secret)
        self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._show_secret(request, endpoint, secret, made=False, old_until=old_until)

    def test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        endpoint = self._endpoint(request, object_id)
        log = self.queue_test(endpoint)
        self.message_user(
            request,
            "A signed test message is queued; the delivery log shows how it went.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(log)
