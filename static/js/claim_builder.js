// The claim builder: fills a requirement's check without knowing Pipedream's internals.
// For an action: a list of the app's allowed actions and a form for its props, which
// writes the props textarea (it stays the source of truth the server validates). For an
// action or a proxy read: "Try it" on a member's account, whose answer shows as a tree;
// choosing a value in it sets the path, comparison, value and a sentence for members.
// claim_form.js shows the fields of the requirement's kind; this adds to them. The
// endpoints are the admin's claims/claim/builder/ ones. What the server sends goes in
// with textContent only: it holds members' values and Pipedream's descriptions.
(function () {
  "use strict";

  var SCRIPT = document.currentScript;
  var OFFLINE = "Could not reach the server: try again.";
  var POLL_MS = 1000;
  var POLL_LIMIT = 300; // five minutes of polling
  var TREE_LIMIT = 2000; // values shown of one answer
  // The comparisons that fit a value of each type, the default first.
  var COMPARISONS = {
    number: ["gte", "gt", "eq", "ne", "lte", "lt"],
    boolean: ["truthy", "eq"],
    string: ["eq", "ne", "contains"],
    null: ["eq"],
  };
  var seq = 0;

  // --- Small helpers -------------------------------------------------------------

  function uid() {
    seq += 1;
    return "claim-builder-" + seq;
  }

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "text") node.textContent = props[key];
      else if (/^(aria|data)-/.test(key)) node.setAttribute(key, props[key]);
      else node[key] = props[key];
    });
    (children || []).forEach(function (child) {
      if (child) node.append(child);
    });
    return node;
  }

  // The apps' slugs by pk, from the script tag: "3=github 4=slack".
  var SLUGS = {};
  String((SCRIPT && SCRIPT.getAttribute("data-app-slugs")) || "")
    .split(/\s+/)
    .forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > 0) SLUGS[pair.slice(0, at)] = pair.slice(at + 1);
    });

  function base() {
    var path = window.location.pathname;
    var at = path.indexOf("/claims/claim/");
    return (at >= 0 ? path.slice(0, at) : "/admin") + "/claims/claim/builder/";
  }

  function claimPk() {
    var match = /\/claims\/claim\/(\d+)\/change\/$/.exec(window.location.pathname);
    return match ? Number(match[1]) : null;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  class Problem extends Error {}

  // One call to an endpoint: its JSON, or a Problem with the sentence to show.
  async function call(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(body);
    }
    var response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new Problem(OFFLINE);
    }
    var data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      if (data && typeof data.problem === "string" && data.problem) throw new Problem(data.problem);
      throw new Problem("The server answered " + response.status + " without saying why: try again.");
    }
    if (!data || typeof data !== "object") {
      throw new Problem("The server's answer was not understood: try again.");
    }
    return data;
  }

  function unwrap(value) {
    // A remote option Pipedream stored with its label: {"__lv": {label, value}}.
    return value && typeof value === "object" && value.__lv ? value.__lv.value : value;
  }

  function same(a, b) {
    return JSON.stringify(unwrap(a)) === JSON.stringify(unwrap(b));
  }

  function shown(value) {
    if (value && typeof value === "object" && value.__lv) return String(value.__lv.label || value.__lv.value);
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // --- The sentence members read -------------------------------------------------

  function words(name) {
    return name
      .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
      .replace(/[_\-\s]+/g, " ")
      .trim()
      .toLowerCase();
  }

  function capital(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // What a check says to members: "user.public_repos" gte 5 -> "Have at least 5 public repos".
  function sentence(path, comparison, value, type) {
    var parts = path.split(".").filter(Boolean);
    var names = parts.filter(function (part) {
      return !/^\d+$/.test(part);
    });
    var what = words(names.length ? names[names.length - 1] : "value") || "value";
    var amount = { gte: "at least", gt: "more than", lte: "at most", lt: "fewer than", eq: "exactly" };
    if (parts.length === 1 && parts[0] === "$status") {
      if (comparison === "ne") return "The API does not answer " + value;
      return "The API answers " + (comparison === "eq" ? "" : (amount[comparison] || "") + " ") + value;
    }
    if (type === "number") {
      if (comparison === "ne") return capital(what) + " is not " + value;
      return amount[comparison] ? "Have " + amount[comparison] + " " + value + " " + what : "";
    }
    if (type === "boolean") {
      return comparison === "eq" && value.toLowerCase() === "false" ? "Not " + what : capital(what);
    }
    if (type === "null") return capital(what) + " is empty";
    var verb = { eq: " is ", ne: " is not ", contains: " contains " }[comparison];
    return verb ? capital(what) + verb + value : "";
  }

  // --- A generated control with its label, help and problem -----------------------

  function slot(labelText, control, help) {
    control.id = control.id || uid();
    var problem = el("p", { className: "cb-problem", id: uid(), "aria-live": "polite" });
    var described = [problem.id];
    var helpNode = el("div", { className: "help", id: uid(), text: help || "" });
    described.push(helpNode.id);
    control.setAttribute("aria-describedby", described.join(" "));
    var box = el("div", { className: "flex-container" }, [
      el("label", { htmlFor: control.id, text: labelText }),
      control,
    ]);
    var row = el("div", { className: "form-row cb-row" }, [el("div", {}, [box, helpNode, problem])]);
    return {
      row: row,
      box: box,
      help: helpNode,
      say: function (text) {
        problem.textContent = text;
        control.setAttribute("aria-invalid", "true");
      },
      clear: function () {
        problem.textContent = "";
        control.removeAttribute("aria-invalid");
      },
    };
  }

  function setChoices(select, choices, current, empty) {
    select.replaceChildren(el("option", { value: "", text: empty }));
    select.cbValues = [];
    var found = false;
    choices.forEach(function (choice) {
      var option = choice && typeof choice === "object" ? choice : { label: String(choice), value: choice };
      var node = el("option", { value: String(select.cbValues.length), text: String(option.label) });
      select.cbValues.push(option.value);
      if (!found && current !== undefined && same(option.value, current)) {
        node.selected = found = true;
      }
      select.append(node);
    });
    if (!found && current !== undefined && current !== null && current !== "") {
      select.append(el("option", { value: String(select.cbValues.length), text: shown(current) + " (current)", selected: true }));
      select.cbValues.push(current);
    }
  }

  function actionChoice(action) {
    return { label: action.name + " (" + action.key + ")", value: action.key };
  }

  // --- One requirement's builder -------------------------------------------------

  class Builder {
    constructor(holder) {
      this.holder = holder;
      this.controls = [];
      this.definition = [];
      this.actionsFor = null;
      this.actionsOk = false;
      // The raw fields stay in view while the server has something to say about them.
      this.rawShown = Boolean(holder.querySelector(".field-action .errorlist, .field-props .errorlist"));
      this.busy = false;
      this.tries = 0;
      this.reloads = 0;
      this.typed = this.f("text").value.trim() !== "";
      this.proposed = "";
      this.pickType = null;
      this.chosen = null;
      this.allComparisons = Array.from(this.f("comparison").options).map(function (option) {
        return [option.value, option.textContent];
      });
      this.build();
      this.listen();
      this.refresh();
    }

    f(name) {
      return this.holder.querySelector("[name$='-" + name + "']");
    }

    r(name) {
      return this.holder.querySelector(".form-row.field-" + name);
    }

    set(input, value) {
      this.busy = true;
      input.value = value;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.dispatchEvent(new Event("change", { bubbles: true }));
      this.busy = false;
    }

    slug() {
      return SLUGS[this.f("app").value] || "";
    }

    build() {
      this.statusA = el("p", { className: "cb-status", role: "status", "aria-live": "polite" });
      this.actionSelect = el("select", { className: "cb-action" });
      this.actionSlot = slot("Action", this.actionSelect, "");
      this.propsBox = el("div", { className: "cb-props" });
      this.dynamicBox = el("div", { className: "cb-props cb-dynamic" });
      this.rawToggle = el("button", { type: "button", className: "button cb-raw-toggle", "aria-expanded": "false" });
      this.actionPart = el("div", { className: "cb-part cb-builder" }, [
        this.actionSlot.row,
        this.propsBox,
        this.dynamicBox,
        el("div", { className: "form-row cb-row cb-buttons" }, [this.rawToggle, this.statusA]),
      ]);
      this.r("action").before(this.actionPart);

      this.member = el("input", { type: "text", className: "vTextField", autocomplete: "off" });
      this.members = el("datalist", { id: uid() });
      this.member.setAttribute("list", this.members.id);
      this.memberSlot = slot("Member", this.member, "The username of a member with an account of the app: the check runs once on it, nothing is completed.");
      this.memberSlot.box.append(this.members);
      this.tryButton = el("button", { type: "button", className: "button cb-try", text: "Try it" });
      this.statusB = el("p", { className: "cb-status", role: "status", "aria-live": "polite" });
      this.tryProblem = el("p", { className: "cb-problem cb-try-problem", "aria-live": "polite" });
      this.tree = el("div", { className: "cb-tree-box", hidden: true });
      this.tryPart = el("fieldset", { className: "cb-part cb-try-it" }, [
        el("legend", { text: "Try it" }),
        this.memberSlot.row,
        el("div", { className: "form-row cb-row cb-buttons" }, [this.tryButton, this.statusB, this.tryProblem]),
        this.tree,
      ]);
      this.r("path").before(this.tryPart);
    }

    listen() {
      var self = this;
      this.f("kind").addEventListener("change", function () {
        self.refresh();
      });
      this.f("app").addEventListener("change", function () {
        self.refresh();
      });
      this.actionSelect.addEventListener("change", function () {
        self.chooseAction(self.actionSelect.value);
      });
      this.rawToggle.addEventListener("click", function () {
        self.rawShown = !self.rawShown;
        self.applyRaw();
      });
      this.f("action").addEventListener("change", function () {
        if (!self.busy) self.typedAction();
      });
      this.f("props").addEventListener("change", function () {
        if (!self.busy) self.renderAll();
      });
      this.f("text").addEventListener("input", function () {
        var text = self.f("text").value.trim();
        if (!self.busy) self.typed = text !== "" && text !== self.proposed;
      });
      this.f("path").addEventListener("input", function () {
        if (self.busy) return;
        self.pickType = null; // a path of their own: every comparison again
        self.comparisons(null);
      });
      ["comparison", "value"].forEach(function (name) {
        self.f(name).addEventListener("input", function () {
          if (!self.busy) self.propose();
        });
      });
      this.member.addEventListener("input", function () {
        self.suggest();
      });
      this.tryButton.addEventListener("click", function () {
        self.tryIt();
      });
    }

    refresh() {
      var kind = this.f("kind").value;
      this.actionPart.hidden = kind !== "action";
      this.tryPart.hidden = kind !== "action" && kind !== "proxy";
      this.applyRaw();
      if (kind === "action") this.loadActions();
    }

    applyRaw() {
      var hide = this.f("kind").value === "action" && this.actionsOk && !this.rawShown;
      var self = this;
      ["action", "props"].forEach(function (name) {
        self.r(name).classList.toggle("cb-raw-hidden", hide);
      });
      this.rawToggle.textContent = this.rawShown ? "Hide raw fields" : "Show raw fields";
      this.rawToggle.setAttribute("aria-expanded", String(this.rawShown));
    }

    // The props textarea as an object, or null when it holds something else.
    readProps() {
      var text = this.f("props").value.trim();
      if (!text) return {};
      try {
        var value = JSON.parse(text);
        return value && typeof value === "object" && !Array.isArray(value) ? value : null;
      } catch (error) {
        return null;
      }
    }

    writeProps() {
      var props = this.readProps() || {};
      this.controls.forEach(function (control) {
        var read = control.read();
        if (read.problem) return control.slot.say(read.problem);
        control.slot.clear();
        if (read.set) props[control.prop.name] = read.value;
        else delete props[control.prop.name];
      });
      this.set(this.f("props"), JSON.stringify(props));
    }

    async loadActions() {
      var pk = this.f("app").value;
      var slug = this.slug();
      var select = this.actionSelect;
      if (!pk || !slug) {
        this.actionsFor = null;
        this.actionsOk = false;
        setChoices(select, [], undefined, "Choose the app first");
        if (pk) this.actionSlot.say("The page does not know this app: reload the page.");
        return this.applyRaw();
      }
      if (this.actionsFor === slug) return;
      this.actionsFor = slug;
      var appName = this.f("app").selectedOptions[0].textContent;
      select.disabled = true;
      this.statusA.textContent = "Loading the actions of " + appName + "…";
      var data;
      try {
        data = await call("GET", base() + "actions/?app=" + encodeURIComponent(slug));
      } catch (error) {
        if (this.actionsFor !== slug) return;
        this.actionsFor = null; // asked again on the next change
        this.actionsOk = false;
        this.actionSlot.say(error.message);
        this.statusA.textContent = "";
        select.disabled = false;
        return this.applyRaw();
      }
      if (this.actionsFor !== slug) return;
      select.disabled = false;
      this.actions = Array.isArray(data.actions) ? data.actions : [];
      var current = this.f("action").value.trim();
      setChoices(select, this.actions.map(actionChoice), current || undefined, "Choose an action");
      this.actionSlot.clear();
      this.actionsOk = true;
      this.applyRaw();
      this.statusA.textContent = this.actions.length + " actions of " + appName + " to choose from.";
      if (current) await this.loadProps(current);
    }

    describe(key) {
      var action = (this.actions || []).find(function (each) {
        return each.key === key;
      });
      this.actionSlot.help.textContent = action ? action.description || "" : "";
    }

    chooseAction(index) {
      var key = index === "" ? "" : String(this.actionSelect.cbValues[Number(index)]);
      this.set(this.f("action"), key);
      this.set(this.f("props"), "{}"); // another action's props mean nothing to this one
      this.typedAction();
    }

    typedAction() {
      var key = this.f("action").value.trim();
      setChoices(this.actionSelect, (this.actions || []).map(actionChoice), key || undefined, "Choose an action");
      this.loadProps(key);
    }

    async loadProps(key) {
      this.describe(key);
      this.definition = [];
      this.dynamic = [];
      this.propsOf = ""; // the action whose props are known
      this.renderAll();
      if (!key) return;
      this.statusA.textContent = "Loading the props of " + key + "…";
      var data;
      try {
        data = await call("GET", base() + "props/?action=" + encodeURIComponent(key));
      } catch (error) {
        this.actionSlot.say(error.message);
        this.statusA.textContent = "";
        return;
      }
      if (this.f("action").value.trim() !== key) return;
      this.actionSlot.clear();
      if (data.description) this.actionSlot.help.textContent = data.description;
      this.definition = Array.isArray(data.props) ? data.props : [];
      this.propsOf = key;
      this.renderAll();
      var name = data.name || key;
      this.statusA.textContent = this.definition.length
        ? name + ": " + this.definition.length + " props to fill."
        : name + " needs no props.";
      var values = this.readProps() || {};
      var reload = this.definition.find(function (prop) {
        return prop.reload && values[prop.name] !== undefined;
      });
      if (reload) this.reload(this.controls.find((control) => control.prop === reload));
    }

    renderAll() {
      var values = this.readProps();
      this.controls = [];
      this.propsBox.replaceChildren();
      this.dynamicBox.replaceChildren();
      if (values === null) {
        this.rawShown = true;
        this.applyRaw();
        this.actionSlot.say("The props field does not hold a JSON object: fix it in the raw field.");
        return;
      }
      if (this.propsOf && this.propsOf === this.f("action").value.trim() && !this.definition.length) {
        this.propsBox.append(el("p", { className: "help cb-none", text: "This action needs nothing else: it runs on the member's account." }));
      }
      this.render(this.definition, this.propsBox, values, false);
      this.render(this.dynamic || [], this.dynamicBox, values, true);
    }

    render(props, box, values, dynamic) {
      var self = this;
      props.forEach(function (prop) {
        var control = self.control(prop, values[prop.name]);
        control.dynamic = dynamic;
        box.append(control.slot.row);
        self.controls.push(control);
      });
    }

    control(prop, current) {
      var self = this;
      var type = String(prop.type || "string");
      var label = (prop.label || prop.name) + (prop.optional ? " (optional)" : "");
      var control = { prop: prop };
      var input;
      if (prop.remote || (Array.isArray(prop.options) && prop.options.length)) {
        input = el("select");
        setChoices(input, prop.options || [], current, prop.remote ? "Load the options, then choose one" : "Choose…");
        control.read = function () {
          return input.value === "" ? { set: false } : { set: true, value: input.cbValues[Number(input.value)] };
        };
      } else if (type === "boolean") {
        input = el("input", { type: "checkbox", checked: current === undefined ? prop.default === true : current === true });
        control.read = function () {
          if (input.checked) return { set: true, value: true };
          return prop.optional && prop.default !== true ? { set: false } : { set: true, value: false };
        };
      } else if (type === "integer") {
        input = el("input", { type: "number", step: "1", className: "vIntegerField", value: current === undefined ? "" : String(current) });
        if (typeof prop.min === "number") input.min = String(prop.min);
        if (typeof prop.max === "number") input.max = String(prop.max);
        control.read = function () {
          if (input.value.trim() === "") return { set: false };
          var number = Number(input.value);
          if (!Number.isInteger(number)) return { problem: "Give a whole number." };
          if (typeof prop.min === "number" && number < prop.min) return { problem: "Give a number of at least " + prop.min + "." };
          if (typeof prop.max === "number" && number > prop.max) return { problem: "Give a number of at most " + prop.max + "." };
          return { set: true, value: number };
        };
      } else if (/\[\]$/.test(type)) {
        input = el("textarea", { rows: 3, className: "vLargeTextField", value: Array.isArray(current) ? current.map(shown).join("\n") : "" });
        control.read = function () {
          var lines = input.value.split("\n").map((line) => line.trim()).filter(Boolean);
          if (type === "integer[]" && lines.some((line) => !/^-?\d+$/.test(line))) return { problem: "Give whole numbers, one a line." };
          if (!lines.length) return { set: false };
          return { set: true, value: type === "integer[]" ? lines.map(Number) : lines };
        };
      } else if (type === "object" || type === "any") {
        input = el("textarea", { rows: 3, className: "vLargeTextField", value: current === undefined ? "" : JSON.stringify(current) });
        control.read = function () {
          if (input.value.trim() === "") return { set: false };
          try {
            return { set: true, value: JSON.parse(input.value) };
          } catch (error) {
            return { problem: 'Give JSON here, e.g. {"name": "value"}.' };
          }
        };
      } else {
        input = el("input", { type: "text", className: "vTextField", value: current === undefined ? "" : shown(current) });
        control.read = function () {
          return input.value === "" ? { set: false } : { set: true, value: input.value };
        };
      }
      if (prop.default !== undefined && prop.default !== null && /^(text|number|textarea)$/.test(input.type)) {
        input.placeholder = "Default: " + shown(prop.default);
      }
      if (!prop.optional) input.setAttribute("aria-required", "true");
      input.dataset.prop = prop.name;
      control.slot = slot(label, input, prop.description || "");
      input.addEventListener("change", function () {
        self.writeProps();
        if (prop.reload) self.reload(control);
      });
      if (prop.remote) this.remote(control, input, label);
      return control;
    }

    remote(control, select, label) {
      var self = this;
      var query = el("input", { type: "search", id: uid(), className: "cb-query" });
      var load = el("button", { type: "button", className: "button cb-load", text: "Load options" });
      control.slot.box.append(
        el("span", { className: "cb-load-row" }, [
          el("label", { htmlFor: query.id, className: "cb-query-label", text: "Search" }),
          query,
          load,
        ]),
      );
      load.addEventListener("click", async function () {
        var props = self.readProps() || {};
        load.disabled = true;
        self.statusA.textContent = "Loading the options of " + label + "…";
        try {
          var data = await call("POST", base() + "options/", {
            action: self.f("action").value.trim(),
            app: self.slug(),
            prop: control.prop.name,
            props: props,
            member: self.member.value.trim(),
            query: query.value.trim(),
          });
          var options = Array.isArray(data.options) ? data.options : [];
          setChoices(select, options, props[control.prop.name], options.length ? "Choose…" : "No options");
          control.slot.clear();
          var whose = data.account === "member" ? self.member.value.trim() + "'s account" : "the site's account";
          self.statusA.textContent = options.length + " options of " + label + " from " + whose + ".";
        } catch (error) {
          control.slot.say(error.message);
          self.statusA.textContent = "";
        } finally {
          load.disabled = false;
        }
      });
    }

    async reload(control) {
      if (!control) return;
      var turn = (this.reloads += 1);
      var props = this.readProps() || {};
      this.statusA.textContent = "Loading the props that follow from " + (control.prop.label || control.prop.name) + "…";
      var data;
      try {
        data = await call("POST", base() + "reload/", {
          action: this.f("action").value.trim(),
          app: this.slug(),
          props: props,
          member: this.member.value.trim(),
        });
      } catch (error) {
        if (turn === this.reloads) control.slot.say(error.message);
        this.statusA.textContent = "";
        return;
      }
      if (turn !== this.reloads) return;
      var known = this.definition.map((prop) => prop.name);
      this.dynamic = (Array.isArray(data.props) ? data.props : []).filter((prop) => known.indexOf(prop.name) < 0);
      this.renderAll();
      this.statusA.textContent = this.dynamic.length ? this.dynamic.length + " more props to fill." : "No more props.";
    }

    suggest() {
      var self = this;
      clearTimeout(this.suggesting);
      var q = this.member.value.trim();
      if (!q) return;
      this.suggesting = setTimeout(async function () {
        try {
          var data = await call("GET", base() + "members/?q=" + encodeURIComponent(q));
          self.memberSlot.clear();
          self.members.replaceChildren(
            ...(data.members || []).map(function (member) {
              return el("option", { value: member.username, label: member.label || member.username });
            }),
          );
        } catch (error) {
          self.memberSlot.say(error.message);
        }
      }, 250);
    }

    async tryIt() {
      var kind = this.f("kind").value;
      var member = this.member.value.trim();
      var props = kind === "action" ? this.readProps() : {};
      var problem = "";
      if (!this.f("app").value) problem = "Choose the app first.";
      else if (kind === "action" && !this.f("action").value.trim()) problem = "Choose the action first.";
      else if (kind === "proxy" && !this.f("proxy_url").value.trim()) problem = "Give the proxy URL first.";
      else if (props === null) problem = "The props are not a JSON object: fix them first.";
      else if (!member) problem = "Give the username of a member to try it on.";
      this.tryProblem.textContent = problem;
      if (problem) return;
      var turn = (this.tries += 1);
      this.tryButton.disabled = true;
      this.statusB.textContent = "Starting…";
      try {
        var started = await call("POST", base() + "try/", {
          claim: claimPk(),
          requirement: {
            app: Number(this.f("app").value),
            kind: kind,
            action: kind === "action" ? this.f("action").value.trim() : "",
            props: props,
            proxy_url: kind === "proxy" ? this.f("proxy_url").value.trim() : "",
          },
          member: member,
        });
        var url = typeof started.status_url === "string" && started.status_url.indexOf(base() + "try/") === 0
          ? started.status_url
          : base() + "try/" + encodeURIComponent(String(started.job)) + "/";
        for (var polls = 0; polls < POLL_LIMIT; polls += 1) {
          this.statusB.textContent = "Running…";
          await sleep(POLL_MS);
          var job = await call("GET", url);
          if (turn !== this.tries) return;
          if (job.state === "done") {
            this.showTree(job.result);
            this.statusB.textContent = "Done: choose a value in the answer to check it.";
            return;
          }
          if (job.state === "failed") {
            this.statusB.textContent = "";
            this.tryProblem.textContent = job.error || "The check failed without saying why.";
            return;
          }
        }
        this.tryProblem.textContent = "No answer after five minutes: is the task worker running? Try again.";
      } catch (error) {
        if (turn !== this.tries) return;
        this.statusB.textContent = "";
        this.tryProblem.textContent = error.message;
      } finally {
        if (turn === this.tries) this.tryButton.disabled = false;
      }
    }

    showTree(result) {
      var list = el("ul", { className: "cb-tree", "aria-label": "The answer" });
      var count = { values: 0 };
      if (result !== null && typeof result === "object") this.branch(list, result, [], count);
      else list.append(el("li", { text: "The answer is " + JSON.stringify(result) + ": there is nothing in it to choose." }));
      this.chosen = null;
      this.tree.replaceChildren(
        el("p", { className: "help", text: "The answer. Choose a value: it becomes the path, comparison and value below." }),
        list,
      );
      this.tree.hidden = false;
    }

    branch(list, value, path, count) {
      var self = this;
      var entries = Array.isArray(value)
        ? value.map((item, index) => [String(index), item])
        : Object.keys(value).map((key) => [key, value[key]]);
      if (!entries.length) {
        list.append(el("li", { className: "cb-empty", text: Array.isArray(value) ? "(an empty list)" : "(nothing)" }));
      }
      return entries.every(function (entry) {
        if (count.values >= TREE_LIMIT) {
          list.append(el("li", { className: "cb-empty", text: "… more values, not shown" }));
          return false;
        }
        var item = el("li", {}, [el("span", { className: "cb-key", text: entry[0] })]);
        var here = path.concat(entry[0]);
        var child = entry[1];
        list.append(item);
        if (child !== null && typeof child === "object") {
          var size = Array.isArray(child) ? child.length + (child.length === 1 ? " item" : " items") : "";
          if (size) item.append(el("span", { className: "cb-size", text: " (" + size + ")" }));
          var sub = el("ul");
          item.append(sub);
          return self.branch(sub, child, here, count);
        }
        count.values += 1;
        var text = JSON.stringify(child);
        text = text.length > 120 ? text.slice(0, 119) + "…" : text;
        var button = el("button", {
          type: "button",
          className: "cb-value cb-" + (child === null ? "null" : typeof child),
          text: text,
          "aria-label": here.join(".") + " = " + text,
        });
        button.addEventListener("click", function () {
          self.pick(here, child, button);
        });
        item.append(" ", button);
        return true;
      });
    }

    comparisons(type) {
      var select = this.f("comparison");
      var current = select.value;
      var wanted = type ? COMPARISONS[type] : null;
      var options = this.allComparisons.filter(function (option) {
        return wanted ? wanted.indexOf(option[0]) >= 0 : true;
      });
      if (wanted) options.sort((a, b) => wanted.indexOf(a[0]) - wanted.indexOf(b[0]));
      select.replaceChildren(
        ...options.map(function (option) {
          return el("option", { value: option[0], text: option[1], selected: option[0] === current });
        }),
      );
    }

    pick(path, value, button) {
      var type = value === null ? "null" : typeof value;
      if (!COMPARISONS[type]) return;
      var comparison = COMPARISONS[type][0];
      var seen = value === null ? "null" : String(value);
      this.pickType = type;
      this.set(this.f("path"), path.join("."));
      this.comparisons(type);
      this.set(this.f("comparison"), comparison);
      this.set(this.f("value"), comparison === "truthy" ? "" : seen);
      this.propose();
      if (this.chosen) this.chosen.removeAttribute("aria-current");
      this.chosen = button;
      button.setAttribute("aria-current", "true");
      var select = this.f("comparison");
      this.statusB.textContent =
        "The check reads " + path.join(".") + ": " + select.selectedOptions[0].textContent +
        (comparison === "truthy" ? "" : " " + seen) + ".";
    }

    propose() {
      if (this.typed || !this.pickType) return;
      var text = sentence(this.f("path").value.trim(), this.f("comparison").value, this.f("value").value.trim(), this.pickType);
      if (!text) return;
      this.proposed = text;
      this.set(this.f("text"), text);
    }
  }

  function attachAll() {
    document.querySelectorAll(".inline-related").forEach(function (holder) {
      if (holder.classList.contains("empty-form") || holder.id.indexOf("__prefix__") >= 0) return;
      if (holder.cbBuilder || !holder.querySelector("select[name$='-kind']")) return;
      if (!holder.querySelector(".form-row.field-action") || !holder.querySelector(".form-row.field-path")) return;
      if (!holder.querySelector("[name$='-comparison']") || !holder.querySelector("[name$='-text']")) return;
      holder.cbBuilder = new Builder(holder);
    });
  }

  // A requirement added with "Add another" arrives after load.
  document.addEventListener("formset:added", attachAll);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attachAll);
  else attachAll();
})();
