/* The link chart's layout thread: ForceAtlas2 over the chart's nodes, positions posted back in small steps.
   In:  {cmd: "start", run, ids, x, y, size, edges (Uint32Array of index pairs), weights, iterations}, {cmd: "stop"}.
   Out: {cmd: "tick", run, x, y, done, iterations} (x and y are Float32Arrays in the order of ids). */
"use strict";
self.window = self;  // the vendored bundle hangs its export on window
importScripts("/static/vendor/graphology/graphology.umd.min.js",
              "/static/vendor/graphology-layout-forceatlas2/graphology-layout-forceatlas2.min.js");

var fa2 = self.graphologyLayoutForceAtlas2.forceAtlas2;
var current = null;  // {run, graph, ids, left, done, settings}
var STEP = 10;       // iterations between two posts
var scheduled = false;

function schedule() {
  if (scheduled) return;
  scheduled = true;
  setTimeout(function () { scheduled = false; step(); }, 0);  // a "stop" or a new "start" gets in between
}

function build(msg) {
  var graph = new self.graphology.Graph({type: "undirected", multi: false, allowSelfLoops: false});
  for (var i = 0; i < msg.ids.length; i++) {
    graph.addNode(i, {x: msg.x[i], y: msg.y[i], size: msg.size ? msg.size[i] : 1});
  }
  for (var j = 0; j < msg.edges.length; j += 2) {
    var a = msg.edges[j], b = msg.edges[j + 1];
    if (a !== b && !graph.hasEdge(a, b)) graph.addEdge(a, b, {weight: msg.weights ? msg.weights[j / 2] : 1});
  }
  return graph;
}

function step() {
  var job = current;
  if (!job) return;
  var n = Math.min(STEP, job.left);
  fa2.assign(job.graph, {iterations: n, settings: job.settings, getEdgeWeight: "weight"});
  job.left -= n;
  job.done += n;
  var x = new Float32Array(job.ids.length), y = new Float32Array(job.ids.length);
  job.graph.forEachNode(function (key, attr) { x[key] = attr.x; y[key] = attr.y; });
  self.postMessage({cmd: "tick", run: job.run, x: x, y: y, done: job.left <= 0, iterations: job.done},
                   [x.buffer, y.buffer]);
  if (job.left > 0) schedule();
  else current = null;
}

self.onmessage = function (event) {
  var msg = event.data;
  if (msg.cmd === "stop") { current = null; return; }
  if (msg.cmd !== "start") return;
  var graph = build(msg);
  var settings = fa2.inferSettings(graph);
  settings.barnesHutOptimize = graph.order > 300;
  settings.scalingRatio = Math.max(10, graph.order / 10);  // more repulsion as the chart grows, so leaves fan out
  settings.adjustSizes = false;
  settings.outboundAttractionDistribution = graph.order > 300;  // hubs pushed apart, their leaves fan out
  current = {run: msg.run, graph: graph, ids: msg.ids, left: msg.iterations || 300, done: 0, settings: settings};
  schedule();
};
