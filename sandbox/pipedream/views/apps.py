"""The emulated Pipedream's apps views: the catalogue (sandbox/pipedream/catalogue.py)."""

from django.http import JsonResponse

from sandbox.pipedream import catalogue, services
from sandbox.pipedream.views.base import (
    APP_NOT_FOUND,
    ApiError,
    Caller,
    base_url,
    endpoint,
    query_bool,
    query_cursors,
    query_limit,
)

# --- Apps ----------------------------------------------------------------------------

SORT_KEYS = {"name", "name_slug", "featured_weight"}


@endpoint("pipedream.apps.list", scoped=False)
def apps_list(request, caller: Caller):
    """GET /v1/connect/apps and /v1/apps: {data: [App], page_info}."""
    apps = list(catalogue.APPS.values())
    if q := request.GET.get("q", "").strip().lower():
        apps = [
            a
            for a in apps
            if q in a["name"].lower()
            or q in a["name_slug"]
            or q in (a["description"] or "").lower()
        ]
    for kind in ("actions", "triggers"):
        if request.GET.get(f"has_{kind}"):
            wanted = query_bool(request, f"has_{kind}")
            apps = [a for a in apps if catalogue.app_has(a["name_slug"], kind) == wanted]
    if request.GET.get("has_components") and query_bool(request, "has_components"):
        apps = [
            a
            for a in apps
            if catalogue.app_has(a["name_slug"], "actions")
            or catalogue.app_has(a["name_slug"], "triggers")
        ]
    sort_key = request.GET.get("sort_key") or "featured_weight"
    direction = request.GET.get("sort_direction") or (
        "desc" if sort_key == "featured_weight" else "asc"
    )
    if sort_key not in SORT_KEYS:
        raise ApiError(400, f"sort_key must be one of {sorted(SORT_KEYS)}.")
    if direction not in ("asc", "desc"):
        raise ApiError(400, "sort_direction must be asc or desc.")
    apps.sort(key=lambda a: a["name_slug"])  # ties break the same way every time
    apps.sort(key=lambda a: a[sort_key], reverse=direction == "desc")
    after, before = query_cursors(request)
    limit = query_limit(request)
    ids = [a["id"] for a in apps]
    start, stop = 0, len(apps)
    if after:
        start = ids.index(after) + 1 if after in ids else len(apps)
    if before:
        stop = ids.index(before) if before in ids else 0
    if before and not after:
        start = max(0, stop - limit)
    window = apps[start:stop][:limit]
    end = start + len(window)
    base = base_url(request)
    return JsonResponse(
        {
            "data": [catalogue.app_json(a, base) for a in window],
            "page_info": {
                "count": len(window),
                "total_count": len(apps),
                "start_cursor": services.encode_cursor(window[0]["id"])
                if window and start
                else None,
                "end_cursor": (
                    services.encode_cursor(window[-1]["id"]) if window and end < len(apps) else None
                ),
            },
        }
    )


@endpoint("pipedream.apps.get", scoped=False)
def apps_get(request, caller: Caller, app_id: str):
    """GET /v1/connect/apps/{app_id} and /v1/apps/{app_id}: {"data": App}."""
    app = catalogue.find_app(app_id)
    if app is None:
        raise ApiError(404, APP_NOT_FOUND)
    return JsonResponse({"data": catalogue.app_json(app, base_url(request))})
