/* The link chart: sigma.js over a graphology graph, expand/collapse, supernode pages, filters, shortest path,
   ForceAtlas2 in a web worker, PNG and GraphML export. window.TesseraChart exposes the state for tests. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var form = $("chart-form"), container = $("chart-canvas"), status = $("chart-status");
  var COLOURS = {Person: "#1d4f7c", Organization: "#6a1b9a", Company: "#6a1b9a", LegalEntity: "#6a1b9a",
                 Vehicle: "#ef6c00", Vessel: "#00838f", BankAccount: "#2e7d32", Phone: "#ad1457",
                 UserAccount: "#5d4037"};
  var SUMMARY = "#9e9e9e", PATH = "#d81b60", SELECTED = "#ffbf47";

  var graph = new graphology.Graph({type: "undirected", multi: false, allowSelfLoops: false});
  var renderer = new Sigma(graph, container, {
    renderEdgeLabels: false, labelRenderedSizeThreshold: 6, defaultEdgeColor: "#b0b8c0",
    zIndex: true,
    nodeReducer: function (node, data) {
      var res = Object.assign({}, data);
      if (graph.order > 500 && !data.centre) res.size = Math.max(1.5, (data.size || 3) / 2.5);  // dense charts: small dots
      if (state.selected.indexOf(node) >= 0) { res.color = SELECTED; res.highlighted = true; res.zIndex = 2; }
      else if (state.path.nodes[node]) { res.color = PATH; res.zIndex = 1; }
      return res;
    },
    edgeReducer: function (edge, data) {
      var res = Object.assign({}, data);
      if (state.path.edges[edge]) { res.color = PATH; res.size = Math.max(3, data.size || 1); res.zIndex = 1; }
      return res;
    }
  });

  var state = {
    query: null,          // the filters the chart was drawn with
    selected: [],         // up to two node ids
    path: {nodes: {}, edges: {}},
    pages: {},            // supernode id -> {page, pages, total}
    expanded: {},         // node id -> true
    started: 0, firstDrawMs: null, layoutRun: 0, layoutIterations: 0, layoutRunning: false, layoutUpdates: 0,
    requests: 0
  };

  /* ---------- layout in a web worker ---------- */
  var worker = new Worker("/static/chart-layout.worker.js");
  var order = [];
  var pending = null;  // the latest positions from the worker, applied once per animation frame
  worker.onmessage = function (event) {
    var msg = event.data;
    if (msg.cmd !== "tick" || msg.run !== state.layoutRun) return;
    if (!pending) requestAnimationFrame(applyPositions);
    pending = msg;
  };

  function applyPositions() {
    var msg = pending;
    pending = null;
    if (!msg || msg.run !== state.layoutRun) return;
    var index = {};
    for (var i = 0; i < order.length; i++) index[order[i]] = i;
    graph.updateEachNodeAttributes(function (node, attr) {
      var j = index[node];
      if (j !== undefined) { attr.x = msg.x[j]; attr.y = msg.y[j]; }
      return attr;
    }, {attributes: ["x", "y"]});
    state.layoutIterations = msg.iterations;
    state.layoutUpdates += 1;
    if (msg.done) setLayoutRunning(false);
  }

  function setLayoutRunning(running) {
    state.layoutRunning = running;
    renderer.setSetting("renderLabels", !(running && graph.order > 500));  // labels wait for a big layout to end
    $("chart-layout").textContent = running ? "Stop layout" : "Run layout";
    container.setAttribute("data-layout", running ? "running" : "stopped");
  }

  function startLayout(iterations) {
    order = graph.nodes();
    if (!order.length) return;
    var index = {};
    var x = new Float32Array(order.length), y = new Float32Array(order.length), size = new Float32Array(order.length);
    order.forEach(function (id, i) {
      var a = graph.getNodeAttributes(id);
      index[id] = i; x[i] = a.x; y[i] = a.y; size[i] = a.size || 1;
    });
    var edges = new Uint32Array(graph.size * 2), weights = new Float32Array(graph.size);
    var k = 0;
    graph.forEachEdge(function (edge, attr, s, t) {
      edges[2 * k] = index[s]; edges[2 * k + 1] = index[t]; weights[k] = Math.min(5, attr.strength || 1); k++;
    });
    state.layoutRun += 1;
    setLayoutRunning(true);
    worker.postMessage({cmd: "start", run: state.layoutRun, ids: order, x: x, y: y, size: size, edges: edges,
                        weights: weights, iterations: iterations || Math.min(600, 150 + order.length / 4)},
                       [x.buffer, y.buffer, size.buffer, edges.buffer, weights.buffer]);
  }

  function stopLayout() {
    worker.postMessage({cmd: "stop"});
    state.layoutRun += 1;
    setLayoutRunning(false);
  }

  renderer.on("afterRender", function () {
    if (state.firstDrawMs === null && state.started && graph.order > 0) {
      state.firstDrawMs = Math.round(performance.now() - state.started);
      container.setAttribute("data-first-draw-ms", String(state.firstDrawMs));
    }
  });

  /* ---------- data ---------- */
  function filters() {
    var types = Array.prototype.map.call(form.querySelectorAll("input[name=types]:checked"), function (i) { return i.value; });
    var all = form.querySelectorAll("input[name=types]").length;
    return {
      entity: $("chart-entity").value.trim(), hops: $("chart-hops").value,
      supernode: $("chart-supernode").value || "50",
      start: $("chart-start").value, end: $("chart-end").value,
      types: types.length === all ? [] : types
    };
  }

  function qs(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v === undefined || v === null || v === "") return;
      (Array.isArray(v) ? v : [v]).forEach(function (x) { parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(x)); });
    });
    return parts.join("&");
  }

  function call(path, params) {
    state.requests += 1;
    return T.api("/charts/graph/" + path + "?" + qs(params)).then(function (data) {
      if (data.marking) T.marking.raise(data.marking);
      return data;
    }).finally(function () { state.requests -= 1; });
  }

  function say(text) { status.textContent = text; }

  function place(id, near) {
    if (near && graph.hasNode(near)) {
      var a = graph.getNodeAttributes(near), r = 1 + Math.random();
      var angle = Math.random() * Math.PI * 2;
      return {x: a.x + r * Math.cos(angle), y: a.y + r * Math.sin(angle)};
    }
    return {x: Math.random() * 10, y: Math.random() * 10};
  }

  function addNode(n, near, addedBy) {
    var summary = !!n.summary;
    var total = summary ? Object.keys(n.summary).reduce(function (s, k) { return s + n.summary[k]; }, 0) : n.degree;
    var label = n.label + (summary ? " (" + (n.degree || total) + " links, summarised)" : "");
    var attrs = {label: label, name: n.label, schema: n.schema || "", degree: n.degree || 0, summary: summary,
                 size: summary ? 9 : Math.min(12, 3 + Math.sqrt(n.degree || 1)),
                 color: summary ? SUMMARY : (COLOURS[n.schema] || "#455a64")};
    if (graph.hasNode(n.id)) {
      var old = graph.getNodeAttributes(n.id);
      if (old.summary && !summary) attrs.summary = true;  // stays summarised until its pages are read
      delete attrs.size;
      graph.mergeNodeAttributes(n.id, {name: attrs.name, schema: attrs.schema, degree: attrs.degree});
      return false;
    }
    var p = place(n.id, near);
    attrs.x = p.x; attrs.y = p.y; attrs.addedBy = addedBy || null;
    graph.addNode(n.id, attrs);
    return true;
  }

  function addEdge(e) {
    if (e.a === e.b || !graph.hasNode(e.a) || !graph.hasNode(e.b)) return;
    var key = e.a < e.b ? e.a + "|" + e.b : e.b + "|" + e.a;
    var attrs = {types: (e.types || []).join(","), strength: e.strength || 1,
                 size: Math.min(4, 0.5 + (e.strength || 1)), label: (e.types || []).join(", ")};
    if (graph.hasEdge(key)) graph.mergeEdgeAttributes(key, attrs);
    else graph.addEdgeWithKey(key, e.a < e.b ? e.a : e.b, e.a < e.b ? e.b : e.a, attrs);
  }

  function merge(data, near, addedBy) {
    var added = 0;
    data.nodes.forEach(function (n) { if (addNode(n, near, addedBy)) added++; });
    data.edges.forEach(addEdge);
    return added;
  }

  function draw(event) {
    if (event) event.preventDefault();
    var f = filters();
    if (!f.entity) { say("Give an entity id."); return Promise.resolve(); }
    stopLayout();
    graph.clear();
    state.selected = []; state.path = {nodes: {}, edges: {}}; state.pages = {}; state.expanded = {};
    state.query = f; state.firstDrawMs = null; state.started = performance.now();
    container.removeAttribute("data-first-draw-ms");
    T.marking.reset();
    say("Loading…");
    return call("neighbourhood", {entity: f.entity, hops: f.hops, supernode: f.supernode, types: f.types,
                                  start: f.start, end: f.end}).then(function (data) {
      merge(data, null, null);
      if (graph.hasNode(f.entity)) graph.mergeNodeAttributes(f.entity, {x: 5, y: 5, size: 14, centre: true});
      state.expanded[f.entity] = true;
      afterChange(data.nodes.length + " entities and " + data.edges.length + " links around " + labelOf(f.entity));
      history.replaceState(null, "", "/chart?" + qs(f));  // a link that draws this chart again
    }).catch(function (err) { say("Could not draw the chart: " + err.message); });
  }

  function labelOf(id) { return graph.hasNode(id) ? graph.getNodeAttribute(id, "name") || id : id; }

  function afterChange(message) {
    if (message) { say(message); T.announce(message); }
    renderList();
    startLayout();
  }

  /* ---------- expand, pages, collapse ---------- */
  function expand(id) {
    if (!graph.hasNode(id) || !state.query) return Promise.resolve();
    var f = state.query;
    var node = graph.getNodeAttributes(id);
    if (node.summary || node.degree > Number(f.supernode)) return nextPage(id);
    say("Expanding " + labelOf(id) + "…");
    return call("neighbourhood", {entity: id, hops: 1, supernode: f.supernode, types: f.types, start: f.start,
                                  end: f.end}).then(function (data) {
      var added = merge(data, id, id);
      state.expanded[id] = true;
      graph.mergeNodeAttributes(id, {expanded: true});
      afterChange("Expanded " + labelOf(id) + ": " + added + " new entities");
    }).catch(function (err) { say("Could not expand: " + err.message); });
  }

  function nextPage(id) {
    var f = state.query;
    var p = state.pages[id] || {page: -1, pages: 1};
    if (p.page + 1 >= p.pages) { say("All neighbours of " + labelOf(id) + " are on the chart."); return Promise.resolve(); }
    return call("expand", {entity: id, page: p.page + 1, page_size: f.supernode, types: f.types, start: f.start,
                           end: f.end}).then(function (data) {
      var added = merge(data, id, id);
      state.pages[id] = {page: data.page, pages: data.pages, total: data.total};
      state.expanded[id] = true;
      graph.mergeNodeAttributes(id, {expanded: true,
        label: graph.getNodeAttribute(id, "name") + " (page " + (data.page + 1) + " of " + data.pages + ", " + data.total + " links)"});
      afterChange("Page " + (data.page + 1) + " of " + data.pages + " of " + labelOf(id) + "'s " + data.total +
                  " neighbours: " + added + " new entities");
    }).catch(function (err) { say("Could not read the page: " + err.message); });
  }

  function collapse(id) {
    if (!graph.hasNode(id)) return;
    var removed = 0;
    (function drop(parent) {
      graph.nodes().forEach(function (n) {
        if (!graph.hasNode(n) || graph.getNodeAttribute(n, "addedBy") !== parent) return;
        drop(n);
        var others = graph.neighbors(n).filter(function (m) { return m !== parent && graph.getNodeAttribute(m, "addedBy") !== n; });
        if (others.length === 0 && state.selected.indexOf(n) < 0) { graph.dropNode(n); removed++; }
      });
      delete state.expanded[parent];
      delete state.pages[parent];
      if (graph.hasNode(parent)) graph.mergeNodeAttributes(parent, {expanded: false});
    })(id);
    afterChange("Collapsed " + labelOf(id) + ": " + removed + " entities removed");
  }

  /* ---------- selection and path ---------- */
  function toggleSelect(id) {
    var i = state.selected.indexOf(id);
    if (i >= 0) state.selected.splice(i, 1);
    else { state.selected.push(id); if (state.selected.length > 2) state.selected.shift(); }
    $("chart-path").disabled = state.selected.length !== 2;
    $("chart-selected").textContent = state.selected.length ? state.selected.map(labelOf).join(" and ") : "Nothing selected.";
    renderer.refresh();
    renderList();
  }

  function findPath() {
    if (state.selected.length !== 2) return Promise.resolve();
    var f = state.query, a = state.selected[0], b = state.selected[1];
    say("Finding the path…");
    return call("path", {a: a, b: b, types: f.types, start: f.start, end: f.end}).then(function (data) {
      var ids = data.nodes.map(function (n) { return n.id; });
      var added = 0;
      data.nodes.forEach(function (n, i) { if (addNode(n, ids[i - 1] || a, null)) added++; });
      state.path = {nodes: {}, edges: {}};
      ids.forEach(function (id, i) {
        state.path.nodes[id] = true;
        if (i === 0) return;
        var p = ids[i - 1];
        var key = p < id ? p + "|" + id : id + "|" + p;
        if (!graph.hasEdge(key)) addEdge({a: p, b: id, types: ["path"], strength: 1});
        state.path.edges[key] = true;
      });
      container.setAttribute("data-path", ids.join(" "));
      var text = "Path of " + (ids.length - 1) + " links: " + ids.map(labelOf).join(" → ");
      afterChange(text);
      if (!added) renderer.refresh();
    }).catch(function (err) {
      state.path = {nodes: {}, edges: {}};
      container.removeAttribute("data-path");
      say(err.status === 404 ? "No path between them through links you may see." : "Could not find a path: " + err.message);
      renderer.refresh();
    });
  }

  /* ---------- the keyboard-usable node list ---------- */
  var listTimer = null;
  function renderList() {
    if (listTimer) return;
    listTimer = setTimeout(function () {
      listTimer = null;
      var list = $("chart-nodes");
      var nodes = graph.nodes();
      $("chart-count").textContent = String(nodes.length);
      var active = document.activeElement, keep = null;  // a keyboard user keeps their place across re-renders
      if (active && list.contains(active) && active.dataset.action) keep = [active.closest("li").dataset.node, active.dataset.action];
      list.replaceChildren();
      nodes.slice(0, 400).forEach(function (id) {
        var a = graph.getNodeAttributes(id);
        var selected = state.selected.indexOf(id) >= 0;
        var expanded = !!state.expanded[id];
        list.appendChild(T.el("li", {role: "option", "aria-selected": selected ? "true" : "false", "data-node": id},
          T.el("span", {class: "name", title: id}, a.name || id, a.summary ? " ⋯" : ""),
          T.el("button", {type: "button", class: "secondary", "data-action": "toggle", "aria-label": (expanded && !a.summary ? "Collapse " : "Expand ") + (a.name || id),
                          onclick: function () { (expanded && !a.summary) ? collapse(id) : expand(id); }},
               expanded && !a.summary ? "−" : "+"),
          T.el("button", {type: "button", class: "secondary", "data-action": "select", "aria-pressed": selected ? "true" : "false",
                          "aria-label": "Select " + (a.name || id), onclick: function () { toggleSelect(id); }}, "✓"),
          T.el("a", {href: "/entities/" + encodeURIComponent(id), "aria-label": "Profile of " + (a.name || id)}, "↗")));
      });
      if (nodes.length > 400) list.appendChild(T.el("li", {}, (nodes.length - 400) + " more on the chart"));
      if (keep) {
        var again = Array.prototype.find.call(list.querySelectorAll("li"), function (li) { return li.dataset.node === keep[0]; });
        var button = again && again.querySelector('[data-action="' + keep[1] + '"]');
        if (button) button.focus();
      }
      var pager = $("chart-pager");
      pager.replaceChildren();
      Object.keys(state.pages).forEach(function (id) {
        var p = state.pages[id];
        if (p.page + 1 < p.pages) {
          pager.appendChild(T.el("button", {type: "button", class: "secondary", onclick: function () { nextPage(id); }},
            "Next " + state.query.supernode + " of " + labelOf(id) + "'s " + p.total + " links (page " + (p.page + 2) + " of " + p.pages + ")"));
        }
      });
    }, 50);
  }

  /* ---------- export ---------- */
  function download(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = T.el("a", {href: url, download: name});
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function xml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function graphml() {
    var out = ['<?xml version="1.0" encoding="UTF-8"?>',
      '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
      '<!-- ' + xml(T.marking.text()) + ' -->',
      '<key id="label" for="node" attr.name="label" attr.type="string"/>',
      '<key id="schema" for="node" attr.name="schema" attr.type="string"/>',
      '<key id="x" for="node" attr.name="x" attr.type="double"/>',
      '<key id="y" for="node" attr.name="y" attr.type="double"/>',
      '<key id="types" for="edge" attr.name="link_types" attr.type="string"/>',
      '<key id="weight" for="edge" attr.name="weight" attr.type="double"/>',
      '<key id="marking" for="graph" attr.name="marking" attr.type="string"/>',
      '<graph id="chart" edgedefault="undirected">',
      '<data key="marking">' + xml(T.marking.text()) + '</data>'];
    graph.forEachNode(function (id, a) {
      out.push('<node id="' + xml(id) + '"><data key="label">' + xml(a.name || id) + '</data><data key="schema">' +
               xml(a.schema || "") + '</data><data key="x">' + a.x + '</data><data key="y">' + a.y + '</data></node>');
    });
    graph.forEachEdge(function (e, a, s, t) {
      out.push('<edge source="' + xml(s) + '" target="' + xml(t) + '"><data key="types">' + xml(a.types || "") +
               '</data><data key="weight">' + (a.strength || 1) + '</data></edge>');
    });
    out.push("</graph>", "</graphml>");
    return out.join("\n");
  }

  /* The chart redrawn on a 2D canvas with the marking at top and bottom (WebGL layers cannot be read back). */
  function png() {
    var W = 1600, H = 1200, M = 60;
    var canvas = document.createElement("canvas");
    canvas.width = W; canvas.height = H;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    var xs = [], ys = [];
    graph.forEachNode(function (id, a) { xs.push(a.x); ys.push(a.y); });
    var minX = Math.min.apply(null, xs), maxX = Math.max.apply(null, xs);
    var minY = Math.min.apply(null, ys), maxY = Math.max.apply(null, ys);
    var scale = Math.min((W - 2 * M) / ((maxX - minX) || 1), (H - 2 * M - 40) / ((maxY - minY) || 1));
    function px(a) { return [M + (a.x - minX) * scale, H - M - 20 - (a.y - minY) * scale]; }
    graph.forEachEdge(function (e, a, s, t) {
      var p = px(graph.getNodeAttributes(s)), q = px(graph.getNodeAttributes(t));
      ctx.strokeStyle = state.path.edges[e] ? PATH : "#b0b8c0";
      ctx.lineWidth = state.path.edges[e] ? 3 : 1;
      ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
    });
    ctx.font = "12px sans-serif";
    graph.forEachNode(function (id, a) {
      var p = px(a);
      ctx.fillStyle = state.path.nodes[id] ? PATH : a.color;
      ctx.beginPath(); ctx.arc(p[0], p[1], Math.max(3, a.size || 3), 0, 2 * Math.PI); ctx.fill();
      if (graph.order <= 300 || a.size > 8) { ctx.fillStyle = "#1b1f24"; ctx.fillText(a.name || id, p[0] + 6, p[1] + 4); }
    });
    var mark = T.marking.text();
    ctx.fillStyle = "#c62828"; ctx.font = "bold 18px sans-serif"; ctx.textAlign = "center";
    ctx.fillText(mark, W / 2, 24); ctx.fillText(mark, W / 2, H - 10);
    return canvas;
  }

  /* ---------- wiring ---------- */
  form.addEventListener("submit", draw);
  renderer.on("doubleClickNode", function (e) {
    if (e.event && e.event.preventSigmaDefault) e.event.preventSigmaDefault();
    else if (e.preventSigmaDefault) e.preventSigmaDefault();
    var id = e.node;
    if (state.expanded[id] && !graph.getNodeAttribute(id, "summary")) collapse(id);
    else expand(id);
  });
  renderer.on("clickNode", function (e) { toggleSelect(e.node); });
  $("chart-path").addEventListener("click", findPath);
  $("chart-layout").addEventListener("click", function () { state.layoutRunning ? stopLayout() : startLayout(); });
  $("chart-clear").addEventListener("click", function () {
    stopLayout(); graph.clear(); state.selected = []; state.path = {nodes: {}, edges: {}}; state.pages = {};
    state.expanded = {}; renderList(); say("Chart cleared.");
  });
  $("chart-graphml").addEventListener("click", function () {
    download(new Blob([graphml()], {type: "application/graphml+xml"}), "tessera-chart.graphml");
  });
  $("chart-png").addEventListener("click", function () {
    png().toBlob(function (blob) { download(blob, "tessera-chart.png"); }, "image/png");
  });
  container.addEventListener("keydown", function (event) {
    var camera = renderer.getCamera(), s = camera.getState(), d = 0.1 * s.ratio;
    var moves = {ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, d], ArrowDown: [0, -d]};
    if (moves[event.key]) { camera.setState({x: s.x + moves[event.key][0], y: s.y + moves[event.key][1]}); event.preventDefault(); }
    else if (event.key === "+" || event.key === "=") { camera.animatedZoom({duration: 200}); event.preventDefault(); }
    else if (event.key === "-") { camera.animatedUnzoom({duration: 200}); event.preventDefault(); }
    else if (event.key === "0") { camera.animatedReset({duration: 200}); event.preventDefault(); }
  });

  window.TesseraChart = {graph: graph, renderer: renderer, state: state, draw: draw, expand: expand,
                         collapse: collapse, nextPage: nextPage, select: toggleSelect, findPath: findPath,
                         graphml: graphml, png: png, startLayout: startLayout, stopLayout: stopLayout};
  if ($("chart-entity").value) draw();
})();
