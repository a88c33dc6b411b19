"""URLs for tests that need real HTTP: the site's own, plus a webhook receiver and an embedder.

Used with @pytest.mark.urls("tests.sandbox.urls_support") and live_server.
"""

import json
import threading

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as site_urlpatterns

RECEIVED: list[dict] = []
_lock = threading.Lock()
# How many of the next deliveries to refuse with a 500 (retry tests).
FAILURES = {"remaining": 0}


def reset():
    with _lock:
        RECEIVED.clear()
        FAILURES["remaining"] = 0


@csrf_exempt
@login_not_required
def receive_webhook(request):
    with _lock:
        if FAILURES["remaining"] > 0:
            FAILURES["remaining"] -= 1
            return HttpResponse("try later", status=500)
        RECEIVED.append(
            {
                "path": request.get_full_path(),
                "content_type": request.content_type,
                "body": json.loads(request.body),
                "raw": request.body,  # the exact bytes, for signature checks
                "headers": dict(request.headers),
            }
        )
    return HttpResponse(status=204)


EMBED_PAGE = """<!doctype html>
<html><head><title>Embedder</title></head>
<body>
<h1>A site that embeds Connect</h1>
<pre id="messages">[]</pre>
<script>
  window.received = [];
  window.addEventListener("message", function (event) {
    window.received.push({origin: event.origin, data: event.data});
    document.getElementById("messages").textContent = JSON.stringify(window.received);
    if (event.data && event.data.type === "close") {
      var frame = document.getElementById("connect");
      if (frame) { frame.remove(); }
    }
  });
  var frame = document.createElement("iframe");
  frame.id = "connect";
  frame.title = "Pipedream Connect";
  frame.width = "600";
  frame.height = "720";
  frame.src = new URLSearchParams(location.search).get("src");
  document.body.appendChild(frame);
</script>
</body></html>
"""


# No CSP of our own on this page: it plays a third-party site.
@csp_override({})
@login_not_required
def embed(request):
    return HttpResponse(EMBED_PAGE)


urlpatterns = [
    path("test-hooks/", receive_webhook),
    path("test-embed/", embed),
    *site_urlpatterns,
]
