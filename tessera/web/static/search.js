/* Search page: GET /api/v1/search, results linked to their profiles, pointers shown as hit notices (never content). */
(function () {
  "use strict";
  var T = window.Tessera, el = T.el;
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var status = document.getElementById("search-status");
  var clearance = null;

  function resultItem(r) {
    var props = Object.keys(r.properties || {}).filter(function (p) { return p !== "name"; }).slice(0, 6);
    if (r.marking) T.marking.raise(r.marking);
    return el("li", {"data-entity": r.id},
      el("h3", null, el("a", {href: "/entities/" + encodeURIComponent(r.id)}, r.caption || r.id)),
      r.names && r.names.length > 1 ? el("p", null, "Also known as: " + r.names.filter(function (n) { return n !== r.caption; }).join("; ")) : null,
      el("p", null, r.schemas.map(function (s) { return el("span", {class: "tag"}, s); }),
         " held by " + r.agencies.join(", "),
         " ", el("span", {class: "markings"},
           r.marking ? el("span", {class: "tag mark-" + r.marking.classification}, T.markingText(r.marking)) : null)),
      props.length ? el("dl", {class: "props"}, props.map(function (p) {
        return [el("dt", null, p), el("dd", null, r.properties[p].map(function (v) { return v.value + " (" + v.agency + ")"; }).join("; "))];
      }).reduce(function (a, b) { return a.concat(b); }, [])) : null);
  }

  function pointerItem(p) {
    return el("li", {class: "pointer", "data-pointer": p.agency},
      el("p", null, el("strong", null, "Agency " + p.agency + " holds this subject.")),
      el("p", null, "Contact: " + (p.contact || "the agency's duty desk")),
      el("p", null, "Reference: ", el("code", null, p.reference)));
  }

  /* The banner rises to the highest marking of what the results show: per result when the API gives it, else
     from /web/markings; if neither answers, to the viewer's clearance (what they could be shown at most). */
  function raiseBanner(shown) {
    var unmarked = shown.filter(function (r) { return !r.marking; }).map(function (r) { return r.id; });
    if (!unmarked.length) return;
    T.api("/web/markings?" + unmarked.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&"))
      .then(function (found) {
        unmarked.forEach(function (id) {
          var m = found[id];
          if (m) {
            T.marking.raise(m);
            var item = document.querySelector('#results li[data-entity="' + CSS.escape(id) + '"] .markings');
            if (item) item.replaceChildren(T.el("span", {class: "tag mark-" + m.classification}, T.markingText(m)));
          } else if (clearance) T.marking.raise(clearance);
        });
      })
      .catch(function () { if (clearance) T.marking.raise(clearance); });
  }

  var latest = 0;  // only the newest search may draw: an answer to an earlier one arriving late is dropped

  function run(q) {
    var results = document.getElementById("results"), pointers = document.getElementById("pointers");
    var mine = ++latest;
    results.replaceChildren();
    pointers.replaceChildren();
    T.marking.reset();
    status.textContent = "Searching…";
    return T.api("/search?q=" + encodeURIComponent(q) + "&limit=50").then(function (data) {
      if (mine !== latest) return;
      var shown = data.results || [];
      shown.forEach(function (r) { results.appendChild(resultItem(r)); });
      raiseBanner(shown);
      (data.pointers || []).forEach(function (p) { pointers.appendChild(pointerItem(p)); });
      document.getElementById("results-section").hidden = shown.length === 0;
      document.getElementById("pointers-section").hidden = !(data.pointers || []).length;
      var message = data.total + (data.total === 1 ? " result" : " results") +
        ((data.pointers || []).length ? ", " + data.pointers.length + " held by other agencies" : "") + " for “" + q + "”.";
      status.textContent = message;
    }).catch(function (err) {
      if (mine === latest) status.textContent = "Search failed: " + err.message;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = input.value.trim();
    if (!q) { input.focus(); return; }
    history.replaceState(null, "", "/search?q=" + encodeURIComponent(q));
    run(q);
  });
  T.api("/me").then(function (me) { clearance = me.clearance; }).catch(function () {}).then(function () {
    if (input.value.trim()) run(input.value.trim());
  });
})();
