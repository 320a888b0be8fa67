/* Entity profile: every value the viewer may see with provenance and marking, pointers, the merge's explanation,
   same / not-same judgements and a watch button. */
(function () {
  "use strict";
  var T = window.Tessera, el = T.el;
  var root = document.getElementById("entity");
  var id = root.getAttribute("data-entity-id");
  var status = document.getElementById("entity-status");
  var profile = null;

  function show(id_) { document.getElementById(id_).hidden = false; }

  function valueRow(v) {
    var m = v.marking || {};
    T.marking.raise(m);
    return el("tr", {"data-agency": v.agency, "data-prop": v.prop},
      el("th", {scope: "row"}, v.prop),
      el("td", null, el("span", {class: "value", dir: "auto"}, v.value),
         v.original && v.original !== v.value ? el("div", {class: "muted"}, "as recorded: ", el("span", {dir: "auto"}, v.original)) : null),
      el("td", null, v.agency),
      el("td", null, T.fmtDate(v.received_at)),
      el("td", null, v.grading || "—"),
      el("td", null, el("span", {class: "tag mark-" + (m.classification || "")}, T.markingText(m) || "—")),
      el("td", null, (v.file || "") + (v.row !== undefined && v.row !== null ? ", row " + v.row : ""),
         el("div", {class: "muted"}, v.source_entity)));
  }

  function pointerItem(p) {
    return el("li", {class: "pointer", "data-pointer": p.agency},
      el("p", null, el("strong", null, "Agency " + p.agency + " holds this subject.")),
      el("p", null, "Contact: " + (p.contact || "the agency's duty desk")),
      p.reference ? el("p", null, "Reference: ", el("code", null, p.reference)) : null);
  }

  function agencyOf(sid) {
    var v = profile && profile.values.find(function (x) { return x.source_entity === sid; });
    return v ? v.agency : "";
  }

  function recordName(sid) {
    return "record " + sid.slice(0, 12) + (agencyOf(sid) ? " (" + agencyOf(sid) + ")" : "");
  }

  /* One explanation (GET /api/v1/explain): the scored comparisons, shared identifiers, judgements, withheld counts. */
  function explanation(first, other, data) {
    var box = el("div", {class: "panel", "data-explain": other}, el("h3", null, recordName(first) + " and " + recordName(other)));
    (data.pairs || []).forEach(function (pair) {
      var verdict = pair.adjustments_withheld ? "Compared" : pair.decision === "match" ? "Matched"
        : pair.decision === "match (group context)" ? "Matched by group context"
        : pair.decision === "no match (evidence against)" ? "Not matched: the evidence speaks against" : "Not matched";
      var weight = pair.adjustments_withheld
        ? ": weight " + pair.total_before_adjustments + " before the adjustments for common names and shared phones" +
          " (they count records you may not see, so they and the total are withheld); threshold " + pair.threshold
        : ": total weight " + pair.total + " against a threshold of " + pair.threshold;
      box.appendChild(el("p", null, el("strong", null, verdict), weight +
        (pair.prior !== undefined ? " (prior " + pair.prior + ")" : "") +
        (pair.name_similarity !== undefined ? "; name similarity " + pair.name_similarity + "%" : "") +
        (pair.refused ? "; refused: " + pair.refused : "") +
        (pair.context && pair.context.shared_companions ? "; seen with " + pair.context.shared_companions +
          " of the same people (group context " + (pair.context.weight > 0 ? "+" : "") + pair.context.weight + ")" : "")));
      box.appendChild(el("table", {class: "data"},
        el("caption", null, "Comparisons"),
        el("thead", null, el("tr", null, el("th", {scope: "col"}, "Comparison"), el("th", {scope: "col"}, "Level"),
                                         el("th", {scope: "col"}, "Weight"))),
        el("tbody", null, (pair.comparisons || []).map(function (c) {
          return el("tr", null, el("th", {scope: "row"}, c.comparison), el("td", null, c.level),
                    el("td", null, (c.weight > 0 ? "+" : "") + c.weight));
        }))));
    });
    (data.shared_keys || []).forEach(function (k) {
      box.appendChild(el("p", null, "Shared identifier (" + (k.properties || []).join(", ") + "): ",
        el("code", null, (k.value || []).join(", "))));
    });
    (data.judgements || []).forEach(function (j) { box.appendChild(el("p", null, "Judgement #" + j.id + ": " + j.kind +
      " by " + j.user + (j.reason ? " — " + j.reason : ""))); });
    var withheld = (data.withheld_pairs || 0) + (data.withheld_shared_keys || 0);
    if (withheld) box.appendChild(el("p", {class: "muted"}, withheld + " comparison(s) withheld: they involve records you may not see in full."));
    if (!(data.pairs || []).length && !(data.shared_keys || []).length && !(data.judgements || []).length && !withheld) {
      box.appendChild(el("p", {class: "muted"}, data.same_cluster ? "Joined through other records of this entity." : "No direct evidence."));
    }
    return box;
  }

  function loadExplanation(sources) {
    if (sources.length < 2) return;
    var first = sources[0];
    var box = document.getElementById("explain");
    var pairs = sources.slice(1, 6);
    Promise.all(pairs.map(function (other) {
      return T.api("/explain?a=" + encodeURIComponent(first) + "&b=" + encodeURIComponent(other))
        .then(function (data) { return {other: other, data: data}; })
        .catch(function (err) { return {other: other, error: err}; });
    })).then(function (answers) {
      var any = false;
      answers.forEach(function (answer) {
        if (answer.error) return;
        any = true;
        box.appendChild(explanation(first, answer.other, answer.data));
      });
      if (!any) box.appendChild(el("p", {class: "muted"}, "No explanation is available for these records."));
      if (sources.length > 6) box.appendChild(el("p", {class: "muted"}, "The first five of " + (sources.length - 1) + " records compared."));
      show("explain-section");
    });
  }

  function judgementItem(j) {
    return el("li", {"data-judgement": j.id},
      el("strong", null, (j.kind === "same" ? "Same" : j.kind === "not-same" ? "Not the same" : "Split") + ": "),
      (j.a || "a record withheld") + (j.kind !== "split" ? " and " + (j.b || "a record withheld") : ""),
      el("div", null, "By " + j.user + (j.agency ? " (" + j.agency + ")" : "") + ", " + T.fmtDate(j.created_at)),
      el("div", null, j.reason_withheld ? el("em", null, "reason withheld") : "Reason: " + (j.reason || "")),
      j.deleted_at ? el("div", {class: "muted"}, "withdrawn") : null);
  }

  function loadJudgements() {
    var list = document.getElementById("judgements");
    return T.api("/judgements?entity=" + encodeURIComponent(profile.id)).then(function (data) {
      list.replaceChildren();
      (data.judgements || []).forEach(function (j) { list.appendChild(judgementItem(j)); });
      if (!(data.judgements || []).length) list.appendChild(el("li", {class: "muted"}, "No judgements yet."));
    }).catch(function () {});
  }

  function setUpJudgements(data) {
    var a = document.getElementById("judge-a");
    a.appendChild(el("option", {value: data.id}, "This whole entity (" + data.id + ")"));
    var options = document.getElementById("judge-b-options");
    data.source_entities.forEach(function (sid) {
      var agency = (data.values.find(function (v) { return v.source_entity === sid; }) || {}).agency;
      a.appendChild(el("option", {value: sid}, "Record " + sid + (agency ? " (" + agency + ")" : "")));
      options.appendChild(el("option", {value: sid}, agency || ""));
    });
    var form = document.getElementById("judge-form");
    var error = document.getElementById("judge-error");
    var result = document.getElementById("judge-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      var body = {kind: form.kind.value, a: form.a.value, b: form.b.value.trim(), reason: form.reason.value.trim()};
      var missing = !body.b ? form.b : !body.reason ? form.reason : null;
      if (missing) {
        error.textContent = missing === form.b ? "Give the other record's id." : "Give a reason for the judgement.";
        error.hidden = false;
        missing.focus();
        return;
      }
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      T.api("/judgements", {method: "POST", json: body}).then(function (j) {
        result.textContent = "Judgement #" + j.id + " recorded: " + (body.kind === "same" ? "same" : "not the same") +
          ". It takes effect at the next resolution.";
        form.reason.value = "";
        form.b.value = "";
        return loadJudgements();
      }).catch(function (err) {
        error.textContent = "Not recorded: " + err.message;
        error.hidden = false;
      }).then(function () { button.disabled = false; });
    });
    show("judge-section");
    loadJudgements();
  }

  function setUpWatch(data) {
    var button = document.getElementById("watch-button");
    var note = document.getElementById("watch-status");
    button.addEventListener("click", function () {
      button.disabled = true;
      T.api("/watches", {method: "POST", json: {target: data.id, kind: "entity"}}).then(function () {
        note.textContent = "You are watching this entity; alerts arrive in your inbox.";
      }).catch(function (err) {
        note.textContent = "Could not watch: " + err.message;
        button.disabled = false;
      });
    });
    show("watch-section");
  }

  T.api("/entities/" + encodeURIComponent(id)).then(function (data) {
    profile = data;
    document.getElementById("entity-title").textContent = data.caption || data.id;
    document.title = (data.caption || data.id) + " · Tessera";
    document.getElementById("entity-summary").appendChild(el("p", null,
      data.schemas.map(function (s) { return el("span", {class: "tag"}, s); }),
      " " + data.source_entities.length + (data.source_entities.length === 1 ? " record" : " records") +
      " from " + data.agencies.join(", ") + " · id ", el("code", null, data.id)));
    var tbody = document.querySelector("#values tbody");
    data.values.filter(function (v) { return v.prop_type !== "entity"; }).forEach(function (v) { tbody.appendChild(valueRow(v)); });
    show("values-section");
    T.api("/web/pointers?entity=" + encodeURIComponent(data.id)).then(function (found) {
      (found.pointers || []).forEach(function (p) { document.getElementById("pointers").appendChild(pointerItem(p)); });
      if ((found.pointers || []).length) show("pointers-section");
    }).catch(function () {});
    status.textContent = data.values.length + " values from " + data.agencies.length +
      (data.agencies.length === 1 ? " agency" : " agencies") + ".";
    loadExplanation(data.source_entities);
    setUpJudgements(data);
    setUpWatch(data);
  }).catch(function (err) {
    status.textContent = err.status === 404 ? "No entity " + id + " that you may see." : "Could not load: " + err.message;
    status.setAttribute("role", "alert");
  });
})();
