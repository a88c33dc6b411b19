"""{% load notifications %}{% notification_switches %}: the member's two email switches,
for /profile/ (users cannot import this app; the template loads it)."""

from django import template

from notifications.forms import preferences_form

register = template.Library()


@register.inclusion_tag("notifications/_switches.html", takes_context=True)
def notification_switches(context):
    request = context["request"]
    return {
        "form": preferences_form(request.user),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
