/* The public cases' map: the territory's grids and the cases' pins, blurred to their grid. */
(function () {
  "use strict";
  var box = document.getElementById("public-map");
  if (!box) return;
  var script = document.createElement("script");
  script.src = box.dataset.echarts;
  script.onload = function () {
    fetch(box.dataset.url, { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (json) {
      /* global echarts */
      echarts.registerMap("portal-public", json.grids);
      var chart = echarts.init(box);
      chart.setOption({
        tooltip: { trigger: "item", formatter: function (p) { return p.data && p.data.card ? p.data.card.category + "<br>" + p.data.card.state_label : (p.data && p.data.label) || p.name; } },
        geo: { map: "portal-public", roam: true, nameProperty: "name", itemStyle: { areaColor: "#eef4fb", borderColor: "#7b93b0" },
               emphasis: { label: { show: false }, itemStyle: { areaColor: "#d6e6f7" } } },
        series: [{ type: "scatter", coordinateSystem: "geo", symbolSize: 12, itemStyle: { color: "#0b5cad" },
                   data: (json.pins || []).map(function (c) { return { value: [c.lon, c.lat], card: c }; }) }]
      });
      chart.on("click", function (p) {
        if (p.data && p.data.card && p.data.card.number) window.location.href = box.dataset.url.split("map.json")[0] + encodeURIComponent(p.data.card.number) + "/";
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  };
  document.head.appendChild(script);
})();
