/* The situation page: the Home Office small-boat series by day, week, month and year, the record quarters and the
   year to date against last year, as the press quotes them. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var NS = "http://www.w3.org/2000/svg";
  var data = null;
  var fmt = function (n) { return Number(n).toLocaleString("en-GB"); };

  function svg(tag, attrs, text) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function figure(value, what, id) {
    return T.el("div", {class: "figure", id: id}, T.el("span", {class: "value"}, value), T.el("span", {class: "what"}, what));
  }

  function pct(change) {
    if (!change || change.percent === null || change.percent === undefined) return "";
    return (change.percent > 0 ? "+" : "") + change.percent.toFixed(0) + "%";
  }

  function quarterName(q) { return "Q" + q.quarter + " " + q.year; }

  function press() {
    var box = $("situation-figures");
    box.replaceChildren();
    var ytd = data.year_to_date;
    if (ytd) {
      var p = ytd.period, b = ytd.year_earlier;
      box.appendChild(figure(fmt(p.people), "people this year to " + p.to + " (" + fmt(p.boats) + " boats)", "figure-ytd"));
      box.appendChild(figure((ytd.change.people.difference >= 0 ? "+" : "") + fmt(ytd.change.people.difference),
        "against the same days last year (" + fmt(b.people) + ", " + b.from + " to " + b.to + ") " + pct(ytd.change.people), "figure-ytd-change"));
    }
    var records = data.quarters.filter(function (q) { return q.record_at_the_time; });
    records.slice(-4).reverse().forEach(function (q) {
      box.appendChild(figure(fmt(q.people), "people in " + quarterName(q) + ": the highest " + ["first", "second", "third", "fourth"][q.quarter - 1] +
        " quarter on record at the time", "figure-q" + q.quarter + "-" + q.year));
    });
    var lq = data.latest_quarter;
    if (lq) {
      box.appendChild(figure(fmt(lq.period.people), "people in the latest full quarter (" + lq.period.from + " to " + lq.period.to + "), ranked " +
        lq.rank_all_years + " of " + lq.of_years + " years", "figure-latest-quarter"));
    }
  }

  function quarters() {
    var body = $("quarters-table").tBodies[0];
    body.replaceChildren.apply(body, data.quarters.slice().reverse().map(function (q) {
      return T.el("tr", {"data-quarter": quarterName(q)}, T.el("th", {scope: "row"}, quarterName(q)), T.el("td", {class: "num"}, fmt(q.people)),
        T.el("td", {class: "num"}, fmt(q.boats)), T.el("td", {class: "num"}, q.rank + " of " + q.of_years),
        T.el("td", {}, q.record_at_the_time ? "yes" : ""));
    }));
  }

  function series(event) {
    if (event) event.preventDefault();
    var by = $("series-by").value, from = $("series-from").value, to = $("series-to").value;
    $("series-by-name").textContent = by;
    var rows = (data.series[by] || []).filter(function (r) { return (!from || r.to >= from) && (!to || r.from <= to); });
    var chart = $("series-chart");
    Array.prototype.slice.call(chart.childNodes).forEach(function (n) { if (n.nodeName !== "title") chart.removeChild(n); });
    var W = 1000, H = 260, L = 50, B = 24;
    var max = Math.max.apply(null, rows.map(function (r) { return r.people; }).concat([1]));
    var bw = (W - L - 10) / Math.max(rows.length, 1);
    [0, 0.5, 1].forEach(function (f) {
      var y = H - B - f * (H - B - 10);
      chart.appendChild(svg("line", {x1: L, x2: W, y1: y, y2: y, stroke: "#e3e8ee"}));
      chart.appendChild(svg("text", {x: 4, y: y + 4}, fmt(Math.round(max * f))));
    });
    var every = Math.max(1, Math.ceil(rows.length / 12));
    rows.forEach(function (r, i) {
      var h = r.people / max * (H - B - 10);
      var bar = svg("rect", {class: "bar", x: L + i * bw + (bw > 3 ? 1 : 0), y: H - B - h, width: Math.max(bw - (bw > 3 ? 2 : 0), 0.5), height: h});
      bar.appendChild(svg("title", {}, r.period + ": " + fmt(r.people) + " people, " + fmt(r.boats) + " boats"));
      chart.appendChild(bar);
      if (i % every === 0) chart.appendChild(svg("text", {x: L + i * bw, y: H - 8}, r.period));
    });
    var body = $("series-table").tBodies[0];
    body.replaceChildren.apply(body, rows.slice(-400).reverse().map(function (r) {
      return T.el("tr", {}, T.el("th", {scope: "row"}, r.period), T.el("td", {class: "num"}, fmt(r.people)), T.el("td", {class: "num"}, fmt(r.boats)),
                  T.el("td", {class: "num"}, r.boats ? (r.people / r.boats).toFixed(1) : ""));
    }));
  }

  $("series-form").addEventListener("submit", series);
  $("series-by").addEventListener("change", series);
  T.api("/charts/situation").then(function (d) {
    data = d;
    if (!d.first) { $("situation-status").textContent = "No series imported yet: run `tessera situation import` with the Home Office file."; return; }
    $("situation-source").textContent = "Home Office series of people detected crossing the Channel in small boats, " + d.first + " to " + d.last + ".";
    press();
    series();
    quarters();
    $("situation-status").textContent = "Figures to " + d.last + ".";
  }).catch(function (err) { $("situation-status").textContent = "Could not load the figures: " + err.message; });
})();
