/*
 * The grid map (web:map). Draws the shapes of the area in view with Apache ECharts from our own
 * GeoJSON (no tile server), coloured by open or overdue cases, with the newest open cases as pins.
 *
 * The page embeds the map data as JSON (<script id="map-data">, the same object /map/data.json
 * answers). Drilling down swaps the #map-panel element through HTMX and the map is redrawn from
 * the new JSON; every step also works without JavaScript through the table's links.
 *
 * Public hooks, on window.FengqiaoMap once the page has loaded:
 *
 *   FengqiaoMap.drill(code)       show the region or grid `code` (a GB/T 2260 region code or a
 *                                 grid code); "" goes back to the top of the actor's territory.
 *   FengqiaoMap.showCases(code)   list the cases of the grid or region `code` beside the map.
 *   FengqiaoMap.pickPoint()       "pick a point" mode: the next click on the map resolves the
 *                                 returned Promise with {lon, lat, area} (area: the code of the
 *                                 shape clicked, or null); Escape or FengqiaoMap.cancelPick()
 *                                 rejects it. Other pages may embed the map and use it to let a
 *                                 user place a report.
 *   FengqiaoMap.chart             the ECharts instance; FengqiaoMap.data the data drawn.
 */
(function () {
  "use strict";

  var el = document.getElementById("map-chart");
  if (!el || !window.echarts) return;

  if (window.htmx) {
    // The map canvas cannot be restored from an HTML snapshot: going back reloads the page.
    window.htmx.config.historyCacheSize = 0;
    window.htmx.config.refreshOnHistoryMiss = true;
  }

  var PALETTES = {
    open: ["#dfe9f5", "#c6dbf3", "#8bb8e8", "#4a8fd4", "#1d64b0", "#0b3f7a"],
    overdue: ["#f8e3e0", "#f6c4bd", "#ec8a7e", "#d94f40", "#b3261e", "#7f1913"],
  };
  var PIN = { "": "#263238", yellow: "#f29900", red: "#d93025" };
  var labels = el.dataset;
  var chart = echarts.init(el, null, { renderer: "canvas" });
  var state = { data: null, metric: "open", pins: true, source: null, pick: null, lastClick: 0 };

  function readData() {
    var node = document.getElementById("map-data");
    if (!node || node === state.source) return null;
    state.source = node;
    return JSON.parse(node.textContent);
  }

  function byCode(data) {
    var out = {};
    data.areas.forEach(function (a) { out[a.code] = a; });
    return out;
  }

  function centreLat(geojson) {
    var lo = 90, hi = -90;
    function walk(c) {
      if (typeof c[0] === "number") { lo = Math.min(lo, c[1]); hi = Math.max(hi, c[1]); return; }
      c.forEach(walk);
    }
    geojson.features.forEach(function (f) { if (f.geometry) walk(f.geometry.coordinates); });
    return lo <= hi ? (lo + hi) / 2 : 30;
  }

  var LANG = document.documentElement.lang || undefined;
  function num(n) {
    try { return Number(n).toLocaleString(LANG); } catch (err) { return String(n); }
  }
  // "12 open", "3 overdue": the figure with its word, in the page's language
  function figure(template, n) { return (template || "%(n)s").replace("%(n)s", num(n)); }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function draw() {
    var data = state.data;
    if (!data) return;
    var areas = byCode(data);
    var metric = state.metric;
    var mapName = "fq-" + (data.area ? data.area.code : "top");
    var hasShapes = data.geojson.features.length > 0;
    chart.clear();
    if (!hasShapes) {
      chart.setOption({ title: { text: labels.labelNone, left: "center", top: "middle",
        textStyle: { color: "#5f6b7a", fontSize: 14, fontWeight: "normal" } } });
      return;
    }
    echarts.registerMap(mapName, data.geojson);
    var max = 1;
    data.areas.forEach(function (a) { max = Math.max(max, a[metric]); });
    var narrow = el.clientWidth < 560;
    var touch = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    var manyShapes = data.geojson.features.length > 12;
    var option = {
      animationDurationUpdate: 300,
      tooltip: {
        trigger: "item",
        confine: true,
        formatter: function (p) {
          if (p.seriesType === "scatter") {
            var pin = p.data.pin;
            return "<strong>" + esc(pin.number) + "</strong><br>" + esc(pin.category) + "<br>" + esc(pin.state_label);
          }
          var a = areas[p.name];
          if (!a) return "";
          return "<strong>" + esc(a.name) + "</strong><br>" +
            esc(labels.labelOpen) + ": " + num(a.open) + "<br>" +
            esc(labels.labelOverdue) + ": " + num(a.overdue) + "<br>" +
            esc(labels.labelFlagged) + ": " + num(a.flagged);
        },
      },
      visualMap: {
        type: "continuous",
        seriesIndex: 0,
        min: 0,
        max: max,
        calculable: false,
        orient: "horizontal",
        left: 8,
        bottom: 8,
        itemWidth: 12,
        itemHeight: narrow ? 100 : 140,
        text: [num(max) + " " + (labels.unitCases || ""), "0"],
        textStyle: { color: "#1d2733" },
        inRange: { color: PALETTES[metric] },
      },
      geo: {
        map: mapName,
        roam: touch ? false : true,
        scaleLimit: { min: 0.8, max: 12 },
        aspectScale: Math.cos(centreLat(data.geojson) * Math.PI / 180),
        top: 12, bottom: 44, left: 12, right: 12,
        selectedMode: false,
        label: { show: false },
        itemStyle: { borderColor: "#ffffff", borderWidth: 1.2, areaColor: PALETTES[metric][0] },
        emphasis: {
          label: { show: false },
          itemStyle: { areaColor: "#f9e27d", borderColor: "#1d2733", borderWidth: 2 },
        },
      },
      series: [
        {
          type: "map",
          geoIndex: 0,
          name: metric,
          data: data.areas.map(function (a) { return { name: a.code, value: a[metric] }; }),
        },
        {
          type: "scatter",
          coordinateSystem: "geo",
          zlevel: 1,
          symbolSize: narrow ? 8 : 10,
          cursor: "pointer",
          itemStyle: { borderColor: "#ffffff", borderWidth: 1.5 },
          data: state.pins ? data.pins.map(function (pin) {
            return {
              value: [pin.lon, pin.lat], pin: pin,
              symbol: pin.supervised ? "diamond" : "circle",
              itemStyle: { color: PIN[pin.warning] || PIN[""] },
            };
          }) : [],
        },
        {
          // the names and counts, above the pins
          type: "scatter",
          coordinateSystem: "geo",
          zlevel: 2,
          silent: true,
          symbolSize: 1,
          itemStyle: { color: "rgba(0,0,0,0)" },
          tooltip: { show: false },
          label: {
            show: true,
            position: "inside",
            formatter: function (p) {
              var a = p.data.area;
              var figures = "{n|" + figure(labels.figureOpen, a.open) + "}" +
                (a.overdue ? "  {o|" + figure(labels.figureOverdue, a.overdue) + "}" : "");
              return "{name|" + a.name + "}" + (manyShapes ? "" : "\n" + figures);
            },
            rich: {
              name: { fontSize: manyShapes || narrow ? 11 : 13, fontWeight: 600, color: "#1d2733",
                      textBorderColor: "#fff", textBorderWidth: 3, lineHeight: 18 },
              n: { fontSize: 12, color: "#0b3f7a", textBorderColor: "#fff", textBorderWidth: 3 },
              o: { fontSize: 12, fontWeight: 700, color: "#b3261e", textBorderColor: "#fff", textBorderWidth: 3 },
            },
          },
          data: data.areas.filter(function (a) { return a.label_at; }).map(function (a) {
            return { value: a.label_at, area: a };
          }),
        },
      ],
    };
    chart.setOption(option, true);
  }

  function redrawFromPage() {
    var data = readData();
    if (data) {
      state.data = data;
      draw();
    }
  }

  function mapUrl(code) {
    return labels.mapUrl + (code ? "?area=" + encodeURIComponent(code) : "");
  }

  function casesUrl(code) {
    return labels.casesUrl.replace("/0/", "/" + encodeURIComponent(code) + "/");
  }

  function drill(code) {
    var url = mapUrl(code);
    if (!window.htmx) { window.location.href = url; return Promise.resolve(); }
    return window.htmx.ajax("GET", url, { target: "#map-panel", swap: "outerHTML" }).then(function () {
      history.pushState({ htmx: true }, "", url);
      redrawFromPage();
    });
  }

  function showCases(code) {
    var url = casesUrl(code);
    if (!window.htmx) { window.location.href = url; return Promise.resolve(); }
    return window.htmx.ajax("GET", url, { target: "#map-cases", swap: "innerHTML" }).then(function () {
      var aside = document.getElementById("map-cases");
      if (aside && el.getBoundingClientRect().bottom > window.innerHeight * 0.9) {
        aside.scrollIntoView({ behavior: "smooth", block: "start" });
      }
    });
  }

  function pickPoint() {
    cancelPick();
    el.classList.add("is-picking");
    return new Promise(function (resolve, reject) {
      state.pick = { resolve: resolve, reject: reject };
    });
  }

  function cancelPick() {
    if (!state.pick) return;
    var pick = state.pick;
    state.pick = null;
    el.classList.remove("is-picking");
    pick.reject(new Error("cancelled"));
  }

  // a click on a shape drills down (or lists the cases of a grid); a click on a pin opens the case
  function onShape(code) {
    var now = Date.now();
    if (now - state.lastClick < 250) return;  // the geo component and the map series both report it
    state.lastClick = now;
    var a = state.data && byCode(state.data)[code];
    if (!a) return;
    if (a.drill && !(state.data.area && state.data.area.code === a.code)) drill(a.code);
    else showCases(a.code);
  }

  chart.on("click", function (p) {
    if (state.pick) return;
    if (p.seriesType === "scatter" && p.data && p.data.pin) {
      window.location.href = p.data.pin.url;
    } else if (p.componentType === "geo" || p.seriesType === "map") {
      onShape(p.name);
    }
  });

  chart.getZr().on("click", function (e) {
    if (!state.pick) return;
    var coord = chart.convertFromPixel({ geoIndex: 0 }, [e.offsetX, e.offsetY]);
    if (!coord) return;
    var area = null;  // the shape under the pointer, if any
    try {
      var geo = chart.getModel().getComponent("geo", 0).coordinateSystem;
      var region = geo.getRegionByCoord(coord);
      area = region ? region.name : null;
    } catch (err) {
      area = null;
    }
    var pick = state.pick;
    state.pick = null;
    el.classList.remove("is-picking");
    pick.resolve({ lon: coord[0], lat: coord[1], area: area });
  });

  document.addEventListener("keydown", function (e) { if (e.key === "Escape") cancelPick(); });

  document.querySelectorAll("input[name=metric]").forEach(function (input) {
    input.addEventListener("change", function () { state.metric = input.value; draw(); });
  });
  var pinsToggle = document.getElementById("map-show-pins");
  if (pinsToggle) pinsToggle.addEventListener("change", function () { state.pins = pinsToggle.checked; draw(); });

  document.body.addEventListener("htmx:afterSettle", redrawFromPage);
  window.addEventListener("resize", function () { chart.resize(); });

  redrawFromPage();

  window.FengqiaoMap = {
    chart: chart,
    get data() { return state.data; },
    drill: drill,
    showCases: showCases,
    pickPoint: pickPoint,
    cancelPick: cancelPick,
  };
})();

