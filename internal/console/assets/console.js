// sluice console: live updates of the approvals inbox (server-sent
// events) and keyboard step-through of session timelines. Every page works
// without this file; it only saves reloading.
(function () {
  "use strict";

  function liveInbox() {
    var inbox = document.getElementById("inbox");
    if (!inbox || !window.EventSource || !window.fetch) return;
    var status = document.getElementById("live-status");
    var say = function (text) { if (status) status.textContent = text; };
    var busy = false, again = false;

    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(inbox.dataset.fragment, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.status === 401) { say("Your session has ended; reload the page to log in again."); throw null; }
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) { merge(html); })
        .catch(function (e) { if (e) say("Live updates failed; reload the page."); })
        .then(function () { busy = false; if (again) { again = false; refresh(); } });
    }

    // merge puts the fresh list in place, keeping the cards someone is
    // writing a reason in.
    function merge(html) {
      var tpl = document.createElement("template");
      tpl.innerHTML = html;
      var next = tpl.content.getElementById("inbox");
      var cur = document.getElementById("inbox");
      if (!next || !cur) return;
      var before = {}, keep = {};
      cur.querySelectorAll("[data-review-id]").forEach(function (card) {
        var id = card.dataset.reviewId, ta = card.querySelector("textarea");
        before[id] = true;
        if (card.contains(document.activeElement) || (ta && ta.value)) keep[id] = card;
      });
      var focused = document.activeElement && document.activeElement.id;
      var selStart = null, selEnd = null;
      if (focused && document.activeElement.selectionStart !== undefined) {
        selStart = document.activeElement.selectionStart; selEnd = document.activeElement.selectionEnd;
      }
      var added = 0;
      next.querySelectorAll("[data-review-id]").forEach(function (card) {
        var id = card.dataset.reviewId;
        if (keep[id]) card.replaceWith(keep[id]);
        else if (!before[id]) { card.classList.add("new"); added++; }
      });
      cur.replaceWith(next);
      inbox = next;
      if (focused) {
        var el = document.getElementById(focused);
        if (el) { el.focus(); if (selStart !== null && el.setSelectionRange) el.setSelectionRange(selStart, selEnd); }
      }
      if (added) say(added === 1 ? "A new review arrived." : added + " new reviews arrived.");
      else say("Live: the list is up to date.");
    }

    var es = new EventSource(inbox.dataset.live);
    es.addEventListener("open", function () { say("Live: new reviews appear here as they arrive."); });
    es.addEventListener("reviews", function (e) {
      if (e.data !== inbox.dataset.version) refresh();
    });
    es.addEventListener("expired", function () {
      es.close();
      say("Your session has ended; reload the page to log in again.");
    });
    es.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED) say("Live updates stopped; reload the page.");
      else say("Live updates paused; reconnecting…");
    });
  }

  function stepThrough() {
    var steps = Array.prototype.slice.call(document.querySelectorAll("[data-testid=timeline-step]"));
    if (!steps.length) return;
    function current() {
      var id = location.hash.slice(1);
      for (var i = 0; i < steps.length; i++) if (steps[i].id === id) return i;
      return -1;
    }
    function go(i) {
      if (i < 0 || i >= steps.length) return;
      history.replaceState(null, "", "#" + steps[i].id);
      steps.forEach(function (s) { s.classList.remove("current"); });
      steps[i].classList.add("current");
      steps[i].focus();
      steps[i].scrollIntoView({ block: "start" });
    }
    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      var t = e.target && e.target.tagName;
      if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT") return;
      if (e.key === "j" || e.key === "n") { go(current() + 1); e.preventDefault(); }
      if (e.key === "k" || e.key === "p") { go(Math.max(current() - 1, 0)); e.preventDefault(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { liveInbox(); stepThrough(); });
})();
