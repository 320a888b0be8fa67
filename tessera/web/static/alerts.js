/* Alerts inbox: the caller's alerts, then new ones live over Server-Sent Events (GET /api/v1/alerts/stream),
   announced to screen readers; mark read with POST /api/v1/alerts/{id}/ack. */
(function () {
  "use strict";
  var T = window.Tessera, el = T.el;
  var list = document.getElementById("alert-list");
  var status = document.getElementById("alerts-status");
  var state = document.getElementById("stream-state");
  var unreadOnly = document.getElementById("unread-only");
  var seen = {};
  var lastId = 0;
  var KIND = {attached: "New records", merged: "Merged", split: "Split", network: "Network changed"};

  function entityLinks(ids) {
    return ids.map(function (id, i) {
      return [i ? ", " : "", el("a", {href: "/entities/" + encodeURIComponent(id)}, id)];
    }).reduce(function (a, b) { return a.concat(b); }, []);
  }

  function item(a) {
    var li = el("li", {"data-alert": a.id, class: a.acked ? "read" : "unread"},
      el("p", null, el("span", {class: "tag"}, KIND[a.kind] || a.kind), " ", el("strong", null, a.message)),
      el("p", {class: "muted"}, T.fmtDate(a.created_at), " · subject ",
         el("a", {href: "/entities/" + encodeURIComponent(a.subject)}, a.subject)),
      a.entities && a.entities.length ? el("p", null, "Records: ", entityLinks(a.entities)) : null);
    if (!a.acked) {
      var button = el("button", {type: "button", class: "secondary", "aria-label": "Mark alert " + a.id + " read"}, "Mark read");
      button.addEventListener("click", function () {
        button.disabled = true;
        T.api("/alerts/" + a.id + "/ack", {method: "POST"}).then(function () {
          a.acked = true;
          li.className = "read";
          button.remove();
          T.announce("Alert marked read.");
          applyFilter();
          count();
        }).catch(function (err) { button.disabled = false; status.textContent = "Could not mark read: " + err.message; });
      });
      li.appendChild(button);
    }
    return li;
  }

  function add(a, live) {
    if (seen[a.id]) return;
    seen[a.id] = a;
    lastId = Math.max(lastId, a.id);
    list.insertBefore(item(a), list.firstChild);
    if (live) T.announce("New alert: " + a.message);
  }

  function count() {
    var all = Object.keys(seen).map(function (k) { return seen[k]; });
    var unread = all.filter(function (a) { return !a.acked; }).length;
    status.textContent = all.length ? all.length + (all.length === 1 ? " alert, " : " alerts, ") + unread + " unread." : "No alerts yet.";
  }

  function applyFilter() {
    list.querySelectorAll("li").forEach(function (li) { li.hidden = unreadOnly.checked && li.className === "read"; });
  }
  unreadOnly.addEventListener("change", applyFilter);

  function connect() {
    var source = new EventSource("/api/v1/alerts/stream?after=" + lastId);
    source.onopen = function () { state.textContent = "Live"; state.setAttribute("data-state", "live"); };
    source.onerror = function () {
      state.textContent = "Reconnecting…";
      state.setAttribute("data-state", "reconnecting");
    };
    source.addEventListener("alert", function (event) {
      add(JSON.parse(event.data), true);
      applyFilter();
      count();
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  T.api("/alerts?limit=500").then(function (data) {
    (data.items || []).forEach(function (a) { add(a, false); });
    count();
    applyFilter();
    connect();
  }).catch(function (err) {
    status.textContent = "Could not load alerts: " + err.message;
  });
})();
