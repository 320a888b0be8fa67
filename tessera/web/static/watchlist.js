/* Watchlist: the caller's watches (GET /api/v1/watches), add one (POST), stop one (DELETE). */
(function () {
  "use strict";
  var T = window.Tessera, el = T.el;
  var tbody = document.querySelector("#watches tbody");
  var status = document.getElementById("watch-status");
  var form = document.getElementById("watch-form");
  var error = document.getElementById("watch-error");

  function row(w) {
    var stop = el("button", {type: "button", class: "secondary", "aria-label": "Stop watching " + w.target}, "Stop watching");
    stop.addEventListener("click", function () {
      stop.disabled = true;
      T.api("/watches/" + w.id, {method: "DELETE"}).then(function () {
        T.announce("Stopped watching " + w.target + ".");
        return load();
      }).catch(function (err) { stop.disabled = false; status.textContent = "Could not stop: " + err.message; });
    });
    return el("tr", {"data-watch": w.id},
      el("td", null, el("a", {href: "/entities/" + encodeURIComponent(w.target)}, w.target)),
      el("td", null, w.kind === "network" ? "network, " + w.hops + (w.hops === 1 ? " hop" : " hops") : "entity"),
      el("td", null, w.label || ""),
      el("td", null, T.fmtDate(w.created_at)),
      el("td", null, stop));
  }

  function load() {
    return T.api("/watches").then(function (data) {
      tbody.replaceChildren();
      (data.items || []).forEach(function (w) { tbody.appendChild(row(w)); });
      status.textContent = data.total ? "You watch " + data.total + (data.total === 1 ? " entity or network." : " entities or networks.") :
        "You watch nothing yet.";
    }).catch(function (err) { status.textContent = "Could not load your watchlist: " + err.message; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    var target = form.target.value.trim();
    if (!target) {
      error.textContent = "Give the id of the entity to watch.";
      error.hidden = false;
      form.target.focus();
      return;
    }
    var body = {target: target, kind: form.kind.value, hops: parseInt(form.hops.value, 10)};
    if (form.label.value.trim()) body.label = form.label.value.trim();
    T.api("/watches", {method: "POST", json: body}).then(function () {
      form.reset();
      T.announce("Now watching " + target + ".");
      return load();
    }).catch(function (err) {
      error.textContent = err.status === 404 ? "No entity " + target + " that you may see." : "Could not watch: " + err.message;
      error.hidden = false;
    });
  });
  load();
})();
