// The sandbox's hosted Connect page: tell the embedding page what happened, the way
// pipedream.com's connect.html does for the browser SDK (success / error / close).
// Messages go only to the token's allowed origins, one postMessage per origin.
(function () {
  "use strict";
  var node = document.getElementById("pd-data");
  if (!node) {
    return;
  }
  var data = JSON.parse(node.textContent);
  var origins = data.origins || [];

  function post(message) {
    if (window.parent === window) {
      return; // opened on its own, not embedded: nobody to tell
    }
    origins.forEach(function (origin) {
      window.parent.postMessage(message, origin);
    });
  }

  (data.messages || []).forEach(post);
  document.querySelectorAll("[data-pd-close]").forEach(function (button) {
    button.addEventListener("click", function () {
      post({ type: "close" });
    });
  });
})();
