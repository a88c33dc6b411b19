// Connect & Claim: open Pipedream Connect in a full-screen iframe (ours, no SDK).
//
// Progressive enhancement: every Connect / Reconnect button is a plain link to
// /connect/<app>/ (Connect Link), which works without JavaScript. With it, a click
// mints a token (POST /connect/token/), opens the hosted page in an iframe, and
// listens for its postMessage protocol: {type: "success", authProvisionId},
// {type: "error", error}, {type: "close"}. Unlike the official SDK we accept a message
// only from the Connect origin (taken from the iframe URL) and only from our iframe.
//
// Pipedream's page sometimes posts {type: "error", error: ""} INSTEAD of success
// although the account was created (PipedreamHQ/pipedream-sdk-typescript#280). So an
// error with no text shows nothing at first: we ask the server (POST callback_url with
// {session, check: "1"}), which asks Pipedream whether this attempt produced an
// account; only when it did not, after a second look, is the error shown. An error
// with a text is shown at once, and replaced by the sentence the server gives when the
// reason is one the member cannot fix (development mode's limit); close (the member's
// Cancel) is neutral.
//
// The iframe sits in a modal <dialog> (showModal: the rest of the page is inert) named
// "Connect <app>", with a close button that shows when focused; Tab and Shift+Tab cycle
// between that button and the frame (a focusable guard at each end sends focus round),
// Escape in our document (right after it opens, on the close button) closes it as the
// member's Cancel does; inside Pipedream's page Escape is that page's own (it is another
// origin: nothing of ours hears it). On close focus goes back to the
// button that opened it, or to its replacement when a swap re-rendered it (focus.js).
// Every sentence comes from the page (<template id="connect-words"> in base.html,
// translated); the English here is only a fallback.
(function () {
  "use strict";

  var TOKEN_URL = "/connect/token/";
  var ACCOUNTS_URL = "/accounts/";
  var CHECK_TRIES = 2; // an account may take a moment to be listed
  var CHECK_DELAY_MS = 1500;
  var active = null; // {dialog, iframe, button, origin, session, callbackUrl, listener, ...}

  var FALLBACK_WORDS = {
    "dialog": "Connect %(app)s",
    "dialog-any": "Connect an account",
    "close": "Close the connection window",
    "frame": "Pipedream Connect",
    "closed": "You closed the %(app)s connection. Connect it whenever you're ready.",
    "closed-any": "You closed the connection. Connect it whenever you're ready.",
    "connected": "Your account is connected.",
    "not-completed": "The connection was not completed.",
    "server": "Something went wrong on our side. Please try again.",
    "offline": "We could not reach the site. Check your connection and try again.",
    "bad-address": "The site sent an unusable Connect address. Please try again."
  };
  var words = null;

  // A sentence from the page's <template id="connect-words">, %(app)s filled in.
  function word(key, app) {
    if (!words) {
      words = {};
      var holder = document.getElementById("connect-words");
      var items = holder && holder.content ? holder.content.querySelectorAll("[data-word]") : [];
      for (var i = 0; i < items.length; i++) {
        words[items[i].getAttribute("data-word")] = items[i].textContent.trim();
      }
    }
    var text = words[key] || FALLBACK_WORDS[key] || "";
    return text.replace("%(app)s", app || "");
  }

  function helpers() {
    return window.ConnectClaim || {};
  }

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    if (headers) {
      try {
        var parsed = JSON.parse(headers);
        if (parsed["x-csrftoken"]) return parsed["x-csrftoken"];
      } catch (e) { /* fall back to the cookie */ }
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: JSON.stringify(data)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          throw new Error(body.error || word("server"));
        }
        return body;
      });
    }, function () {
      throw new Error(word("offline"));
    });
  }

  // --- messages ----------------------------------------------------------------------

  function announce(text, kind) {
    var region = document.getElementById("messages");
    if (!region) return;
    var list = region.querySelector("ul.messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      region.appendChild(list);
    }
    list.textContent = "";
    var item = document.createElement("li");
    item.className = "message " + (kind || "info");
    item.textContent = text;
    list.appendChild(item);
    if (helpers().say) helpers().say(text, kind === "error" ? "error" : "status");
  }

  // The sentence by the button (read out through the alert region by announce()).
  function errorNear(button, text) {
    var holder = button.closest("li") || button.parentNode;
    if (!holder) return;
    var box = holder.querySelector(".connect-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "connect-error";
      holder.appendChild(box);
    }
    box.textContent = text;
    box.hidden = false;
  }

  function clearError(button) {
    var holder = button.closest("li") || button.parentNode;
    var box = holder && holder.querySelector(".connect-error");
    if (box) box.hidden = true;
  }

  // --- the iframe ----------------------------------------------------------------------

  // The member closed the dialog (its Cancel or close button, or Esc) before anything
  // was connected or refused: their choice, said neutrally.
  function closedByMember() {
    var state = active;
    if (!state) return;
    close();
    if (state.settled || state.checking || state.told) return;
    announce(state.appName ? word("closed", state.appName) : word("closed-any"), "info");
  }

  function close() {
    if (!active) return;
    var state = active;
    active = null;
    window.removeEventListener("message", state.listener);
    document.removeEventListener("keydown", state.keyListener);
    if (state.dialog.open) state.dialog.close();
    state.dialog.remove();
    document.documentElement.classList.remove("connect-open");
    state.button.removeAttribute("aria-busy");
    giveFocusBack(state);
  }

  // Focus back on the button that opened the dialog; when a swap re-rendered it, on its
  // twin in the new content, or on what replaced it (the claim's heading, the row).
  function giveFocusBack(state) {
    if (state.button.isConnected) {
      state.button.focus();
      return;
    }
    var twin = findTwin(state.button);
    if (twin) {
      twin.focus();
    } else if (helpers().restore && state.place) {
      helpers().restore(state.place);
    }
  }

  // The element that stands for the button now (it may have been re-rendered).
  function liveButton(state) {
    return state.button.isConnected ? state.button : findTwin(state.button) || state.button;
  }

  function findTwin(button) {
    var app = button.getAttribute("data-app");
    var account = button.getAttribute("data-account");
    var selector = '[data-connect][data-app="' + CSS.escape(app) + '"]';
    selector += account ? '[data-account="' + CSS.escape(account) + '"]' : ":not([data-account])";
    var text = button.textContent.replace(/\s+/g, " ").trim();
    var twins = document.querySelectorAll(selector);
    for (var i = 0; i < twins.length; i++) {
      // The same words too: two claims may each offer "Connect GitHub for <claim>".
      if (twins[i].textContent.replace(/\s+/g, " ").trim() === text) return twins[i];
    }
    return null;
  }

  function refreshAccounts(state) {
    if (window.htmx && document.getElementById("accounts")) {
      return window.htmx.ajax("GET", ACCOUNTS_URL, { target: "#accounts", swap: "outerHTML" });
    }
    // Elsewhere (a claim's row or page) the page is read again: focus comes back to the
    // same control, or its claim's heading once the control is gone (focus.js).
    if (helpers().keep) helpers().keep(liveButton(state));
    window.location.reload();
  }

  function connected(state, body) {
    var done = refreshAccounts(state);
    var say = function () {
      announce(body.message || word("connected"), "success");
      // The list was re-rendered: give focus back to the new twin of the button.
      var focused = document.activeElement;
      if (!active && (!focused || focused === document.body || !document.body.contains(focused))) {
        var twin = findTwin(state.button);
        if (twin) twin.focus();
      }
    };
    if (done && done.then) done.then(say); else say();
  }

  function failed(state, text) {
    state.told = true;
    errorNear(liveButton(state), text);
    announce(text, "error");
  }

  function onSuccess(state, accountId) {
    state.settled = true;
    post(state.callbackUrl, { session: state.session, account: accountId }).then(
      function (body) { connected(state, body); },
      function (error) { failed(state, error.message); }
    );
  }

  // An error: ask the server whether the account appeared anyway, and for a sentence the
  // member can act on. Pipedream's `reason`, when there is one, is already shown.
  function onError(state, reason) {
    if (state.checking) return;
    state.checking = true;
    var tries = 0;
    var question = { session: state.session, check: "1" };
    if (reason) question.reason = reason;
    var ask = function () {
      tries += 1;
      post(state.callbackUrl, question).then(
        function (body) {
          if (state.settled) return; // a success arrived meanwhile and was recorded
          if (body.connected) {
            state.settled = true;
            if (active === state) close(); // the hosted page would show its error banner
            connected(state, body);
          } else if (!reason && tries < CHECK_TRIES) {
            window.setTimeout(ask, CHECK_DELAY_MS);
          } else {
            state.checking = false;
            if (body.sentence || !reason) {
              failed(state, body.sentence || body.message || word("not-completed"));
            }
          }
        },
        function (error) {
          state.checking = false;
          if (!reason) failed(state, error.message);
        }
      );
    };
    ask();
  }

  function open(button, body) {
    var origin;
    try {
      origin = new URL(body.iframe_url, window.location.href).origin;
    } catch (e) {
      throw new Error(word("bad-address"));
    }
    var appName = body.app && body.app.name ? String(body.app.name) : "";
    var iframe = document.createElement("iframe");
    iframe.id = "pipedream-connect-iframe";
    iframe.className = "connect-frame";
    iframe.title = word("frame");
    iframe.src = body.iframe_url;
    var dialog = makeDialog(iframe, appName);
    var state = {
      dialog: dialog,
      iframe: iframe,
      place: helpers().describe ? helpers().describe(button) : null,
      button: button,
      origin: origin,
      session: body.session,
      callbackUrl: body.callback_url || "/connect/callback/",
      appName: appName,
      settled: false, // a success was received: nothing after it changes the outcome
      told: false, // an error was shown: closing afterwards adds nothing
      checking: false
    };
    state.listener = function (event) {
      if (event.origin !== state.origin || event.source !== iframe.contentWindow) return;
      var data = event.data || {};
      if (data.type === "success" && typeof data.authProvisionId === "string") {
        onSuccess(state, data.authProvisionId);
      } else if (data.type === "error") {
        if (state.settled) return;
        var text = data.error == null ? "" : String(data.error).trim();
        if (text) failed(state, text);
        onError(state, text);
      } else if (data.type === "close") {
        closedByMember();
      }
    };
    state.keyListener = function (event) {
      if (event.key === "Escape") closedByMember();
    };
    // Escape in our document: the dialog's cancel (ours to handle, so nothing half-closes).
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      if (active === state) closedByMember();
    });
    // A dialog closed by the browser itself (a repeated Escape) is still the member's Cancel.
    dialog.addEventListener("close", function () {
      if (active === state) closedByMember();
    });
    dialog.querySelector(".connect-close").addEventListener("click", function () {
      if (active === state) closedByMember();
    });
    active = state;
    window.addEventListener("message", state.listener);
    document.addEventListener("keydown", state.keyListener);
    document.documentElement.classList.add("connect-open");
    // Nothing listens inside the frame: Pipedream's page is another origin, its keys are
    // its own (docs/fidelity.md, row 94), and it offers its own close button.
    document.body.appendChild(dialog);
    dialog.showModal();
    iframe.focus();
  }

  // <dialog aria-label="Connect GitHub">: guard, close button, the frame, guard.
  function makeDialog(iframe, appName) {
    var dialog = document.createElement("dialog");
    dialog.className = "connect-dialog";
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-label", appName ? word("dialog", appName) : word("dialog-any"));
    var closeButton = document.createElement("button");
    closeButton.type = "button";
    closeButton.className = "connect-close";
    closeButton.textContent = word("close");
    var first = guard();
    var last = guard();
    // Shift+Tab before the close button: into the frame; Tab after the frame: back to the
    // close button. Focus never leaves the dialog.
    first.addEventListener("focus", function () { iframe.focus(); });
    last.addEventListener("focus", function () { closeButton.focus(); });
    dialog.appendChild(first);
    dialog.appendChild(closeButton);
    dialog.appendChild(iframe);
    dialog.appendChild(last);
    return dialog;
  }

  function guard() {
    var span = document.createElement("span");
    span.tabIndex = 0;
    span.className = "connect-guard";
    return span;
  }

  function start(button) {
    if (active || button.getAttribute("aria-busy") === "true") return;
    button.setAttribute("aria-busy", "true");
    clearError(button);
    var data = { app: button.getAttribute("data-app") };
    var account = button.getAttribute("data-account");
    if (account) data.account = account;
    post(TOKEN_URL, data).then(
      function (body) {
        try {
          open(button, body);
        } catch (error) {
          button.removeAttribute("aria-busy");
          errorNear(button, error.message);
        }
      },
      function (error) {
        button.removeAttribute("aria-busy");
        errorNear(button, error.message);
        announce(error.message, "error");
      }
    );
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-connect]");
    if (!button || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // new tab: Connect Link
    event.preventDefault();
    start(button);
  });

})();
