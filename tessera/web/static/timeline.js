/* The timeline of an entity or a network: its links (first to last seen) and its events, one lane per kind. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var NS = "http://www.w3.org/2000/svg";
  var COLOURS = {crossing: "#1565c0", interception: "#ef6c00", arrest: "#c62828", payment: "#2e7d32", call: "#ad1457"};

  function svg(tag, attrs, text) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function day(text) { return Date.parse(text + "T00:00:00Z"); }

  function rowsOf(data) {
    var name = function (id) { return (data.entities[id] || {}).label || id.slice(0, 10); };
    var rows = data.items.filter(function (x) { return x.first || x.last; }).map(function (x) {
      var detail = x.type === "payment" && x.amount ? Number(x.amount).toLocaleString("en-GB") + " " + (x.currency || "") : (x.count > 1 ? x.count + " times" : "");
      return {first: x.first || x.last, last: x.last || x.first, lane: x.type.replace(/_/g, " "), kind: x.type,
              who: name(x.entity) + " – " + name(x.other), detail: detail, grading: x.grading};
    });
    data.events.forEach(function (e) {
      rows.push({first: e.date, last: e.date, lane: e.kind, kind: e.kind, who: e.entities.map(name).join(", "),
                 detail: e.name + (e.place ? " at " + e.place : "")});
    });
    rows.sort(function (a, b) { return a.first < b.first ? -1 : a.first > b.first ? 1 : 0; });
    return rows;
  }

  function draw(rows) {
    var chart = $("timeline-chart");
    Array.prototype.slice.call(chart.childNodes).forEach(function (n) { if (n.nodeName !== "title") chart.removeChild(n); });
    if (!rows.length) { chart.setAttribute("viewBox", "0 0 1000 50"); chart.appendChild(svg("text", {x: 20, y: 30}, "Nothing dated that you may see.")); return; }
    var lanes = [];
    rows.forEach(function (r) { if (lanes.indexOf(r.lane) < 0) lanes.push(r.lane); });
    var lo = day(rows[0].first), hi = Math.max.apply(null, rows.map(function (r) { return day(r.last); }));
    if (hi === lo) { lo -= 15 * 864e5; hi += 15 * 864e5; }
    var L = 150, W = 1000, laneH = 28, H = 40 + lanes.length * laneH;
    var x = function (t) { return L + (t - lo) / (hi - lo) * (W - L - 20); };
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    lanes.forEach(function (lane, i) {
      chart.appendChild(svg("text", {x: 6, y: 24 + i * laneH + 14, "font-size": 12}, lane));
      chart.appendChild(svg("line", {x1: L, x2: W - 20, y1: 24 + i * laneH + 10, y2: 24 + i * laneH + 10, stroke: "#e3e8ee"}));
    });
    var y0 = new Date(lo).getUTCFullYear(), y1 = new Date(hi).getUTCFullYear();
    for (var y = y0; y <= y1 + 1; y++) {
      var t = Date.UTC(y, 0, 1);
      if (t < lo || t > hi) continue;
      chart.appendChild(svg("line", {x1: x(t), x2: x(t), y1: 14, y2: H - 4, stroke: "#c8d0d8", "stroke-dasharray": "3 3"}));
      chart.appendChild(svg("text", {x: x(t) + 3, y: 12, "font-size": 11, fill: "#57606a"}, String(y)));
    }
    rows.forEach(function (r) {
      var i = lanes.indexOf(r.lane), a = x(day(r.first)), b = x(day(r.last));
      var cy = 24 + i * laneH + 10, colour = COLOURS[r.kind] || "#1d4f7c";
      var mark = b - a > 3 ? svg("rect", {x: a, y: cy - 5, width: b - a, height: 10, rx: 3, fill: colour, "fill-opacity": 0.7, class: "timeline-item", tabindex: 0})
                           : svg("circle", {cx: a, cy: cy, r: 5, fill: colour, class: "timeline-item", tabindex: 0});
      mark.setAttribute("aria-label", r.first + (r.last !== r.first ? " to " + r.last : "") + ": " + r.lane + ", " + r.who);
      mark.appendChild(svg("title", {}, r.first + (r.last !== r.first ? " → " + r.last : "") + " · " + r.lane + " · " + r.who + (r.detail ? " · " + r.detail : "")));
      chart.appendChild(mark);
    });
  }

  function load(event) {
    if (event) event.preventDefault();
    var entity = $("timeline-entity").value.trim(), network = $("timeline-network").value;
    if (!entity && network === "") { $("timeline-status").textContent = "Give an entity id or a network number."; return Promise.resolve(); }
    var params = [entity ? "entity=" + encodeURIComponent(entity) : "network=" + encodeURIComponent(network)];
    if ($("timeline-from").value) params.push("start=" + $("timeline-from").value);
    if ($("timeline-to").value) params.push("end=" + $("timeline-to").value);
    $("timeline-status").textContent = "Loading…";
    return T.api("/charts/timeline?" + params.join("&")).then(function (data) {
      T.marking.reset();
      T.marking.raise(data.marking);
      var rows = rowsOf(data);
      draw(rows);
      var body = $("timeline-table").tBodies[0];
      body.replaceChildren.apply(body, rows.slice(0, 2000).map(function (r) {
        return T.el("tr", {"data-kind": r.kind}, T.el("td", {}, r.first), T.el("td", {}, r.last !== r.first ? r.last : ""),
                    T.el("td", {}, r.lane), T.el("td", {}, r.who), T.el("td", {}, r.detail || ""));
      }));
      var text = rows.length + " dated links and events";
      $("timeline-status").textContent = text;
      T.announce(text);
    }).catch(function (err) { $("timeline-status").textContent = "Could not load the timeline: " + err.message; });
  }

  $("timeline-form").addEventListener("submit", load);
  window.TesseraTimeline = {load: load};
  if ($("timeline-entity").value || $("timeline-network").value) load();
})();
