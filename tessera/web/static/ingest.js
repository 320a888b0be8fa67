/* The ingest page: upload a file with a mapping picked from earlier batches or written here, follow the job's
   progress over Server-Sent Events, then list the rows it quarantined. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var mappings = [];
  var source = null;

  T.api("/charts/mappings").then(function (data) {
    mappings = data.items;
    data.items.forEach(function (m, i) {
      $("ingest-pick").appendChild(T.el("option", {value: String(i)}, m.file + " (batch " + m.batch + ", " + m.received_at.slice(0, 10) + ")"));
    });
  }).catch(function () {});
  $("ingest-pick").addEventListener("change", function () {
    var m = mappings[Number(this.value)];
    if (this.value !== "" && m) $("ingest-mapping").value = m.mapping.replace(/^\n/, "");
  });

  function state(text) { $("ingest-state").textContent = text; }

  function result(job) {
    var dl = $("ingest-result");
    dl.replaceChildren();
    var r = job.result || {};
    [["Batch", r.batch_id], ["Records", r.records], ["Statements", r.statements], ["Quarantined", r.quarantined],
     ["Warnings", r.warnings]].forEach(function (pair) {
      if (pair[1] === undefined || pair[1] === null) return;
      dl.appendChild(T.el("dt", {}, pair[0]));
      dl.appendChild(T.el("dd", {"data-field": pair[0].toLowerCase()}, String(pair[1])));
    });
  }

  function quarantine(job) {
    return T.api("/ingest/" + encodeURIComponent(job.id) + "/quarantine?limit=200").then(function (page) {
      $("ingest-quarantine-count").textContent = page.total + " rows quarantined" + (page.total > page.items.length ? " (first " + page.items.length + " shown)" : "");
      var body = $("ingest-quarantine").tBodies[0];
      body.replaceChildren.apply(body, page.items.map(function (q) {
        return T.el("tr", {}, T.el("td", {}, String(q.record_no)), T.el("td", {}, q.field || ""), T.el("td", {}, q.reason || ""),
                    T.el("td", {}, T.el("code", {}, typeof q.raw === "string" ? q.raw : JSON.stringify(q.raw))));
      }));
    });
  }

  function follow(job) {
    if (source) source.close();
    var bar = $("ingest-progress");
    bar.removeAttribute("value");  // indeterminate until the job ends: the row count is known only then
    source = new EventSource("/api/v1/ingest/" + encodeURIComponent(job.id) + "/events");
    var finish = function (event) {
      var now = JSON.parse(event.data);
      source.close(); source = null;
      bar.max = 1; bar.value = 1;
      bar.textContent = now.state;
      $("ingest-submit").disabled = false;
      result(now);
      if (now.state === "done") {
        state("Done: " + now.records + " records of " + now.file + " ingested as batch " + now.batch + ".");
        quarantine(now);
      } else {
        state("The file was " + now.state + ": " + (now.error || "see the server log"));
      }
      T.announce($("ingest-state").textContent);
    };
    source.addEventListener("progress", function (event) {
      var now = JSON.parse(event.data);
      state((now.state === "queued" ? "Queued" : "Reading") + ": " + now.records + " records so far");
    });
    ["done", "refused", "failed"].forEach(function (kind) { source.addEventListener(kind, finish); });
    source.onerror = function () {
      if (!source) return;
      T.api("/ingest/" + encodeURIComponent(job.id)).then(function (now) {
        if (now.state !== "queued" && now.state !== "running") finish({data: JSON.stringify(now)});
      }).catch(function () {});
    };
  }

  $("ingest-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = new FormData(this);
    ["caveat", "release_to", "grading", "mapping"].forEach(function (k) { if (!String(form.get(k) || "").trim()) form.delete(k); });
    $("ingest-submit").disabled = true;
    state("Uploading…");
    $("ingest-quarantine").tBodies[0].replaceChildren();
    $("ingest-quarantine-count").textContent = "—";
    T.api("/ingest", {method: "POST", body: form}).then(function (job) {
      state("Queued as job " + job.id + ".");
      T.marking.raise($("ingest-classification").value, $("ingest-caveat").value || null);
      follow(job);
    }).catch(function (err) {
      $("ingest-submit").disabled = false;
      state("Refused: " + err.message);
    });
  });
})();
