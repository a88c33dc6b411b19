// The claim's change form shows what fits the claim: the fields of the chosen delivery
// method only, and a requirement's check fields only for the kind of check it is.
// Without JavaScript every field shows, and the server checks them all the same.
(function () {
  "use strict";

  var METHOD_FIELDS = {
    bitbadges: ["bitbadges_claim_id", "password_instance_id", "password", "clear_password"],
    dynamic_store: ["bitbadges_claim_id", "store_id", "store_secret", "clear_store_secret"],
    workflow: ["bitbadges_claim_id", "workflow_url"],
  };
  var ALL_METHOD_FIELDS = [
    "bitbadges_claim_id", "password_instance_id", "password", "clear_password",
    "store_id", "store_secret", "clear_store_secret", "workflow_url",
  ];
  var KIND_FIELDS = {
    account: [],
    action: ["action", "props", "path", "comparison", "value", "identity_path"],
    proxy: ["proxy_url", "path", "comparison", "value", "identity_path"],
  };
  var ALL_KIND_FIELDS = ["action", "props", "proxy_url", "path", "comparison", "value", "identity_path"];

  function show(row, visible) {
    if (row) row.hidden = !visible;
  }

  function byMethod() {
    var select = document.getElementById("id_delivery");
    if (!select) return;
    var wanted = METHOD_FIELDS[select.value];
    ALL_METHOD_FIELDS.forEach(function (name) {
      show(document.querySelector(".form-row.field-" + name), !wanted || wanted.indexOf(name) >= 0);
    });
  }

  function byKind(select) {
    var holder = select.closest(".inline-related");
    if (!holder) return;
    var wanted = KIND_FIELDS[select.value];
    ALL_KIND_FIELDS.forEach(function (name) {
      show(holder.querySelector(".form-row.field-" + name), !wanted || wanted.indexOf(name) >= 0);
    });
    var check = holder.querySelectorAll("fieldset.module")[1];
    if (check) check.hidden = wanted !== undefined && wanted.length === 0;
  }

  function kinds() {
    document.querySelectorAll("select[name^='requirements-'][name$='-kind']").forEach(byKind);
  }

  // The trigger runs on one of the claim's apps: the trigger's app list offers only the
  // apps the requirements name (all of them while none is chosen yet).
  function triggerApps() {
    var select = document.getElementById("id_trigger_app");
    if (!select) return;
    var chosen = {};
    var any = false;
    document.querySelectorAll("select[name^='requirements-'][name$='-app']").forEach(function (app) {
      var holder = app.closest(".inline-related");
      var removed = holder && holder.querySelector("input[name$='-DELETE']:checked");
      if (app.value && !removed) {
        chosen[app.value] = true;
        any = true;
      }
    });
    Array.prototype.forEach.call(select.options, function (option) {
      var offered = !option.value || !any || chosen[option.value] || option.selected;
      option.hidden = !offered;
      option.disabled = !offered;
    });
  }

  // The BitBadges claim, looked up by its ID: name, image, plugins, and what a save
  // would refuse. Built from nodes: the answer carries text from BitBadges.
  var lookupTimer = null;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function preview() {
    var field = document.getElementById("id_bitbadges_claim_id");
    if (!field) return null;
    var box = document.getElementById("bitbadges-claim-preview");
    if (!box) {
      box = element("div", "bitbadges-claim-preview");
      box.id = "bitbadges-claim-preview";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      field.insertAdjacentElement("afterend", box);
    }
    return box;
  }

  function show_claim(box, answer) {
    box.replaceChildren();
    if (answer.problem) {
      box.appendChild(element("p", "errornote", answer.problem));
      return;
    }
    var claim = answer.claim;
    var head = element("div", "bitbadges-claim-head");
    if (claim.image) {
      var image = element("img");
      image.src = claim.image;
      image.alt = "";
      image.width = 48;
      image.height = 48;
      head.appendChild(image);
    }
    head.appendChild(element("strong", "bitbadges-claim-name", claim.name || claim.id));
    box.appendChild(head);
    if (claim.description) box.appendChild(element("p", "help", claim.description));
    var list = element("ul", "bitbadges-claim-plugins");
    claim.plugins.forEach(function (plugin) {
      list.appendChild(element("li", "", plugin.id + (plugin.instance && plugin.instance !== plugin.id ? " (" + plugin.instance + ")" : "") + ": " + plugin.words));
    });
    if (claim.plugins.length) {
      box.appendChild(element("p", "", "Plugins:"));
      box.appendChild(list);
    }
    (answer.problems || []).forEach(function (problem) {
      box.appendChild(element("p", problem.blocking ? "errornote" : "warning", problem.text));
    });
    if (!(answer.problems || []).length && document.getElementById("id_delivery").value) {
      box.appendChild(element("p", "bitbadges-claim-ok", "Nothing in this claim's set-up stops the chosen delivery."));
    }
  }

  function lookup() {
    var field = document.getElementById("id_bitbadges_claim_id");
    var box = preview();
    if (!field || !box) return;
    var id = field.value.trim();
    if (!id) {
      box.replaceChildren();
      return;
    }
    var params = new URLSearchParams({
      id: id,
      delivery: (document.getElementById("id_delivery") || {}).value || "",
      password_instance_id: (document.getElementById("id_password_instance_id") || {}).value || "",
      store_id: (document.getElementById("id_store_id") || {}).value || "",
    });
    var base = field.form.getAttribute("data-lookup-url") || "/admin/claims/claim/bitbadges-lookup/";
    box.replaceChildren(element("p", "help", "Looking the claim up on BitBadges…"));
    fetch(base + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        show_claim(box, answer);
      })
      .catch(function () {
        box.replaceChildren(element("p", "errornote", "Could not reach the server: try again."));
      });
  }

  function lookupSoon() {
    clearTimeout(lookupTimer);
    lookupTimer = setTimeout(lookup, 400);
  }

  document.addEventListener("change", function (event) {
    if (event.target.id === "id_delivery") byMethod();
    if (/^requirements-\d+-kind$/.test(event.target.name || "")) byKind(event.target);
    if (/^requirements-\d+-(app|DELETE)$/.test(event.target.name || "")) triggerApps();
    if (["id_bitbadges_claim_id", "id_delivery", "id_password_instance_id", "id_store_id"].indexOf(event.target.id) >= 0) {
      lookupSoon();
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.id === "id_bitbadges_claim_id") lookupSoon();
  });
  // A requirement added with "Add another" arrives after load.
  document.addEventListener("formset:added", function () {
    kinds();
    triggerApps();
  });
  document.addEventListener("DOMContentLoaded", function () {
    byMethod();
    kinds();
    triggerApps();
    lookup();
  });
})();
