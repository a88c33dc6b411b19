"""The member's connections: the accounts page and every step of connecting an account.

Thin views: forms check a request, services write, selectors read. A view serves a page
and its htmx fragment (`template + "#partial"`); a POST answers a redirect, or to htmx the
fragment. JSON views (token, iframe callback) answer every failure {"error": sentence}.

- `page`: /accounts/ (kept by core/pagecache.py), its htmx list, disconnecting;
- `connect`: the iframe's token and callback, Connect Link, the emailed link, the return;
- `common`: JSON errors, error pages, a request's fields, the member's own account.
"""

from connections.views.connect import callback, connect_link, done, emailed_link, token
from connections.views.page import accounts, disconnect, fresh_state, page_extra

__all__ = [
    "accounts",
    "callback",
    "connect_link",
    "disconnect",
    "done",
    "emailed_link",
    "fresh_state",
    "page_extra",
    "token",
]
