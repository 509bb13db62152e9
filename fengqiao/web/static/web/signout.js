/*
 * Signing out leaves none of the field app's offline data of the user on the device: the pages and
 * files the service worker kept (caches named "fengqiao-field-…") and the user's reports waiting in
 * the offline outbox (IndexedDB "fengqiao-field", store "outbox", see web/field.js).
 *
 * If reports of the user are still waiting, a dialog says so first and offers to send them (on a
 * field page through window.FengqiaoField.flush(), elsewhere by opening the field app, which sends
 * them when it loads), to delete them and sign out, or to stay signed in.
 * Without JavaScript (or without these browser features) the form simply signs out.
 */
(function () {
  "use strict";

  var form = document.getElementById("signout-form");
  var dialog = document.getElementById("signout-dialog");
  if (!form) return;
  var user = parseInt(form.dataset.user || "0", 10);
  var DB_NAME = "fengqiao-field", STORE = "outbox", CACHE_PREFIX = "fengqiao-field-";

  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { resolve(null); return; }
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "key" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function waiting() {  // the user's queued reports
    return openDb().then(function (db) {
      if (!db) return [];
      return new Promise(function (resolve, reject) {
        var request = db.transaction(STORE, "readonly").objectStore(STORE).getAll();
        request.onsuccess = function () {
          db.close();
          resolve((request.result || []).filter(function (item) { return item.user === user; }));
        };
        request.onerror = function () { db.close(); reject(request.error); };
      });
    });
  }

  function dropQueue() {  // the user's queued reports, not other users' of a shared phone
    return openDb().then(function (db) {
      if (!db) return;
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, "readwrite");
        var store = tx.objectStore(STORE);
        var request = store.getAll();
        request.onsuccess = function () {
          (request.result || []).forEach(function (item) { if (item.user === user) store.delete(item.key); });
        };
        tx.oncomplete = function () { db.close(); resolve(); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function dropCaches() {  // the kept pages hold the user's grids and counts: all of them go
    if (!window.caches) return Promise.resolve();
    return caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) { return key.indexOf(CACHE_PREFIX) === 0; })
        .map(function (key) { return caches.delete(key); }));
    });
  }

  var leaving = false;
  function signOut() {
    leaving = true;
    var done = function () { form.submit(); };
    Promise.all([dropQueue(), dropCaches()]).then(done, done);
  }

  function ask(items) {
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(form.dataset.confirm.replace("%(n)s", items.length))) { dropQueue().then(signOut, signOut); }
      return;
    }
    dialog.querySelector("[data-count]").textContent = String(items.length);
    dialog.querySelector("[data-result]").textContent = "";
    dialog.showModal();
  }

  if (dialog) {
    dialog.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-choice]");
      if (!button) return;
      var choice = button.dataset.choice;
      if (choice === "stay") { dialog.close(); return; }
      if (choice === "delete") { dialog.close(); signOut(); return; }
      if (choice === "send") {
        if (!window.FengqiaoField) { window.location.href = dialog.dataset.fieldUrl; return; }
        button.disabled = true;
        dialog.querySelector("[data-result]").textContent = dialog.dataset.sending;
        window.FengqiaoField.flush().then(function () { return waiting(); }).then(function (items) {
          button.disabled = false;
          if (!items.length) { dialog.close(); signOut(); return; }
          dialog.querySelector("[data-count]").textContent = String(items.length);
          dialog.querySelector("[data-result]").textContent = dialog.dataset.notSent;
        }, function () { button.disabled = false; });
      }
    });
  }

  form.addEventListener("submit", function (event) {
    if (leaving) return;
    event.preventDefault();
    waiting().then(function (items) {
      if (items.length) ask(items); else signOut();
    }, signOut);
  });
})();
