/*
 * Picking a point on a map of grids (the hotline form, the field report when the position is not
 * available). The grids are drawn with Apache ECharts from our own GeoJSON, like the grid map page
 * (no tile server); a click or tap fills in the longitude and latitude fields and marks the point.
 *
 *   <div data-grid-pick data-source="ID of a JSON script with the FeatureCollection"
 *        data-lon="ID" data-lat="ID" data-grid="ID of a grid <select> (optional)"
 *        data-out="ID of an <output> (optional)" data-lazy="1 (optional: draw when shown)"></div>
 *
 * The fields stay the way to enter a point without a pointer; typing in them moves the mark.
 * window.FengqiaoGridPick.pickers lists {el, chart} for each picker on the page, and
 * FengqiaoGridPick.draw(el) draws a lazy picker (e.g. once its container is shown).
 */
(function () {
  "use strict";

  // the grid map page's colours (web/map.js): open-cases palette, highlighted shape, pins
  var AREA = "#dfe9f5", BORDER = "#4a8fd4", HOVER = "#f9e27d", PIN = "#d93025";
  var pickers = [];

  function byId(id) { return id ? document.getElementById(id) : null; }

  function draw(el) {
    if (!window.echarts || el.dataset.drawn) return null;
    var source = byId(el.dataset.source);
    if (!source) return null;
    var geojson = JSON.parse(source.textContent);
    el.dataset.drawn = "1";
    var lon = byId(el.dataset.lon), lat = byId(el.dataset.lat);
    var grid = byId(el.dataset.grid), out = byId(el.dataset.out);
    var names = {};
    geojson.features.forEach(function (f) { names[f.properties.code] = f.properties.label; });
    var mapName = "fq-pick-" + (el.id || pickers.length);
    echarts.registerMap(mapName, geojson);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    var touch = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    var few = geojson.features.length <= 20;

    function markerData() {
      var lo = parseFloat(lon.value), la = parseFloat(lat.value);
      return isFinite(lo) && isFinite(la) ? [[lo, la]] : [];
    }

    chart.setOption({
      animation: false,
      tooltip: { trigger: "item", confine: true,
                 formatter: function (p) { return p.componentType === "geo" || p.seriesType === "map"
                   ? (names[p.name] || p.name) + " (" + p.name + ")" : ""; } },
      geo: {
        map: mapName,
        roam: !touch,
        scaleLimit: { min: 0.8, max: 12 },
        aspectScale: geojson.aspect || 0.87,
        top: 8, bottom: 8, left: 8, right: 8,
        selectedMode: false,
        label: { show: few, color: "#0b3f7a", fontSize: 12, textBorderColor: "#fff", textBorderWidth: 3,
                 formatter: function (p) { return names[p.name] || p.name; } },
        itemStyle: { areaColor: AREA, borderColor: BORDER, borderWidth: 1.2 },
        emphasis: { label: { show: true, formatter: function (p) { return names[p.name] || p.name; } },
                    itemStyle: { areaColor: HOVER, borderColor: "#1d2733", borderWidth: 2 } },
      },
      series: [{
        type: "scatter", coordinateSystem: "geo", zlevel: 1, silent: true, symbolSize: 16,
        itemStyle: { color: PIN, borderColor: "#fff", borderWidth: 2 },
        data: markerData(),
      }],
    });

    function moveMark() { chart.setOption({ series: [{ data: markerData() }] }); }
    lon.addEventListener("change", moveMark);
    lat.addEventListener("change", moveMark);

    chart.getZr().on("click", function (e) {
      var coord = chart.convertFromPixel({ geoIndex: 0 }, [e.offsetX, e.offsetY]);
      if (!coord || !isFinite(coord[0]) || !isFinite(coord[1])) return;
      var code = null;
      try {
        var region = chart.getModel().getComponent("geo", 0).coordinateSystem.getRegionByCoord(coord);
        code = region ? region.name : null;
      } catch (err) { code = null; }
      lon.value = coord[0].toFixed(6);
      lat.value = coord[1].toFixed(6);
      moveMark();
      // the point decides the grid; a grid chosen by hand could disagree with it
      if (grid) grid.value = "";
      if (out) out.textContent = code ? (names[code] || code) + " (" + code + ")" : (el.dataset.outside || "");
      lon.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new CustomEvent("gridpick:picked", { bubbles: true,
        detail: { lon: coord[0], lat: coord[1], grid: code } }));
    });
    window.addEventListener("resize", function () { chart.resize(); });
    pickers.push({ el: el, chart: chart });
    return chart;
  }

  function init() {
    document.querySelectorAll("[data-grid-pick]").forEach(function (el) {
      if (!el.dataset.lazy) draw(el);
    });
  }

  window.FengqiaoGridPick = {
    pickers: pickers,
    draw: function (el) { var chart = draw(el); if (!chart) { pickers.forEach(function (p) { if (p.el === el) p.chart.resize(); }); } return chart; },
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
