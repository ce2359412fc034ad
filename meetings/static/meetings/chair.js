// The chair's case page during the meeting: autosave, nothing lost when the connection drops,
// and j / k to move between cases. Progressive enhancement only: without this script every
// field is saved by the plain "Save" button (a normal form post).
(function () {
  "use strict";

  var form = document.getElementById("discussion-form");
  var status = document.getElementById("autosave-status");
  var dirty = {};
  var timer = null;
  var retry = null;
  var inflight = false;
  var stopped = false;
  var after = [];

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function go(id) {
    var link = document.getElementById(id);
    if (!link) return;
    flushThen(function () { window.location.href = link.href; });
  }

  // The sticky case bar must never cover the control that has focus: the page scrolls a
  // focused control (or a linked field) into view below the bar, however tall it wraps.
  var bar = document.querySelector(".hub-case-nav");
  function padForBar() {
    document.documentElement.style.setProperty("--hub-case-nav-height", bar.offsetHeight + "px");
  }
  if (bar) {
    padForBar();
    if (window.ResizeObserver) new window.ResizeObserver(padForBar).observe(bar);
  }

  // The single-key shortcuts can be turned off (a speech user's "j" must not change the case);
  // the choice is kept on this laptop.
  var SHORTCUTS = "hub.chair.shortcuts";
  var toggle = document.getElementById("use-shortcuts");

  function shortcutsOn() {
    try { return window.localStorage.getItem(SHORTCUTS) !== "off"; } catch (e) { return true; }
  }

  if (toggle) {
    toggle.checked = shortcutsOn();
    document.getElementById("shortcuts-control").hidden = false;
    toggle.addEventListener("change", function () {
      try {
        if (toggle.checked) window.localStorage.removeItem(SHORTCUTS);
        else window.localStorage.setItem(SHORTCUTS, "off");
      } catch (e) { /* storage disabled: the choice lasts for this page */ }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.metaKey || event.ctrlKey || event.shiftKey) {
      if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S") && form) {
        event.preventDefault();
        save();
      }
      return;
    }
    if (typing(event.target)) return;
    if (toggle ? !toggle.checked : !shortcutsOn()) return;
    if (event.key === "j") go("next-case");
    if (event.key === "k") go("previous-case");
  });

  if (!form || !status || !window.fetch || !window.FormData) return;

  var key = form.getAttribute("data-storage-key");
  var csrf = form.querySelector("input[name='csrf_token']").value;
  var fields = Array.prototype.slice.call(
    document.querySelectorAll("[form='discussion-form'][data-autosave]"));

  function byName(name) {
    for (var i = 0; i < fields.length; i++) if (fields[i].name === name) return fields[i];
    return null;
  }

  function value(el) {
    return el.type === "checkbox" ? (el.checked ? "1" : "") : el.value;
  }

  function setValue(el, v) {
    if (el.type === "checkbox") el.checked = v === "1"; else el.value = v;
  }

  function show(text, kind) {
    status.textContent = text;
    status.className = "hub-autosave" + (kind ? " hub-autosave--" + kind : "");
  }

  // Unsent text lives in this laptop's storage until the server has it.
  function store() {
    try {
      var pending = {};
      Object.keys(dirty).forEach(function (n) { var el = byName(n); if (el) pending[n] = value(el); });
      if (Object.keys(pending).length) {
        window.localStorage.setItem(key, JSON.stringify({ at: Date.now(), values: pending }));
      } else if (!Object.keys(dirty).length) {
        window.localStorage.removeItem(key);
      }
    } catch (e) { /* storage full or disabled: the page still saves while online */ }
  }

  function clearErrors() {
    fields.forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(save, delay);
  }

  function finish() {
    var waiting = after;
    after = [];
    waiting.forEach(function (fn) { fn(); });
  }

  function offline() {
    store();
    show("Offline – what you typed is kept on this laptop and will be saved when the connection returns", "offline");
    clearTimeout(retry);
    retry = setTimeout(save, 5000);
    finish();
  }

  function save() {
    if (stopped) { finish(); return; }
    if (inflight) { schedule(400); return; }
    var names = Object.keys(dirty);
    if (!names.length) { finish(); return; }
    var body = new FormData();
    var sent = {};
    body.append("csrf_token", csrf);
    body.append("_partial", "1");
    names.forEach(function (n) { var el = byName(n); if (el) { sent[n] = value(el); body.append(n, sent[n]); } });
    inflight = true;
    show("Saving…");
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { response: response, data: data }; },
                                   function () { return { response: response, data: {} }; });
    }).then(function (result) {
      inflight = false;
      var data = result.data || {};
      if (result.response.ok && data.saved) {
        names.forEach(function (n) { var el = byName(n); if (el && value(el) === sent[n]) delete dirty[n]; });
        store();
        clearErrors();
        show("Saved at " + data.saved_at, "saved");
        if (Object.keys(dirty).length) schedule(1000); else finish();
      } else if (result.response.status === 422 && data.errors) {
        store();
        var first = Object.keys(data.errors)[0];
        var el = byName(first);
        if (el) el.setAttribute("aria-invalid", "true");
        show("Not saved: " + data.errors[first], "offline");
        finish();
      } else if (result.response.status >= 400 && result.response.status < 500) {
        stopped = true;  // locked minutes, expired session: retrying will not help
        store();
        show((data.error || "Not saved") + " – reload the page; your text is kept on this laptop.", "offline");
        finish();
      } else {
        offline();
      }
    }).catch(function () { inflight = false; offline(); });
  }

  function flushThen(fn) {
    if (!Object.keys(dirty).length || stopped) { fn(); return; }
    after.push(fn);
    setTimeout(function () { if (after.indexOf(fn) >= 0) { after.splice(after.indexOf(fn), 1); fn(); } }, 3000);
    clearTimeout(timer);
    save();
  }

  fields.forEach(function (el) {
    var kind = (el.type === "checkbox" || el.tagName === "SELECT") ? "change" : "input";
    el.addEventListener(kind, function () {
      dirty[el.name] = true;
      store();
      show("Not saved yet");
      schedule(kind === "change" ? 200 : 1500);
    });
  });

  window.addEventListener("online", function () { stopped = false; save(); });
  window.addEventListener("pagehide", function () { if (Object.keys(dirty).length) store(); });

  // Anything typed before this script arrived (a slow connection) still counts as unsaved.
  function changedSinceLoad(el) {
    if (el.type === "checkbox") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      for (var i = 0; i < el.options.length; i++) {
        if (el.options[i].selected !== el.options[i].defaultSelected) return true;
      }
      return false;
    }
    return el.value !== el.defaultValue;
  }
  fields.forEach(function (el) { if (changedSinceLoad(el)) dirty[el.name] = true; });
  if (Object.keys(dirty).length) { store(); schedule(300); }

  // Text typed here earlier that never reached the server (connection lost, tab closed).
  try {
    var saved = JSON.parse(window.localStorage.getItem(key) || "null");
    if (saved && saved.values) {
      var restored = 0;
      Object.keys(saved.values).forEach(function (n) {
        var el = byName(n);
        if (el && value(el) !== saved.values[n]) {
          setValue(el, saved.values[n]);
          dirty[n] = true;
          restored += 1;
        }
      });
      if (restored) {
        show("Restored text typed on this laptop that had not been saved – saving now");
        schedule(300);
      } else if (!Object.keys(dirty).length) {
        window.localStorage.removeItem(key);
      }
    }
  } catch (e) { /* nothing stored, or storage disabled */ }
})();
