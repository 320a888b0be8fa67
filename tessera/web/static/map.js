/* The map: Leaflet over Natural Earth outlines (world-atlas TopoJSON, no tiles), events as markers, a network's
   routes as lines, and a time slider. window.TesseraMap exposes the state for tests. */
(function () {
  "use strict";
  var T = window.Tessera;
  var $ = function (id) { return document.getElementById(id); };
  var COLOURS = {crossing: "#1565c0", interception: "#ef6c00", arrest: "#c62828", other: "#6d4c41"};
  var DAY = 86400000;

  var map = L.map("map", {zoomControl: true, attributionControl: true, preferCanvas: false, worldCopyJump: false})
    .setView([50.9, 1.6], 8);
  map.attributionControl.setPrefix("Leaflet").addAttribution("Outlines: Natural Earth (world-atlas)");
  var basemap = L.layerGroup().addTo(map);
  var markers = L.layerGroup().addTo(map);
  var lines = L.layerGroup().addTo(map);
  var state = {events: [], routes: [], days: [], shown: 0, basemapReady: false, timer: null};

  fetch("/static/vendor/world-atlas/countries-50m.json").then(function (r) { return r.json(); }).then(function (topo) {
    var land = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(land, {style: {color: "#7a8a99", weight: 1, fillColor: "#f3efe4", fillOpacity: 1}, interactive: false,
                     className: "basemap-country"}).addTo(basemap);
    state.basemapReady = true;
    $("map").setAttribute("data-basemap", "ready");
  });

  function qs(params) {
    return Object.keys(params).filter(function (k) { return params[k] !== "" && params[k] != null; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  function day(text) { return Date.parse(text + "T00:00:00Z"); }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }

  function load(event) {
    if (event) event.preventDefault();
    var params = {entity: $("map-entity").value.trim(), network: $("map-network").value,
                  start: $("map-from").value, end: $("map-to").value};
    $("map-status").textContent = "Loading…";
    return T.api("/charts/events?" + qs(params)).then(function (data) {
      T.marking.reset();
      T.marking.raise(data.marking);
      state.events = data.events;
      state.routes = data.routes || [];
      var dates = data.events.map(function (e) { return day(e.date); });
      var slider = $("map-slider");
      if (dates.length) {
        state.first = Math.min.apply(null, dates);
        state.last = Math.max.apply(null, dates);
        slider.max = String(Math.round((state.last - state.first) / DAY));
        slider.value = slider.max;
      } else { slider.max = "0"; slider.value = "0"; }
      render();
      var placed = data.events.filter(function (e) { return e.lat !== null; }).length;
      var text = data.total + " events (" + placed + " placed on the map)" +
                 (state.routes.length ? ", " + state.routes.length + " routes" : "");
      $("map-status").textContent = text;
      T.announce(text);
      var pts = data.events.filter(function (e) { return e.lat !== null; }).map(function (e) { return [e.lat, e.lon]; });
      map.invalidateSize();
      if (pts.length) map.fitBounds(L.latLngBounds(pts).pad(0.3), {maxZoom: 9});
    }).catch(function (err) { $("map-status").textContent = "Could not load events: " + err.message; });
  }

  function render() {
    var slider = $("map-slider");
    var end = state.first === undefined ? null : state.first + Number(slider.value) * DAY;
    var windowDays = Number($("map-window").value);
    var start = end !== null && windowDays ? end - windowDays * DAY : null;
    $("map-slider-day").textContent = end !== null ? iso(end) : "—";
    slider.setAttribute("aria-valuetext", end !== null ? iso(end) : "no events");
    markers.clearLayers();
    lines.clearLayers();
    var rows = [];
    var shown = state.events.filter(function (e) {
      var d = day(e.date);
      return (end === null || d <= end) && (start === null || d > start);
    });
    shown.forEach(function (e) {
      if (e.lat !== null) {
        L.circleMarker([e.lat, e.lon], {radius: 7, color: "#fff", weight: 1, fillColor: COLOURS[e.kind] || COLOURS.other,
                                         fillOpacity: 0.9, className: "event-marker event-" + e.kind})
          .bindTooltip(e.date + " · " + e.kind + " · " + e.name + (e.place ? " · " + e.place : ""))
          .addTo(markers);
      }
      rows.push(T.el("tr", {},
        T.el("td", {}, e.date), T.el("td", {}, e.kind), T.el("td", {}, e.name), T.el("td", {}, e.place || (e.lat !== null ? e.lat + ", " + e.lon : "not placed")),
        T.el("td", {}, e.agency), T.el("td", {}, e.entities.map(function (id) {
          return T.el("a", {href: "/entities/" + encodeURIComponent(id)}, id.slice(0, 10) + " ");
        }))));
    });
    state.routes.forEach(function (r) {
      if (end !== null && day(r.from) > end) return;
      L.polyline(r.points, {color: "#6a1b9a", weight: 3, opacity: 0.7, className: "route-line"})
        .bindTooltip("Route of " + r.entity.slice(0, 10) + " " + r.from + " to " + r.to).addTo(lines);
    });
    $("map-table").tBodies[0].replaceChildren.apply($("map-table").tBodies[0], rows.slice(0, 1000));
    state.shown = shown.length;
    $("map").setAttribute("data-shown", String(shown.length));
  }

  function play() {
    var button = $("map-play"), slider = $("map-slider");
    if (state.timer) {
      clearInterval(state.timer); state.timer = null;
      button.textContent = "Play"; button.setAttribute("aria-pressed", "false");
      return;
    }
    if (Number(slider.value) >= Number(slider.max)) slider.value = "0";
    button.textContent = "Pause"; button.setAttribute("aria-pressed", "true");
    var step = Math.max(1, Math.round(Number(slider.max) / 100));
    state.timer = setInterval(function () {
      slider.value = String(Math.min(Number(slider.max), Number(slider.value) + step));
      render();
      if (Number(slider.value) >= Number(slider.max)) play();
    }, 120);
  }

  $("map-form").addEventListener("submit", load);
  $("map-slider").addEventListener("input", render);
  $("map-window").addEventListener("change", render);
  $("map-play").addEventListener("click", play);
  window.TesseraMap = {map: map, state: state, load: load, render: render};
  load();
})();
