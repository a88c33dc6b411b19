// Connect & Claim: keyboard focus across htmx swaps and page loads, and the live regions.
//
// Focus. An htmx swap that replaces the focused element drops focus on <body>; a keyboard
// user then starts again from the top. Before each swap we describe the focused element
// (its id, the nearest ancestor with an id, its tag and text, and the hints the
// templates give in data-focus-* attributes); after the swap, when focus was lost, we
// put it back on the same control in the new content, or on the sensible replacement:
//   data-focus-after="<id>"      the control to focus once the swap is done (Cancel: the
//                                Disconnect button it came from);
//   data-focus-gone="<id>"       a row this action removes (Disconnect): focus moves to
//                                the next row (or the previous), else data-focus-empty;
//   data-focus-rows="<selector>" the rows data-focus-gone belongs to (for a full page);
//   data-focus-empty="<id>"      where focus goes when no row is left;
//   data-focus-here              in new content: where focus goes when the control that
//                                asked for it is gone (the confirmation's question);
// else the heading of the nearest ancestor with an id (a claim's name). A plain form
// post or link that comes back to the same page does the same across the page load
// (sessionStorage, for a few seconds).
//
// Announcements. base.html holds two live regions that are never swapped: #live-status
// (polite) and #live-alert (assertive, errors only). New flash messages (#messages, also
// when htmx swaps them out of band) are read out once; an element with an id and
// data-announce="<sentence>" (a completion: "You earned <badge>") is read out when its
// sentence appears or changes, never again on a later poll (data-announce-kind="error"
// reads it as an alert); a form's .field-error that an htmx answer brings is an alert
// too, and so are the errors a page comes back with (a failed log in), read once while
// focus goes to the first invalid field. The sentences come from the templates, already
// translated. A poll's swap waits while the member is in what it would replace.
(function () {
  "use strict";

  var STORE = "connect-claim-focus";
  var STORE_MS = 20000; // a stored focus older than this belongs to another visit
  var REPEAT_MS = 5000; // the same sentence twice within this is said once
  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([type="hidden"]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  // --- live regions ------------------------------------------------------------------

  var lastSaid = {}; // sentence -> when it was said
  var lastWrite = {}; // region id -> when it was last written
  var known = {}; // element id -> its data-announce sentence, as last seen
  var messagesNode = null;

  function squash(text) {
    return String(text || "").replace(/\s+/g, " ").trim();
  }

  function say(text, kind) {
    text = squash(text);
    if (!text) return;
    var now = Date.now();
    if (lastSaid[text] && now - lastSaid[text] < REPEAT_MS) return;
    lastSaid[text] = now;
    var region = document.getElementById(kind === "error" ? "live-alert" : "live-status");
    if (!region) return;
    // Several sentences at once are kept side by side; an older one is cleared first.
    var fresh = !lastWrite[region.id] || now - lastWrite[region.id] > 1500;
    lastWrite[region.id] = now;
    // Written a moment later: a region changed in the same task as a swap may be skipped.
    window.setTimeout(function () {
      if (fresh) region.textContent = "";
      var line = document.createElement("p");
      line.textContent = text;
      region.appendChild(line);
    }, 60);
  }

  function readMessages() {
    var box = document.getElementById("messages");
    if (!box || box === messagesNode) return;
    messagesNode = box;
    var items = box.querySelectorAll("li.message");
    for (var i = 0; i < items.length; i++) {
      say(items[i].textContent, items[i].classList.contains("error") ? "error" : "status");
    }
  }

  // A form's field errors that came with new content (an htmx answer to a post): alerts.
  // Those that came with the page are read by pageErrors, below.
  var seenErrors = typeof WeakSet === "function" ? new WeakSet() : null;

  function readFieldErrors(learnOnly) {
    if (!seenErrors) return;
    var errors = document.querySelectorAll(".field-error");
    for (var i = 0; i < errors.length; i++) {
      if (seenErrors.has(errors[i])) continue;
      seenErrors.add(errors[i]);
      if (!learnOnly) say(errors[i].textContent, "error");
    }
  }

  // Sentences that appeared or changed since the last look; the first look only learns.
  function readAnnouncements(learnOnly) {
    readFieldErrors(learnOnly);
    var nodes = document.querySelectorAll("[data-announce][id]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var sentence = squash(node.getAttribute("data-announce"));
      if (known[node.id] === sentence) continue;
      known[node.id] = sentence;
      if (!learnOnly && sentence) say(sentence, node.getAttribute("data-announce-kind"));
    }
  }

  // --- describing and finding a control ----------------------------------------------

  function keyOf(el) {
    return [
      el.tagName,
      squash(el.textContent),
      el.getAttribute("name") || "",
      el.getAttribute("type") || ""
    ].join("|");
  }

  function hint(el, name) {
    var holder = el.closest("[" + name + "]");
    return holder ? holder.getAttribute(name) : "";
  }

  function describe(el) {
    if (!el || el === document.body || el === document.documentElement) return null;
    var ancestors = [];
    for (var up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (up.id) ancestors.push(up.id);
    }
    var found = {
      id: el.id || "",
      key: keyOf(el),
      ancestors: ancestors,
      after: hint(el, "data-focus-after"),
      gone: hint(el, "data-focus-gone"),
      rows: hint(el, "data-focus-rows"),
      empty: hint(el, "data-focus-empty"),
      inForm: !!el.closest("form"),
      neighbours: []
    };
    if (found.gone) {
      var row = document.getElementById(found.gone);
      if (row) {
        for (var next = row.nextElementSibling; next; next = next.nextElementSibling) {
          if (next.id) found.neighbours.push(next.id);
        }
        for (var prev = row.previousElementSibling; prev; prev = prev.previousElementSibling) {
          if (prev.id) found.neighbours.push(prev.id);
        }
      }
    }
    return found;
  }

  function visible(el) {
    return !!el && el.isConnected && !el.closest("[hidden], [inert]") && el.getClientRects().length > 0;
  }

  function firstFocusable(scope) {
    var all = scope.querySelectorAll(FOCUSABLE);
    for (var i = 0; i < all.length; i++) if (visible(all[i])) return all[i];
    return null;
  }

  function headingOf(scope) {
    if (/^H[1-6]$/.test(scope.tagName)) return scope;
    return scope.querySelector("h1, h2, h3, h4, h5, h6");
  }

  function put(el, keepScroll) {
    if (!el) return false;
    if (!el.matches(FOCUSABLE) && !el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: !!keepScroll });
    return document.activeElement === el;
  }

  // Focus the described control in the page as it is now, or its best replacement.
  function restore(found) {
    if (!found) return false;
    var byId = function (id) { return id ? document.getElementById(id) : null; };
    var i, scope;
    if (found.gone && !byId(found.gone)) {
      for (i = 0; i < found.neighbours.length; i++) {
        var row = byId(found.neighbours[i]);
        if (row && put(firstFocusable(row) || row)) return true;
      }
      var rows = found.rows ? document.querySelectorAll(found.rows) : [];
      if (rows.length && put(firstFocusable(rows[0]) || rows[0])) return true;
      if (put(byId(found.empty))) return true;
    }
    if (found.after && put(byId(found.after))) return true;
    if (found.id && visible(byId(found.id)) && put(byId(found.id), true)) return true;
    for (i = 0; i < found.ancestors.length; i++) {
      scope = byId(found.ancestors[i]);
      if (!scope) continue;
      if (found.inForm) {
        var invalid = scope.querySelector('[aria-invalid="true"]');
        if (invalid && put(invalid)) return true;
      }
      var same = scope.querySelectorAll(found.key.split("|")[0]);
      for (var j = 0; j < same.length; j++) {
        if (keyOf(same[j]) === found.key && visible(same[j])) return put(same[j], true);
      }
      var here = scope.querySelector("[data-focus-here]");
      if (here && visible(here) && put(here)) return true;
      return put(headingOf(scope) || firstFocusable(scope) || scope);
    }
    return put(document.querySelector("main h1"));
  }

  function lost() {
    var el = document.activeElement;
    return !el || el === document.body || !el.isConnected;
  }

  // --- htmx swaps ----------------------------------------------------------------------

  var pending = null;

  document.addEventListener("htmx:beforeSwap", function () {
    var el = document.activeElement;
    var found = describe(el);
    pending = found ? { el: el, found: found } : null;
  });

  // Only when this swap took the focused element away: a member who put focus elsewhere
  // (or nowhere) meanwhile is left alone.
  document.addEventListener("htmx:afterSettle", function () {
    readMessages();
    readAnnouncements(false);
    var was = pending;
    pending = null;
    if (was && !was.el.isConnected && lost()) restore(was.found);
  });

  // --- polls that would wipe what the member is doing ----------------------------------
  //
  // A poll (hx-trigger="every …s", no event of the member's) that would replace an open
  // Disconnect confirmation, or a field the member is in, is not swapped. The polling
  // goes on (htmx stops it only on a 286 it swaps), so the next answer after the member
  // is done brings the update.

  var TYPING = 'input:not([type="hidden"]):not([type="button"]):not([type="submit"]):not([type="reset"]), select, textarea';

  function fromPoll(config) {
    if (!config || config.triggeringEvent || !config.elt || !config.elt.getAttribute) return false;
    return /(^|,)\s*every\s/.test(config.elt.getAttribute("hx-trigger") || "");
  }

  function busy(target) {
    if (!target || !target.querySelector) return false;
    if (target.querySelector("form.confirm")) return true;
    var el = document.activeElement;
    return !!el && el !== target && target.contains(el) && el.matches(TYPING);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    if (detail.shouldSwap && fromPoll(detail.requestConfig) && busy(detail.target)) {
      detail.shouldSwap = false;
    }
  });

  // --- across a page load (a plain form post or link back to the same page) ------------

  function keep(el, path) {
    var found = describe(el);
    if (!found) return;
    found.path = path || window.location.pathname;
    found.at = Date.now();
    try {
      window.sessionStorage.setItem(STORE, JSON.stringify(found));
    } catch (e) { /* storage off: focus starts at the top, as without us */ }
  }

  function takeStored() {
    try {
      var found = JSON.parse(window.sessionStorage.getItem(STORE) || "null");
      window.sessionStorage.removeItem(STORE);
      return found;
    } catch (e) { return null; }
  }

  // An element the page asks to focus (autofocus): the browser's to focus, never ours.
  function autofocused() {
    var el = document.querySelector("[autofocus]");
    return !!el && visible(el);
  }

  function restoreStored() {
    var found = takeStored();
    if (!found || found.path !== window.location.pathname) return;
    if (!(Date.now() - found.at < STORE_MS)) return;
    if (lost() && !autofocused()) restore(found);
  }

  // A page that came back with a form's errors (a failed log in, sign up, email add):
  // the errors are read out once, as an alert, and focus goes to the first invalid
  // field, else to the error summary, unless the page autofocuses a field itself.
  function pageErrors() {
    var summaries = document.querySelectorAll(".form-errors");
    var fieldErrors = document.querySelectorAll(".field-error");
    var invalid = document.querySelectorAll('[aria-invalid="true"]');
    if (!summaries.length && !fieldErrors.length && !invalid.length) return false;
    var sentences = [];
    var i;
    for (i = 0; i < summaries.length; i++) sentences.push(summaries[i].textContent);
    for (i = 0; i < fieldErrors.length; i++) sentences.push(fieldErrors[i].textContent);
    // Read once the page itself has been announced (as the flash messages are).
    window.setTimeout(function () {
      for (var j = 0; j < sentences.length; j++) say(sentences[j], "error");
    }, 400);
    if (!lost() || autofocused()) return true;
    for (i = 0; i < invalid.length; i++) if (visible(invalid[i]) && put(invalid[i])) return true;
    for (i = 0; i < summaries.length; i++) if (visible(summaries[i]) && put(summaries[i])) return true;
    return true;
  }

  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return; // htmx's, or someone else's
    var form = event.target;
    var action = new URL(form.getAttribute("action") || "", window.location.href);
    if (action.origin !== window.location.origin) return;
    var path = form.getAttribute("data-focus-path") || window.location.pathname;
    keep(event.submitter || document.activeElement || form, path);
  });

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    var link = event.target.closest("a[href][data-focus-after]");
    if (!link) return;
    var to = new URL(link.href, window.location.href);
    if (to.origin === window.location.origin) keep(link, to.pathname);
  });

  // --- start -------------------------------------------------------------------------------

  readAnnouncements(true);
  if (pageErrors()) takeStored();
  else restoreStored();
  // Flash messages that came with the page: read once the page has been announced.
  window.setTimeout(readMessages, 400);

  window.ConnectClaim = window.ConnectClaim || {};
  window.ConnectClaim.say = say;
  window.ConnectClaim.describe = describe;
  window.ConnectClaim.restore = restore;
  window.ConnectClaim.keep = keep;
})();
