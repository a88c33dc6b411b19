// Copy buttons: <button data-copy="#field-id" data-copied="Copied">Copy</button> copies the
// field's value. Loaded as a static file (the CSP allows no inline script).
(function () {
  "use strict";

  function fallbackCopy(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function say(button, text) {
    var holder = button.closest(".form-row") || button.parentNode;
    var status = holder.querySelector(".copy-status");
    if (status) status.textContent = text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    var done = function () {
      button.textContent = button.getAttribute("data-copied") || "Copied";
      say(button, "Copied to the clipboard.");
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    var failed = function () {
      field.focus();
      field.select();
      say(button, "Press Ctrl+C (⌘C on a Mac) to copy the selected address.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        if (fallbackCopy(field)) done(); else failed();
      });
    } else if (fallbackCopy(field)) {
      done();
    } else {
      failed();
    }
  });
})();
