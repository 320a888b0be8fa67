/* The frame every page shares: API calls with the session cookie, the marking banner, DOM helpers, sign-out.
   window.Tessera = {api, marking, el, text, announce, fmtDate, markingText}. */
(function () {
  "use strict";
  var API = "/api/v1";
  var body = document.body;
  var ladder = JSON.parse(body.getAttribute("data-classifications") || '["OFFICIAL"]');

  function loginRedirect() {
    var next = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(next));
  }

  /* The purpose the analyst states in the header field: kept for the browser tab's session and sent with every
     API call (X-Tessera-Purpose, or ?purpose= when it is not plain ASCII, which a header cannot carry). */
  var PURPOSE_KEY = "tessera.purpose";
  var purposeField = document.querySelector("[data-purpose]");
  if (purposeField) {
    purposeField.value = sessionStorage.getItem(PURPOSE_KEY) || "";
    purposeField.addEventListener("input", function () { sessionStorage.setItem(PURPOSE_KEY, purposeField.value.trim()); });
  }

  function withPurpose(path, headers) {
    var purpose = sessionStorage.getItem(PURPOSE_KEY) || "";
    if (!purpose) return path;
    if (/^[\x20-\x7e]*$/.test(purpose)) { headers["X-Tessera-Purpose"] = purpose; return path; }
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "purpose=" + encodeURIComponent(purpose);
  }

  /* fetch under /api/v1 with the session cookie; JSON in and out; throws an Error with the problem's detail. */
  function api(path, options) {
    options = options || {};
    var headers = Object.assign({"Accept": "application/json", "X-Requested-With": "tessera"}, options.headers || {});
    path = withPurpose(path, headers);
    var init = {method: options.method || "GET", headers: headers, credentials: "same-origin"};
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      init.body = options.body;
    }
    if (options.signal) init.signal = options.signal;
    return fetch(path.indexOf(API) === 0 || path.indexOf("/web/") === 0 ? path : API + path, init).then(function (response) {
      if (response.status === 401 && !options.noRedirect) {
        loginRedirect();
        throw new Error("signed out");
      }
      var type = response.headers.get("content-type") || "";
      return response.text().then(function (text) {
        var data = text;
        if (type.indexOf("json") >= 0) data = text ? JSON.parse(text) : null;  // 204: no body
        if (!response.ok) {
          var error = new Error((data && (data.detail || data.title)) || ("HTTP " + response.status));
          error.status = response.status;
          error.problem = data;
          throw error;
        }
        return data;
      });
    });
  }

  /* The marking banner shows the highest classification on screen and every caveat seen with it. */
  var marking = {
    level: body.getAttribute("data-marking") || ladder[0],
    caveats: [],
    rank: function (name) {
      var i = ladder.indexOf(String(name || "").toUpperCase().replace(/ /g, "-"));
      return i < 0 ? 0 : i;
    },
    reset: function () {
      this.level = ladder[0];
      this.caveats = [];
      this.draw();
    },
    /* raise(classification, caveat) or raise({classification, caveat, release_to}) */
    raise: function (classification, caveat) {
      if (classification && typeof classification === "object") {
        caveat = classification.caveat;
        classification = classification.classification;
      }
      if (classification && this.rank(classification) > this.rank(this.level)) {
        this.level = ladder[this.rank(classification)];
      }
      if (caveat && this.caveats.indexOf(caveat) < 0) this.caveats.push(caveat);
      this.draw();
    },
    text: function () {
      return [this.level].concat(this.caveats).join(" · ");
    },
    draw: function () {
      var text = this.text();
      body.setAttribute("data-marking", this.level);
      document.querySelectorAll("[data-marking-banner]").forEach(function (node) {
        if (node.textContent !== text) node.textContent = text;
        node.setAttribute("data-level", marking.level);
      });
    }
  };

  /* el("a", {href: "/x", class: "y"}, "text", childNode) — never innerHTML, so data cannot inject markup. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.indexOf("on") === 0 && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
      else node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function announce(message) {
    var region = document.getElementById("announcer");
    if (!region) return;
    region.textContent = "";
    setTimeout(function () { region.textContent = message; }, 30);
  }

  function markingText(m) {
    if (!m) return "";
    var parts = [m.classification];
    if (m.caveat) parts.push(m.caveat);
    if (m.release_to) parts.push("REL TO " + (Array.isArray(m.release_to) ? m.release_to.join(", ") : m.release_to));
    return parts.filter(Boolean).join(" · ");
  }

  function fmtDate(value) {
    if (!value) return "";
    var m = String(value).match(/^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/);
    return m ? m[1] + " " + m[2] : String(value);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-logout]");
    if (!button) return;
    api("/session", {method: "DELETE", noRedirect: true}).catch(function () {}).then(function () {
      location.assign("/login");
    });
  });

  marking.draw();
  window.Tessera = {api: api, marking: marking, el: el, announce: announce, markingText: markingText,
                    fmtDate: fmtDate, loginRedirect: loginRedirect};
})();
