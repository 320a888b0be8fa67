/* The networks page: communities of the link graph, largest first, each with its key players and links to the
   chart, map, timeline and money flow of that network. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var form = $("networks-form");

  function load(event) {
    if (event) event.preventDefault();
    var all = form.querySelectorAll("input[name=types]");
    var types = Array.prototype.filter.call(all, function (i) { return i.checked; }).map(function (i) { return i.value; });
    var params = ["top=" + $("networks-top").value, "players=" + $("networks-players").value];
    if (types.length !== all.length) types.forEach(function (t) { params.push("types=" + encodeURIComponent(t)); });
    $("networks-status").textContent = "Finding networks…";
    return T.api("/charts/networks?" + params.join("&")).then(function (data) {
      T.marking.reset();
      T.marking.raise(data.marking);
      var list = $("networks-list");
      list.replaceChildren();
      data.networks.forEach(function (n, i) {
        var rows = n.key_players.map(function (p, rank) {
          return T.el("tr", {},
            T.el("td", {class: "num"}, String(rank + 1)),
            T.el("td", {}, T.el("a", {href: "/entities/" + encodeURIComponent(p.id)}, p.label)),
            T.el("td", {class: "num"}, p.betweenness.toFixed(3)),
            T.el("td", {class: "num"}, p.pagerank.toFixed(4)),
            T.el("td", {class: "num"}, String(p.degree)),
            T.el("td", {}, T.el("a", {href: "/chart?entity=" + encodeURIComponent(p.id), "aria-label": "Link chart of " + p.label}, "chart")));
        });
        list.appendChild(T.el("section", {class: "card network", "aria-labelledby": "network-" + n.id, "data-network": String(n.id)},
          T.el("h2", {id: "network-" + n.id}, "Network " + n.id + " · " + n.size + " members"),
          T.el("p", {},
            T.el("a", {href: "/map?network=" + n.id}, "map"), " · ",
            T.el("a", {href: "/timeline?network=" + n.id}, "timeline"), " · ",
            T.el("a", {href: "/money?network=" + n.id}, "money flow")),
          T.el("table", {class: "data"},
            T.el("caption", {class: "sr-only"}, "Key players of network " + n.id),
            T.el("thead", {}, T.el("tr", {},
              T.el("th", {scope: "col", class: "num"}, "#"), T.el("th", {scope: "col"}, "Key player"),
              T.el("th", {scope: "col", class: "num"}, "Brokerage"), T.el("th", {scope: "col", class: "num"}, "PageRank"),
              T.el("th", {scope: "col", class: "num"}, "Links"), T.el("th", {scope: "col"}, ""))),
            T.el("tbody", {}, rows))));
      });
      var text = data.networks.length + " of " + data.total + " networks shown";
      $("networks-status").textContent = text;
      T.announce(text);
    }).catch(function (err) { $("networks-status").textContent = "Could not find networks: " + err.message; });
  }

  form.addEventListener("submit", load);
  load();
})();
