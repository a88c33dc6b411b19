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

  document.addEventListener("change", function (event) {
    if (event.target.id === "id_delivery") byMethod();
    if (/^requirements-\d+-kind$/.test(event.target.name || "")) byKind(event.target);
  });
  // A requirement added with "Add another" arrives after load.
  document.addEventListener("formset:added", kinds);
  document.addEventListener("DOMContentLoaded", function () {
    byMethod();
    kinds();
  });
})();
