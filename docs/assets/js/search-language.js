/* Search results in the page's language, counted as shown.
   One search index serves both languages (mkdocs.yml). mkdocs-material's search worker answers
   each query with {type: 3, data: {items: [...]}}, and the bundle both counts and renders
   data.items. This script, loaded before the bundle (docs/overrides/main.html), wraps the
   worker's "message" listeners: a result keeps only the items in the page's language, so the
   count ("7 matching documents") is the number of results listed. When none is in the page's
   language (a zh search for an English-only term), the other language's items are kept, and
   site.js marks each of them with its language. */
(function () {
  "use strict";
  var Native = window.Worker;
  if (!Native) { return; }
  var RESULT = 3;  // material's SearchMessageType.RESULT

  function pageLanguage() {
    return (document.documentElement.getAttribute("lang") || "en").slice(0, 2);
  }

  function siteRoot() {
    var config = document.getElementById("__config");
    var base = config ? JSON.parse(config.textContent).base : ".";
    var root = new URL(base, location.href).pathname;
    root = root.replace(/\/?$/, "/");
    return pageLanguage() === "zh" ? root.replace(/zh\/$/, "") : root;
  }

  function languageOf(item) {
    var doc = Array.isArray(item) ? item[0] : item;
    var where = doc && (doc.location || doc.url || "");
    var path = new URL(where, new URL(siteRoot(), location.href)).pathname;
    return path.indexOf(siteRoot() + "zh/") === 0 ? "zh" : "en";
  }

  function keepLanguage(message) {
    if (!message || message.type !== RESULT || !message.data ||
        !Array.isArray(message.data.items)) {
      return message;
    }
    var lang = pageLanguage();
    var own = message.data.items.filter(function (item) { return languageOf(item) === lang; });
    if (!own.length) { return message; }  // nothing in this language: show the other, marked
    var data = Object.assign({}, message.data, { items: own });
    return Object.assign({}, message, { data: data });
  }

  function Worker(url, options) {
    var worker = new Native(url, options);
    var add = worker.addEventListener.bind(worker);
    worker.addEventListener = function (type, listener, opts) {
      if (type !== "message" || typeof listener !== "function") {
        return add(type, listener, opts);
      }
      return add(type, function (event) {
        var data = keepLanguage(event.data);
        if (data === event.data) { return listener.call(this, event); }
        return listener.call(this, new MessageEvent("message", { data: data }));
      }, opts);
    };
    return worker;
  }
  Worker.prototype = Native.prototype;
  window.Worker = Worker;
})();
