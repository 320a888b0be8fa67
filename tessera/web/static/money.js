/* The money-flow view: payments as a layered flow chart (a Sankey drawn in SVG, widths by amount) and a table. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1d4f7c", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457"];

  function svg(tag, attrs, text) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function money(amount, currency) {
    return Number(amount).toLocaleString("en-GB", {maximumFractionDigits: 2}) + (currency ? " " + currency : "");
  }

  /* Layers: each entity sits one column right of the furthest payer into it (cycles broken by visit order). */
  function layers(flows) {
    var depth = {}, into = {};
    flows.forEach(function (f) { (into[f.target] = into[f.target] || []).push(f.source); depth[f.source] = 0; depth[f.target] = 0; });
    var ids = Object.keys(depth);
    for (var round = 0; round < ids.length; round++) {
      var changed = false;
      flows.forEach(function (f) {
        if (depth[f.target] < depth[f.source] + 1 && depth[f.source] + 1 < ids.length) { depth[f.target] = depth[f.source] + 1; changed = true; }
      });
      if (!changed) break;
    }
    return depth;
  }

  function draw(data) {
    var chart = $("money-flow");
    Array.prototype.slice.call(chart.childNodes).forEach(function (n) { if (n.nodeName !== "title") chart.removeChild(n); });
    var flows = data.flows;
    if (!flows.length) { chart.setAttribute("viewBox", "0 0 1000 60"); chart.appendChild(svg("text", {x: 20, y: 35}, "No payments you may see.")); return; }
    var depth = layers(flows);
    var columns = {};
    Object.keys(depth).forEach(function (id) { (columns[depth[id]] = columns[depth[id]] || []).push(id); });
    var nCols = Object.keys(columns).length;
    var throughput = {};
    flows.forEach(function (f) {
      throughput[f.source] = (throughput[f.source] || 0) + f.amount;
      throughput[f.target] = (throughput[f.target] || 0) + f.amount;
    });
    var W = 1000, colW = 14, pad = 18;
    var maxCol = 0;
    Object.keys(columns).forEach(function (c) {
      var s = columns[c].reduce(function (a, id) { return a + throughput[id]; }, 0);
      maxCol = Math.max(maxCol, s);
    });
    var tallest = Math.max.apply(null, Object.keys(columns).map(function (c) { return columns[c].length; }));
    var H = Math.max(240, tallest * 46 + 40);
    var scale = (H - 40 - tallest * pad) / (maxCol || 1);
    var pos = {};
    Object.keys(columns).forEach(function (c) {
      var y = 20;
      columns[c].sort(function (a, b) { return throughput[b] - throughput[a]; }).forEach(function (id) {
        var h = Math.max(4, throughput[id] * scale / 2);
        var x = nCols === 1 ? 40 : 40 + Number(c) * (W - 260) / (nCols - 1);
        pos[id] = {x: x, y: y, h: h, out: 0, in: 0};
        y += h + pad;
      });
      H = Math.max(H, y + 20);
    });
    chart.setAttribute("viewBox", "0 0 " + W + " " + H);
    var currencies = {};
    flows.forEach(function (f) { if (!(f.currency in currencies)) currencies[f.currency] = PALETTE[Object.keys(currencies).length % PALETTE.length]; });
    flows.forEach(function (f, i) {
      var a = pos[f.source], b = pos[f.target], w = Math.max(1.5, f.amount * scale / 2);
      var y0 = a.y + a.out + w / 2, y1 = b.y + b.in + w / 2;
      a.out += w; b.in += w;
      var x0 = a.x + colW, x1 = b.x, mx = (x0 + x1) / 2;
      if (x1 <= x0) { x1 = b.x + colW; mx = Math.max(x0, x1) + 80; }
      var path = svg("path", {class: "flow", d: "M" + x0 + "," + y0 + " C" + mx + "," + y0 + " " + mx + "," + y1 + " " + x1 + "," + y1,
                              stroke: currencies[f.currency], "stroke-width": w, tabindex: "0",
                              "aria-label": data.entities[f.source].label + " paid " + data.entities[f.target].label + " " + money(f.amount, f.currency)});
      path.appendChild(svg("title", {}, data.entities[f.source].label + " → " + data.entities[f.target].label + ": " + money(f.amount, f.currency) + " in " + f.count + " payment(s)"));
      chart.appendChild(path);
    });
    Object.keys(pos).forEach(function (id) {
      var p = pos[id];
      var g = svg("g", {class: "flow-node", "data-entity": id});
      g.appendChild(svg("rect", {class: "node", x: p.x, y: p.y, width: colW, height: Math.max(p.h, p.in, p.out)}));
      g.appendChild(svg("text", {x: p.x + colW + 4, y: p.y + 11}, data.entities[id].label));
      chart.appendChild(g);
    });
  }

  function load(event) {
    if (event) event.preventDefault();
    var entity = $("money-entity").value.trim(), network = $("money-network").value;
    if (!entity && network === "") { $("money-status").textContent = "Give an entity id or a network number."; return Promise.resolve(); }
    var params = entity ? "entity=" + encodeURIComponent(entity) : "network=" + encodeURIComponent(network);
    params += "&direction=" + $("money-direction").value + "&hops=" + $("money-hops").value;
    $("money-status").textContent = "Loading…";
    return T.api("/charts/money?" + params).then(function (data) {
      T.marking.reset();
      T.marking.raise(data.marking);
      draw(data);
      $("money-totals").textContent = Object.keys(data.totals).map(function (c) { return money(data.totals[c], c); }).join(" · ") || "none";
      var body = $("money-table").tBodies[0];
      body.replaceChildren.apply(body, data.flows.map(function (f) {
        return T.el("tr", {},
          T.el("td", {}, String(f.hop || "")),
          T.el("td", {}, T.el("a", {href: "/entities/" + encodeURIComponent(f.source)}, data.entities[f.source].label)),
          T.el("td", {}, T.el("a", {href: "/entities/" + encodeURIComponent(f.target)}, data.entities[f.target].label)),
          T.el("td", {class: "num"}, money(f.amount)), T.el("td", {}, f.currency || ""), T.el("td", {class: "num"}, String(f.count)),
          T.el("td", {}, f.first || ""), T.el("td", {}, f.last || ""));
      }));
      var text = data.flows.length + " payment flows";
      $("money-status").textContent = text;
      T.announce(text);
    }).catch(function (err) { $("money-status").textContent = "Could not load flows: " + err.message; });
  }

  $("money-form").addEventListener("submit", load);
  window.TesseraMoney = {load: load};
  if ($("money-entity").value || $("money-network").value) load();
})();
