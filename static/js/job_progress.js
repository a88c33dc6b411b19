// A claim job's page (admin: a dry run) while the job runs: asks the job's progress
// endpoint every two seconds, moves the bar, and reloads the page once the job has
// finished or stalled (its totals and rows are then on the page). Loaded as a static
// file (the CSP allows no inline script).
(function () {
  "use strict";

  var INTERVAL_MS = 2000;

  function poll(bar, text, state) {
    fetch(bar.getAttribute("data-progress-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("progress: " + response.status);
        return response.json();
      })
      .then(function (progress) {
        bar.max = Math.max(progress.total, 1);
        bar.value = progress.done;
        bar.textContent = progress.percent + "%";
        if (text) text.textContent = progress.done + " of " + progress.total + " members";
        if (state) state.textContent = progress.state_label;
        if (progress.finished || progress.stalled) {
          window.location.reload();
          return;
        }
        window.setTimeout(function () { poll(bar, text, state); }, INTERVAL_MS);
      })
      .catch(function () {
        // A missed answer (a restart, the network): try again a little later.
        window.setTimeout(function () { poll(bar, text, state); }, INTERVAL_MS * 3);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var bar = document.getElementById("job-progress");
    if (!bar || !bar.getAttribute("data-progress-url")) return;
    window.setTimeout(function () {
      poll(bar, document.getElementById("job-progress-text"), document.getElementById("job-state"));
    }, INTERVAL_MS);
  });
})();
