/* The resident's report form: topic search, position (GPS, map, village/grid), photos made smaller
   before upload, one submission per tap. Works without this script too (plain form post). */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) return;
  var data = form.dataset;
  var status = document.getElementById("geo-status");
  var lon = document.getElementById("id_lon"), lat = document.getElementById("id_lat");
  var village = document.getElementById("id_village"), grid = document.getElementById("id_grid");

  // -- topic search
  var search = document.getElementById("category-search");
  var topics = Array.prototype.slice.call(document.querySelectorAll("#category-list label[data-search]"));
  if (search) search.addEventListener("input", function () {
    var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
    topics.forEach(function (label) {
      var hit = words.every(function (w) { return label.dataset.search.indexOf(w) >= 0 || label.textContent.toLowerCase().indexOf(w) >= 0; });
      label.hidden = !hit && !label.querySelector("input").checked;
      if (!label.hidden) shown++;
    });
    document.getElementById("category-empty").hidden = shown > 0;
  });

  // -- grids of the chosen village only
  function filterGrids() {
    var code = village.value;
    Array.prototype.forEach.call(grid.options, function (option) {
      if (!option.value) return;
      option.hidden = !!code && option.dataset.village !== code;
    });
    if (grid.selectedOptions[0] && grid.selectedOptions[0].hidden) grid.value = "";
  }
  village.addEventListener("change", filterGrids);
  filterGrids();

  function setPoint(x, y, message) {
    lon.value = x.toFixed(6); lat.value = y.toFixed(6);
    status.textContent = message;
    if (marker) marker(x, y);
  }

  // -- the phone's position
  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { status.textContent = data.geoFailed; return; }
    status.textContent = data.locating;
    navigator.geolocation.getCurrentPosition(function (p) {
      setPoint(p.coords.longitude, p.coords.latitude, data.located);
    }, function () { status.textContent = data.geoFailed; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  // -- the grid map, loaded only when asked for (ECharts is large)
  var marker = null;
  document.getElementById("open-map").addEventListener("click", function () {
    var box = document.getElementById("picker-map");
    box.hidden = false;
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    status.textContent = data.mapLoading;
    var script = document.createElement("script");
    script.src = data.echarts;
    script.onload = function () {
      var url = data.mapUrl + "?pins=0" + (village.value ? "&village=" + encodeURIComponent(village.value) : "");
      fetch(url, { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (json) {
        /* global echarts */
        echarts.registerMap("portal-grids", json.grids);
        var chart = echarts.init(box);
        var point = lon.value && lat.value ? [[parseFloat(lon.value), parseFloat(lat.value)]] : [];
        chart.setOption({
          geo: { map: "portal-grids", roam: true, nameProperty: "name", label: { show: false },
                 itemStyle: { areaColor: "#eef4fb", borderColor: "#7b93b0" }, emphasis: { label: { show: false }, itemStyle: { areaColor: "#d6e6f7" } } },
          series: [{ type: "scatter", coordinateSystem: "geo", data: point, symbolSize: 18, itemStyle: { color: "#d93025" } }]
        });
        marker = function (x, y) { chart.setOption({ series: [{ data: [[x, y]] }] }); };
        chart.getZr().on("click", function (e) {
          var c = chart.convertFromPixel({ geoIndex: 0 }, [e.offsetX, e.offsetY]);
          if (c) setPoint(c[0], c[1], data.mapPicked);
        });
        status.textContent = "";
        window.addEventListener("resize", function () { chart.resize(); });
      }).catch(function () { status.textContent = data.geoFailed; });
    };
    document.head.appendChild(script);
  });

  // -- anonymous: no contact fields
  var anonymous = document.getElementById("id_anonymous"), contact = document.getElementById("contact-fields");
  function toggleContact() {
    contact.hidden = anonymous.checked;
    contact.querySelectorAll("input").forEach(function (i) { i.disabled = anonymous.checked; });
  }
  anonymous.addEventListener("change", toggleContact);
  toggleContact();

  // -- photos: previews, and large photos made smaller in the browser before upload
  var photos = document.getElementById("id_photos"), previews = document.getElementById("photos-previews");
  var MAX_SIDE = 1600;
  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) { resolve(file); return; }
      createImageBitmap(file).then(function (bitmap) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
        if (scale === 1 && file.size < 2 * 1024 * 1024) { resolve(file); return; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale); canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          resolve(blob && (scale < 1 || blob.size < file.size) ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      }).catch(function () { resolve(file); });
    });
  }
  var preparing = null;
  photos.addEventListener("change", function () {
    var files = Array.prototype.slice.call(photos.files);
    previews.replaceChildren();
    files.forEach(function (f) { var img = document.createElement("img"); img.alt = ""; img.src = URL.createObjectURL(f); previews.appendChild(img); });
    if (!window.DataTransfer) return;
    preparing = Promise.all(files.map(shrink)).then(function (smaller) {
      var transfer = new DataTransfer();
      smaller.forEach(function (f) { transfer.items.add(f); });
      photos.files = transfer.files;
      preparing = null;
    }).catch(function () { preparing = null; });
  });

  // -- one submission per tap (the idempotency key makes a repeated post harmless anyway)
  var sending = false, button = document.getElementById("report-submit");
  form.addEventListener("submit", function (event) {
    if (sending) { event.preventDefault(); return; }
    if (preparing) {
      event.preventDefault();
      button.textContent = data.shrinking;
      preparing.then(function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
      return;
    }
    sending = true;
    button.disabled = true;
    button.textContent = data.sending;
  });
})();
