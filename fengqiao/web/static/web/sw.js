/* The field app's service worker (scope /field/). The shell (pages, styles, script, icons) is kept
 * for loading without a network; pages are fetched from the network first, so they are fresh when
 * it is there. Only GET requests are touched: reports (POST) always go to the network, and the
 * page's outbox keeps those that cannot be sent. Large assets a page loads only when needed (the
 * charting library of the map to tap a position on) are not fetched at install, on a slow
 * connection, but kept once a page has used them, so the map works offline afterwards. The server
 * fills in __SHELL__, __LAZY__ and __VERSION__. */
"use strict";

var SHELL = __SHELL__;
var LAZY = __LAZY__;
var CACHE = "fengqiao-field-__VERSION__";

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return cache.add(new Request(url, { credentials: "same-origin" })).catch(function () { /* try again later */ });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) {
      return key.indexOf("fengqiao-field-") === 0 && key !== CACHE;
    }).map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

function isShellPage(url) {
  return SHELL.indexOf(url.pathname) !== -1;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    // network first; keep a fresh copy of the shell pages only (no case lists on the phone)
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok && !response.redirected && isShellPage(url)) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (hit) {
        return hit || caches.match(SHELL[0]);
      });
    }));
    return;
  }
  if (LAZY.indexOf(url.pathname) !== -1) {
    // kept once used: from the cache when there, else fetched and kept
    event.respondWith(caches.match(url.pathname).then(function (hit) {
      return hit || fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(url.pathname, copy); }));
        }
        return response;
      });
    }));
    return;
  }
  if (SHELL.indexOf(url.pathname) !== -1) {
    // styles, script and icons: from the cache, refreshed in the background
    event.respondWith(caches.match(url.pathname).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
        }
        return response;
      });
      if (hit) {
        fresh.catch(function () { /* offline */ });
        return hit;
      }
      return fresh;
    }));
  }
});
