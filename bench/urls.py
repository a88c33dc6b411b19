"""The site's URLs plus /bench/trivial/: a logged-in page that does next to nothing.

It goes through the same middleware (sessions, CSRF, authentication, login required,
messages, allauth, CSP, htmx) and returns a tiny HTML body naming the member, so the
Pages benchmark can set the cost of a real page against the cost of the stack alone.
"""

from django.http import HttpResponse
from django.urls import path
from django.utils.html import escape

from config.urls import urlpatterns as site_urlpatterns


def trivial(request):
    # LoginRequiredMiddleware already sends anonymous visitors to the login page.
    return HttpResponse(f"<!doctype html><title>ok</title><p>{escape(request.user.username)}</p>")


urlpatterns = [path("bench/trivial/", trivial, name="bench_trivial"), *site_urlpatterns]
