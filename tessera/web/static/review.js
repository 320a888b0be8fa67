/* Review: the record pairs the resolver was least sure of (GET /api/v1/review), closest to the threshold first,
   each judged in place as the same or not the same (POST /api/v1/judgements) with a reason; "More" pages on. */
(function () {
  "use strict";
  var T = window.Tessera, el = T.el;
  var table = document.getElementById("review-pairs");
  var tbody = table.querySelector("tbody");
  var status = document.getElementById("review-status");
  var more = document.getElementById("review-more");
  var pageSize = parseInt(table.getAttribute("data-page-size"), 10) || 20;
  var listed = {};   // "a|b" of every pair put on the page (a page that shifted under us may repeat one)
  var loaded = 0;    // rows put on the page
  var judged = 0;    // of them, judged here: gone from the server's queue, so the next page starts that much sooner
  var serial = 0;    // for the ids of each row's controls

  function nameOf(name, id) { return name || "record " + id; }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function margin(value) {
    var v = Number(value);
    return (v > 0 ? "+" : "") + v.toFixed(2);
  }

  function recordCell(id, name, canonical) {
    return el("td", null,
      el("a", {href: "/entities/" + encodeURIComponent(canonical || id), dir: "auto"}, nameOf(name, id)),
      el("div", {class: "muted"}, "record ", el("code", null, id)));
  }

  function left() {
    var open = loaded - judged;
    if (open) {
      return plural(open, "pair", "pairs") + " left to review" + (more.hidden ? "." : " here; press More for the next.");
    }
    return more.hidden ? "Nothing more to review." : "Press More for the next pairs.";
  }

  function pairRow(item) {
    var n = ++serial;
    var pair = nameOf(item.name_a, item.a) + " and " + nameOf(item.name_b, item.b);
    var reason = el("input", {type: "text", id: "review-reason-" + n, name: "reason", maxlength: "2000", required: true,
                              autocomplete: "off", placeholder: "Reason", "aria-label": "Reason for judging " + pair,
                              "aria-describedby": "review-error-" + n});
    var error = el("p", {class: "error", id: "review-error-" + n, role: "alert", hidden: true});
    var same = el("button", {type: "button", "data-kind": "same"}, "Same");
    var notSame = el("button", {type: "button", class: "secondary", "data-kind": "not-same"}, "Not the same");
    var row = el("tr", {"data-a": item.a, "data-b": item.b},
      recordCell(item.a, item.name_a, item.canonical_a),
      recordCell(item.b, item.name_b, item.canonical_b),
      el("td", {class: "margin", "data-margin": item.margin},
        el("span", {class: "margin-value"}, margin(item.margin)),
        el("div", {class: "muted"},
          "weight " + Number(item.weight).toFixed(2) + " against " + Number(item.threshold).toFixed(2))),
      el("td", null, el("span", {class: "tag", "data-joined": item.joined ? "true" : "false"},
        item.joined ? "joined" : "apart")),
      el("td", null,
        el("div", {class: "review-judge", role: "group", "aria-label": "Judge " + pair}, reason, same, notSame),
        error));

    function judge(kind) {
      var text = reason.value.trim();
      error.hidden = true;
      error.textContent = "";
      reason.removeAttribute("aria-invalid");
      if (!text) {
        error.textContent = "Give a reason for the judgement.";
        error.hidden = false;
        reason.setAttribute("aria-invalid", "true");
        reason.focus();
        return;
      }
      // a disabled button loses focus: remember it, to put keyboard users back where they were
      var pressed = row.contains(document.activeElement) ? document.activeElement : null;
      same.disabled = notSame.disabled = true;
      T.api("/judgements", {method: "POST", json: {kind: kind, a: item.a, b: item.b, reason: text}}).then(function (j) {
        var words = kind === "same" ? "same" : "not the same";
        var note = el("td", {colspan: "5", class: "judged", tabindex: "-1", "data-judgement": j.id},
          el("strong", null, "Judged " + words + " — #" + j.id), " ", el("span", {class: "muted"}, pair));
        row.replaceChildren(note);
        row.setAttribute("data-judged", kind);
        judged++;
        if (pressed) note.focus();  // where the pressed button was
        status.textContent = "Judged " + pair + " " + words + " (judgement #" + j.id + "). " + left();
      }).catch(function (err) {
        error.textContent = "Not recorded: " + err.message + (err.status === 409 ?
          ". It may have been judged since this page loaded: reload for the current queue." : "");
        error.hidden = false;
        same.disabled = notSame.disabled = false;
        if (pressed && document.activeElement === document.body) pressed.focus();
      });
    }

    same.addEventListener("click", function () { judge("same"); });
    notSame.addEventListener("click", function () { judge("not-same"); });
    return row;
  }

  /* The banner rises to the highest marking of the records named on the page; if that cannot be learnt, to the
     viewer's clearance (the most they could be shown). */
  function raiseBanner(items) {
    var ids = [];
    items.forEach(function (i) { [i.a, i.b].forEach(function (id) { if (ids.indexOf(id) < 0) ids.push(id); }); });
    if (!ids.length) return;
    var toClearance = function () {
      T.api("/me").then(function (me) { if (me && me.clearance) T.marking.raise(me.clearance); }).catch(function () {});
    };
    T.api("/web/markings?" + ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&"))
      .then(function (found) {
        var missing = false;
        ids.forEach(function (id) { if (found[id]) T.marking.raise(found[id]); else missing = true; });
        if (missing) toClearance();
      }).catch(toClearance);
  }

  function load() {
    var first = loaded === 0 && judged === 0;
    more.disabled = true;
    return T.api("/review?limit=" + pageSize + "&offset=" + (loaded - judged)).then(function (data) {
      var page = data.items || [];
      var fresh = page.filter(function (i) {
        var key = i.a + "|" + i.b;
        if (listed[key]) return false;
        listed[key] = true;
        return true;
      });
      var rows = fresh.map(pairRow);
      rows.forEach(function (row) { tbody.appendChild(row); });
      loaded += rows.length;
      raiseBanner(fresh);
      more.hidden = page.length < pageSize;
      more.disabled = false;
      table.hidden = loaded === 0;
      if (!loaded) {
        status.textContent = "Nothing to review.";
      } else if (first) {
        status.textContent = plural(loaded, "pair", "pairs") + " to review, closest to the threshold first" +
          (more.hidden ? "." : "; press More for the next.");
      } else {
        status.textContent = (rows.length ? plural(rows.length, "more pair", "more pairs") + " listed. " : "No more pairs. ") +
          left();
      }
      if (!first && rows.length) rows[0].querySelector("a").focus();  // after More: on the first new pair
      else if (!first && more.hidden) status.focus();
    }).catch(function (err) {
      status.textContent = "Could not load the review queue: " + err.message;
      more.disabled = false;
    });
  }

  more.addEventListener("click", load);
  load();
})();
