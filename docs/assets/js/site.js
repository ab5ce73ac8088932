/* Client-side behaviour of the site, no server and no other host:
   1. Reading list: buttons marked data-filter-tag (and data-filter-priority) show only the entries
      whose data-tags (data-priority) match; "all" shows everything again.
   2. Search: one index serves both languages; results in the other language are hidden. */
(function () {
  "use strict";

  function setupFilters() {
    var root = document.querySelector(".mi-filters");
    if (!root || root.dataset.ready) { return; }
    root.dataset.ready = "1";
    var state = { tag: "", priority: "" };
    var entries = Array.prototype.slice.call(document.querySelectorAll(".mi-entry[data-tags]"));
    var count = root.querySelector(".mi-filter-count");

    function apply() {
      var shown = 0;
      entries.forEach(function (el) {
        var tags = (el.getAttribute("data-tags") || "").split(" ");
        var ok = (!state.tag || tags.indexOf(state.tag) >= 0) &&
                 (!state.priority || el.getAttribute("data-priority") === state.priority);
        el.hidden = !ok;
        if (ok) { shown += 1; }
      });
      document.querySelectorAll(".mi-section").forEach(function (section) {
        section.hidden = !section.querySelector(".mi-entry:not([hidden])");
      });
      root.querySelectorAll("button").forEach(function (b) {
        var kind = b.hasAttribute("data-filter-tag") ? "tag" : "priority";
        var value = b.getAttribute("data-filter-" + kind);
        b.setAttribute("aria-pressed", String(state[kind] === value));
      });
      if (count) { count.textContent = shown + " of " + entries.length + " entries"; }
    }

    document.addEventListener("click", function (event) {
      var b = event.target.closest("button[data-filter-tag], button[data-filter-priority]");
      if (!b) { return; }
      if (b.hasAttribute("data-filter-tag")) { state.tag = b.getAttribute("data-filter-tag"); }
      if (b.hasAttribute("data-filter-priority")) {
        state.priority = b.getAttribute("data-filter-priority");
      }
      apply();
    });
    apply();
  }

  function pageLanguage() {
    return (document.documentElement.getAttribute("lang") || "en").slice(0, 2);
  }

  function isChinese(href) {
    var base = new URL(document.querySelector("a.md-logo, a.md-header__button.md-logo") ?
      document.querySelector("a.md-logo").href : location.href);
    var root = base.pathname.replace(/zh\/$/, "");
    return new URL(href, location.href).pathname.indexOf(root + "zh/") === 0;
  }

  function filterSearch() {
    var list = document.querySelector(".md-search-result__list");
    if (!list) { return; }
    var wantZh = pageLanguage() === "zh";
    var hide = function () {
      list.querySelectorAll(".md-search-result__item").forEach(function (item) {
        var link = item.querySelector("a.md-search-result__link");
        if (link) { item.hidden = isChinese(link.href) !== wantZh; }
      });
    };
    new MutationObserver(hide).observe(list, { childList: true, subtree: true });
    hide();
  }

  function start() {
    setupFilters();
    filterSearch();
  }

  if (window.document$ && window.document$.subscribe) {
    window.document$.subscribe(start);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