/*
 * The supervision view (web:leader): two small bar charts of overdue and flagged open cases, by
 * area (township or village) and by lead department, from <script id="leader-data">. The tables beside them carry
 * the same figures.
 */
(function () {
  "use strict";

  var source = document.getElementById("leader-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var names = document.getElementById("leader-labels").dataset;
  var charts = [];

  function bars(id, rows) {
    var el = document.getElementById(id);
    if (!el || !rows.length) return;
    rows = rows.slice(0, 12).reverse();  // largest at the top
    el.style.height = Math.max(160, 48 + rows.length * 34) + "px";
    var chart = echarts.init(el);
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
      legend: { top: 0, left: 0, data: [names.overdue, names.flagged] },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#e3e8ee" } } },
      yAxis: {
        type: "category",
        data: rows.map(function (r) { return r.name; }),
        axisLabel: { width: 140, overflow: "truncate", color: "#1d2733" },
      },
      series: [
        { name: names.overdue, type: "bar", barMaxWidth: 18, itemStyle: { color: "#d93025" },
          data: rows.map(function (r) { return r.overdue; }) },
        { name: names.flagged, type: "bar", barMaxWidth: 18, itemStyle: { color: "#f29900" },
          data: rows.map(function (r) { return r.flagged; }) },
      ],
    });
    charts.push(chart);
  }

  bars("chart-areas", data.areas);
  bars("chart-departments", data.departments);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
