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
(function () {
  "use strict";

  var TOKEN_URL = "/connect/token/";
  var ACCOUNTS_URL = "/accounts/";
  var CHECK_TRIES = 2; // an account may take a moment to be listed
  var CHECK_DELAY_MS = 1500;
  var NOT_COMPLETED = "The connection was not completed.";
  var active = null; // {iframe, button, origin, session, callbackUrl, listener, keyListener}

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
          throw new Error(body.error || "Something went wrong on our side. Please try again.");
        }
        return body;
      });
    }, function () {
      throw new Error("We could not reach the site. Check your connection and try again.");
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
  }

  function errorNear(button, text) {
    var holder = button.closest("li") || button.parentNode;
    var box = holder.querySelector(".connect-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "connect-error";
      box.setAttribute("role", "alert");
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
    var name = state.appName ? "the " + state.appName + " connection" : "the connection";
    announce("You closed " + name + ". Connect it whenever you're ready.", "info");
  }

  function close() {
    if (!active) return;
    var state = active;
    active = null;
    window.removeEventListener("message", state.listener);
    document.removeEventListener("keydown", state.keyListener);
    state.iframe.remove();
    document.documentElement.classList.remove("connect-open");
    state.button.removeAttribute("aria-busy");
    // The button may have been re-rendered with the list; find its twin.
    var target = document.body.contains(state.button) ? state.button : findTwin(state.button);
    if (target) target.focus();
  }

  function findTwin(button) {
    var app = button.getAttribute("data-app");
    var account = button.getAttribute("data-account");
    var selector = '[data-connect][data-app="' + CSS.escape(app) + '"]';
    selector += account ? '[data-account="' + CSS.escape(account) + '"]' : ":not([data-account])";
    return document.querySelector(selector);
  }

  function refreshAccounts() {
    if (window.htmx && document.getElementById("accounts")) {
      return window.htmx.ajax("GET", ACCOUNTS_URL, { target: "#accounts", swap: "outerHTML" });
    }
    window.location.reload();
  }

  function connected(state, body) {
    var done = refreshAccounts();
    var say = function () {
      announce(body.message || "Your account is connected.", "success");
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
    errorNear(state.button, text);
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
            if (body.sentence || !reason) failed(state, body.sentence || body.message || NOT_COMPLETED);
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
      throw new Error("The site sent an unusable Connect address. Please try again.");
    }
    var iframe = document.createElement("iframe");
    iframe.id = "pipedream-connect-iframe";
    iframe.className = "connect-frame";
    iframe.title = "Pipedream Connect";
    iframe.src = body.iframe_url;
    var state = {
      iframe: iframe,
      button: button,
      origin: origin,
      session: body.session,
      callbackUrl: body.callback_url || "/connect/callback/",
      appName: body.app && body.app.name ? String(body.app.name) : "",
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
    active = state;
    window.addEventListener("message", state.listener);
    document.addEventListener("keydown", state.keyListener);
    document.documentElement.classList.add("connect-open");
    iframe.addEventListener("load", function () {
      // Esc inside the frame reaches us only when the frame is same-origin (the
      // sandbox); a cross-origin page keeps its keys, and offers its own close button.
      try {
        iframe.contentWindow.document.addEventListener("keydown", state.keyListener);
      } catch (e) { /* cross-origin: expected */ }
    });
    document.body.appendChild(iframe);
    iframe.focus();
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
