/* The field app: report with photos and position, an offline outbox (IndexedDB) sent exactly once
 * thanks to an idempotency key per report, and the service worker that keeps the app shell.
 * Without this script every form still posts normally. */
(function () {
  "use strict";

  var configNode = document.getElementById("field-config");
  if (!configNode) return;
  var config = JSON.parse(configNode.textContent);
  var strings = {};
  var stringsNode = document.getElementById("field-strings");
  if (stringsNode) {
    stringsNode.content.querySelectorAll("[data-key]").forEach(function (node) {
      strings[node.dataset.key] = node.textContent.trim();
    });
  }
  function t(key, params) {
    var text = strings[key] || key;
    Object.keys(params || {}).forEach(function (name) {
      text = text.replace("%(" + name + ")s", params[name]);
    });
    return text;
  }

  // -- service worker: the app shell offline ---------------------------------------------------
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(config.sw, { scope: config.scope }).catch(function () { /* optional */ });
  }

  // -- network status --------------------------------------------------------------------------
  var netStatus = document.getElementById("net-status");
  function showNetwork() {
    if (netStatus) netStatus.hidden = navigator.onLine;
  }
  window.addEventListener("online", showNetwork);
  window.addEventListener("offline", showNetwork);
  showNetwork();

  // -- keys --------------------------------------------------------------------------------------
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // -- the outbox in IndexedDB --------------------------------------------------------------------
  var DB_NAME = "fengqiao-field", STORE = "outbox";
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "key" }); };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }
  function store(mode, action) {
    return db().then(function (database) {
      return new Promise(function (resolve, reject) {
        var tx = database.transaction(STORE, mode);
        var request = action(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(request ? request.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  function queueAll() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (items) {
      // a shared phone: only the signed-in user's reports are shown and sent under their session
      return (items || []).filter(function (item) { return item.user === config.user; })
        .sort(function (a, b) { return a.createdAt - b.createdAt; });
    });
  }
  function queuePut(record) { return store("readwrite", function (s) { return s.put(record); }); }
  function queueDelete(key) { return store("readwrite", function (s) { return s.delete(key); }); }

  // -- sending -------------------------------------------------------------------------------------
  function toRecord(form) {
    var data = new FormData(form);
    var fields = [], files = [];
    data.forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken") return;
      if (value instanceof Blob) {
        if (value.size) files.push({ name: name, blob: value, filename: value.name || "photo.jpg" });
      } else {
        fields.push([name, value]);
      }
    });
    var description = (data.get("description") || "").toString();
    return { key: data.get("idempotency_key").toString(), user: config.user, fields: fields, files: files,
             createdAt: Date.now(),
             summary: description.slice(0, 60) };
  }

  // -- photos: made smaller in the browser (slow networks, small phones) -------------------------
  var MAX_SIDE = 1600, QUALITY = 0.8, SMALL_ENOUGH = 1024 * 1024;

  function decode(blob) {
    // an ImageBitmap turned upright by its EXIF orientation, or an <img> where that is missing
    if (window.createImageBitmap) {
      return createImageBitmap(blob, { imageOrientation: "from-image" }).catch(function () {
        return createImageBitmap(blob);
      });
    }
    return new Promise(function (resolve, reject) {
      var img = new Image();
      var url = URL.createObjectURL(blob);
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }

  /* A JPEG whose longest side is at most MAX_SIDE, or the original file when it is small already,
   * is not an image, or the browser cannot decode or encode it. */
  function shrink(file) {
    if (!/^image\//.test(file.type || "") || !document.createElement("canvas").toBlob) return Promise.resolve(file);
    return decode(file).then(function (image) {
      var width = image.width, height = image.height;
      var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
      if (scale === 1 && file.size <= SMALL_ENOUGH && /jpeg|png|webp/.test(file.type)) return file;
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      if (image.close) image.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || (scale === 1 && blob.size >= file.size)) { resolve(file); return; }
          var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
          resolve({ blob: blob, filename: name, shrunk: true, originalSize: file.size });
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });
  }

  function shrinkFiles(record) {
    return Promise.all(record.files.map(function (file) {
      return shrink(file.blob).then(function (result) {
        if (result && result.shrunk) {
          return { name: file.name, blob: result.blob, filename: result.filename, originalSize: result.originalSize };
        }
        return file;
      });
    })).then(function (files) { record.files = files; return record; });
  }
  window.FengqiaoFieldPhotos = { shrink: shrink, MAX_SIDE: MAX_SIDE };

  /* Resolves to {status, body}; rejects (TypeError) when the network is unreachable. */
  function send(record) {
    var body = new FormData();
    record.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    record.files.forEach(function (file) { body.append(file.name, file.blob, file.filename); });
    body.set("idempotency_key", record.key);
    return fetch(config.report, {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() },
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        return { status: response.status, body: json };
      });
    });
  }
  // answers after which the report leaves the outbox: accepted, or refused for what it holds
  function isFinal(status) {
    return (status >= 200 && status < 300) || status === 409 || status === 422 || status === 400 || status === 404;
  }
  function errorText(body) {
    return body && body.errors ? body.errors.map(function (e) { return e.message; }).join(" ") : "";
  }

  // -- the outbox on the page ------------------------------------------------------------------------
  var outbox = document.getElementById("outbox");
  var outboxList = document.getElementById("outbox-list");
  var outboxLog = document.getElementById("outbox-log");
  var outboxCount = document.getElementById("outbox-count");

  function renderOutbox() {
    if (!outbox) return Promise.resolve();
    return queueAll().then(function (items) {
      outboxCount.textContent = String(items.length);
      outboxList.replaceChildren.apply(outboxList, items.map(function (item) {
        var li = document.createElement("li");
        li.className = "queued";
        li.dataset.key = item.key;
        var tag = document.createElement("span");
        tag.className = "state-tag";
        tag.textContent = item.lastError || t("queued");
        li.append(tag, document.createTextNode(item.summary || ""));
        return li;
      }));
      outbox.hidden = !items.length && !outboxLog.children.length;
    }).catch(function () { /* IndexedDB unavailable (private mode): nothing to show */ });
  }
  function log(className, tagText, text, href) {
    if (!outboxLog) return;
    var li = document.createElement("li");
    li.className = className;
    var tag = document.createElement("span");
    tag.className = "state-tag";
    tag.textContent = tagText;
    li.append(tag);
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = text;
      li.append(link);
    } else {
      li.append(document.createTextNode(text));
    }
    outboxLog.prepend(li);
  }

  var flushing = null;
  function flush() {
    if (flushing) return flushing;
    if (!navigator.onLine) return renderOutbox();
    if (outbox) outbox.dataset.queueState = "sending";
    flushing = queueAll().then(function (items) {
      var chain = Promise.resolve(true);
      items.forEach(function (item) {
        chain = chain.then(function (goOn) {
          if (!goOn) return false;
          return send(item).then(function (answer) {
            if (answer.status >= 200 && answer.status < 300 && answer.body && answer.body.number) {
              return queueDelete(item.key).then(function () {
                log("sent", t("sent", { number: answer.body.number }), item.summary,
                    config.caseUrl.replace("NUMBER", answer.body.number));
                var notice = document.querySelector(".report-result.queued");
                if (notice) { notice.textContent = ""; notice.className = "report-result"; }
                return true;
              });
            }
            if (isFinal(answer.status)) {
              return queueDelete(item.key).then(function () {
                log("refused", t("refused"), item.summary + " — " + errorText(answer.body));
                return true;
              });
            }
            // signed out, CSRF refused, server trouble: keep it and try again later
            item.lastError = answer.status === 401 || answer.status === 403 || answer.status === 0
              ? t("signIn") : t("serverBusy");
            return queuePut(item).then(function () { return false; });
          }, function () { return false; /* still offline */ });
        });
      });
      return chain;
    }).catch(function () { /* IndexedDB unavailable */ }).then(function () {
      flushing = null;
      return renderOutbox();
    }).then(function () {
      if (outbox) outbox.dataset.queueState = "idle";
    });
    return flushing;
  }
  // signing out (web/signout.js) sends the waiting reports first when the user asks for it
  window.FengqiaoField = { flush: flush };
  window.addEventListener("online", flush);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) flush(); });
  flush();

  // -- the report form -------------------------------------------------------------------------------
  var form = document.getElementById("report-form");
  if (form) setUpReport(form);

  function setUpReport(form) {
    var keyInput = form.querySelector("[name=idempotency_key]");
    keyInput.value = newKey(); // a page served from the cache must not reuse the key it was rendered with
    var submit = document.getElementById("report-submit");
    var submitLabel = submit.textContent;
    var status = document.getElementById("form-status");
    var result = document.getElementById("report-result");

    // category search
    var search = document.getElementById("category-search");
    var options = Array.prototype.slice.call(form.querySelectorAll(".cat"));
    var empty = document.getElementById("category-empty");
    if (search) {
      search.addEventListener("input", function () {
        var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
        var shown = 0;
        options.forEach(function (option) {
          var text = option.dataset.search.toLowerCase();
          var match = option.querySelector("input").checked
            || words.every(function (word) { return text.indexOf(word) !== -1; });
          option.hidden = !match;
          if (match) shown += 1;
        });
        empty.hidden = shown > 0;
      });
      search.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); }
      });
    }

    // photo previews
    var photos = document.getElementById("id_photos");
    var previews = document.getElementById("photos-previews");
    photos.addEventListener("change", function () {
      previews.replaceChildren();
      Array.prototype.slice.call(photos.files, 0, 9).forEach(function (file) {
        var img = document.createElement("img");
        img.alt = "";
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        previews.append(img);
      });
    });

    // position
    var lon = document.getElementById("id_lon"), lat = document.getElementById("id_lat");
    var geoStatus = document.getElementById("geo-status");
    var mapBox = document.getElementById("pick-map-box");
    var mapButton = document.getElementById("pick-on-map");
    function loadScript(src) {
      return new Promise(function (resolve, reject) {
        var found = document.querySelector('script[src="' + src + '"]');
        if (found && found.dataset.loaded) { resolve(); return; }
        var script = found || document.createElement("script");
        script.addEventListener("load", function () { script.dataset.loaded = "1"; resolve(); });
        script.addEventListener("error", reject);
        if (!found) { script.src = src; document.head.append(script); }
      });
    }
    /* The map of the worker's grids to tap the position on (the charting library is loaded only now). */
    function showMap(reason) {
      if (!mapBox) return;
      mapBox.hidden = false;
      if (mapButton) mapButton.setAttribute("aria-expanded", "true");
      var status = document.getElementById("pick-map-status");
      if (reason) geoStatus.textContent = reason;
      var el = document.getElementById("pick-map");
      loadScript(mapBox.dataset.echarts).then(function () { return loadScript(mapBox.dataset.gridpick); })
        .then(function () { window.FengqiaoGridPick.draw(el); if (status) status.textContent = ""; })
        .catch(function () { if (status) status.textContent = t("mapOffline"); });
    }
    if (mapButton) {
      mapButton.addEventListener("click", function () {
        if (mapBox.hidden) showMap(""); else { mapBox.hidden = true; mapButton.setAttribute("aria-expanded", "false"); }
      });
    }
    if (mapBox) {
      mapBox.addEventListener("gridpick:picked", function () {
        geoStatus.textContent = t("pickedOnMap");
        delete geoStatus.dataset.located;
      });
    }

    function locate() {
      if (!("geolocation" in navigator)) { showMap(t("noPosition")); return; }
      geoStatus.textContent = t("locating");
      navigator.geolocation.getCurrentPosition(function (position) {
        lon.value = position.coords.longitude.toFixed(6);
        lat.value = position.coords.latitude.toFixed(6);
        geoStatus.textContent = t("located", { m: Math.round(position.coords.accuracy || 0) });
        geoStatus.dataset.located = "1";
      }, function (error) {
        // denied, unavailable or too slow: offer the map to tap the position on
        showMap(error && error.code === 1 ? t("positionDenied") : t("noPosition"));
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    }
    document.getElementById("locate").addEventListener("click", locate);
    if (!lon.value && !lat.value) locate();

    function clearErrors() {
      status.textContent = "";
      form.querySelectorAll("[data-error-for]").forEach(function (node) { node.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    }
    function showErrors(errors) {
      var first = null;
      (errors || []).forEach(function (error) {
        var field = (error.field || "").split("[")[0];
        var target = field && form.querySelector('[data-error-for="' + field + '"]');
        if (target) {
          target.textContent = (target.textContent + " " + error.message).trim();
          var input = form.querySelector('[name="' + field + '"]')
            || (field === "location" ? lon : null);
          if (input) input.setAttribute("aria-invalid", "true");
          first = first || target;
        } else {
          status.textContent = (status.textContent + " " + error.message).trim();
        }
      });
      if (!status.textContent) status.textContent = t("error");
      status.scrollIntoView({ block: "start" });
    }
    function done(className, text, href) {
      result.className = "report-result " + className;
      result.replaceChildren(document.createTextNode(text + " "));
      if (href) {
        var link = document.createElement("a");
        link.href = href;
        link.textContent = t("open");
        result.append(link);
      }
      form.reset();
      previews.replaceChildren();
      keyInput.value = newKey();
      if (search) search.dispatchEvent(new Event("input"));
      if (lon.value === "" && geoStatus.dataset.located) locate();
      result.scrollIntoView({ block: "start" });
    }
    function queue(record) {
      return queuePut(record).then(function () {
        done("queued", t("savedOffline"));
        return renderOutbox();
      });
    }

    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      submit.disabled = true;
      clearErrors();
      result.textContent = "";
      var record = toRecord(form);
      submit.textContent = t("preparing");
      var sending = shrinkFiles(record).then(function (smaller) {
        record = smaller;
        submit.textContent = submitLabel;
        return navigator.onLine ? sendNow(record) : queue(record);
      });
      function sendNow(record) {
        return send(record).then(function (answer) {
            if (answer.status >= 200 && answer.status < 300 && answer.body && answer.body.number) {
              done("sent", t("reported", { number: answer.body.number }),
                   config.caseUrl.replace("NUMBER", answer.body.number));
            } else if (isFinal(answer.status)) {
              showErrors(answer.body && answer.body.errors);
            } else {
              record.lastError = answer.status === 401 || answer.status === 403 ? t("signIn") : t("serverBusy");
              return queue(record);
            }
          }, function () { return queue(record); });
      }
      sending.catch(function () {
        // IndexedDB refused: fall back to a plain form post
        busy = false;
        form.submit();
      }).then(function () {
        busy = false;
        submit.disabled = false;
        submit.textContent = submitLabel;
      });
    });
  }

  // -- inspections: pass the position along with a failed item when the browser knows it ---------
  var itemForms = document.querySelectorAll("form.inspection-item");
  if (itemForms.length && "geolocation" in navigator) {
    navigator.geolocation.getCurrentPosition(function (position) {
      itemForms.forEach(function (itemForm) {
        itemForm.querySelector(".js-lon").value = position.coords.longitude.toFixed(6);
        itemForm.querySelector(".js-lat").value = position.coords.latitude.toFixed(6);
      });
    }, function () { /* the grid is used instead */ }, { maximumAge: 300000, timeout: 20000 });
  }
})();
