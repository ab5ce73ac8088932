/* Client-side behaviour of the site, no server and no other host:
   1. Reading list: buttons marked data-filter-tag (and data-filter-priority) show only the entries
      whose data-tags (data-priority) match; "all" shows everything again.
   2. Search: one index serves both languages; search-language.js keeps results to the page's
      language, and where it finds none there, the other language's results are marked.
   3. Figures: on a phone each keeps half its natural width (a figure without --mi-phone-width
      gets it from its image). */
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

  function siteRoot() {
    var config = document.getElementById("__config");
    var base = config ? JSON.parse(config.textContent).base : ".";
    return new URL(base, location.href).pathname.replace(/\/?$/, "/");
  }

  function isChinese(href) {
    return new URL(href, location.href).pathname.indexOf(siteRoot() + "zh/") === 0;
  }

  // search-language.js keeps results to the page's language; where none is in it, the other
  // language's results are listed: each gets a visible mark saying which language it is in.
  var OTHER = { en: "中文", zh: "English（英文）" };

  function markSearch() {
    var list = document.querySelector(".md-search-result__list");
    if (!list || list.dataset.marked) { return; }
    list.dataset.marked = "1";
    var lang = pageLanguage();
    var mark = function () {
      list.querySelectorAll(".md-search-result__item").forEach(function (item) {
        var link = item.querySelector("a.md-search-result__link");
        if (!link || item.querySelector(".mi-search-lang")) { return; }
        var other = isChinese(link.href) !== (lang === "zh");
        if (!other) { return; }
        var badge = document.createElement("span");
        badge.className = "mi-search-lang";
        badge.setAttribute("data-lang", lang === "zh" ? "en" : "zh");
        badge.textContent = OTHER[lang];
        var heading = item.querySelector("h1, h2, .md-search-result__article") || link;
        heading.appendChild(badge);
      });
    };
    new MutationObserver(mark).observe(list, { childList: true, subtree: true });
    mark();
  }

  // 3. Figures on a phone keep half their natural width (docs/assets/css/extra.css): the site's
  //    generators set --mi-phone-width on each image; a figure added without it gets it here.
  function figureWidths() {
    document.querySelectorAll("figure.mi-figure img").forEach(function (img) {
      if (img.style.getPropertyValue("--mi-phone-width")) { return; }
      var set = function () {
        if (img.naturalWidth) {
          img.style.setProperty("--mi-phone-width", Math.round(img.naturalWidth / 2) + "px");
        }
      };
      if (img.complete) { set(); } else { img.addEventListener("load", set); }
    });
  }

  function start() {
    figureWidths();
    setupFilters();
    markSearch();
  }

  if (window.document$ && window.document$.subscribe) {
    window.document$.subscribe(start);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
