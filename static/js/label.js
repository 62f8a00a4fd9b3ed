// Chorus workbench: what htmx cannot do on its own.
// - keys: 1-8 / t / b (pairwise), Shift+arrows / t / n (ranking), Enter submit, s skip, g guidelines, ? help
// - drag-and-drop ranking with a full keyboard path (buttons and keys), ties allowed
// - never losing work: every submission is kept in localStorage until the server answers,
//   resent after a network error (same client key, so the server stores it once), and drafts
//   of the current item are kept while the labeler works.
(function () {
  "use strict";

  var PENDING = "chorus:pending"; // client key -> {user, url, item, fields, savedAt}
  var DRAFT = "chorus:draft:"; // + user + ":" + item -> {fields, savedAt}
  var DRAFT_DAYS = 7;
  var SKIP_FIELDS = { csrfmiddlewaretoken: 1, client_key: 1, guideline_version: 1, seconds_spent: 1 };
  var retryTimer = null;
  var retryDelay = 1000;
  var inFlight = {};
  var started = Date.now();

  // --- small helpers ------------------------------------------------------------------------
  function load(key, fallback) {
    try {
      var value = localStorage.getItem(key);
      return value ? JSON.parse(value) : fallback;
    } catch (e) {
      return fallback;
    }
  }
  function store(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* storage full or disabled: the server still dedupes on the client key */
    }
  }
  function bench() { return document.getElementById("workbench"); }
  function labelForm() { return document.getElementById("label-form"); }
  function user() { var w = bench(); return w ? w.dataset.user : ""; }
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }
  function fieldsOf(form) {
    var out = [];
    new FormData(form).forEach(function (value, key) {
      if (typeof value === "string") out.push([key, value]);
    });
    return out;
  }
  function banner(message, keepText) {
    var box = document.getElementById("label-network");
    if (!box) return;
    box.hidden = !message;
    box.textContent = message || "";
    if (keepText) {
      var pre = document.createElement("pre");
      pre.className = "kept-text";
      pre.textContent = keepText;
      box.appendChild(pre);
    }
  }

  // --- pending submissions: kept until the server has answered -------------------------------
  function pendingAll() { return load(PENDING, {}); }
  function savePending(form) {
    var all = pendingAll();
    all[form.dataset.clientKey] = {
      user: user(), url: form.getAttribute("hx-post"), item: form.dataset.item, fields: fieldsOf(form), savedAt: Date.now(),
    };
    store(PENDING, all);
  }
  function dropPending(key) {
    var all = pendingAll();
    delete all[key];
    store(PENDING, all);
  }
  function draftKey(item) { return DRAFT + user() + ":" + item; }

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(function () {
      retryTimer = null;
      retryPending();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 5000);
  }

  function retryPending() {
    var all = pendingAll();
    var form = labelForm();
    Object.keys(all).forEach(function (key) {
      var entry = all[key];
      if (entry.user !== user() || inFlight[key]) return;
      if (form && form.dataset.clientKey === key) {
        form.requestSubmit(); // htmx sends it again; hx-sync drops a duplicate while one is in flight
      } else {
        resendDetached(key, entry);
      }
    });
  }

  // A judgment whose page is gone (reloaded, closed): send the stored fields directly.
  function resendDetached(key, entry) {
    inFlight[key] = true;
    fetch(entry.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(entry.fields).toString(),
    }).then(function (response) {
      delete inFlight[key];
      if (response.status >= 500) { scheduleRetry(); return; }
      dropPending(key);
      return response.text().then(function (html) {
        var w = bench();
        if (response.ok && w && w.dataset.item === entry.item) {
          htmx.swap(w, html, { swapStyle: "outerHTML" });
        } else if (!response.ok) {
          var text = entry.fields.filter(function (f) { return f[0] === "rationale" || f[0] === "demonstration"; })
            .map(function (f) { return f[1]; }).filter(Boolean).join("\n\n");
          banner("An earlier judgment could not be stored (" + response.status + "). Your text is kept here:", text);
        }
      });
    }).catch(function () {
      delete inFlight[key];
      banner("Still offline: your judgment is kept on this device and will be sent when the connection is back.");
      scheduleRetry();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "label-form") return;
    var seconds = form.querySelector("input[name=seconds_spent]");
    if (seconds && !seconds.value) seconds.value = ((Date.now() - started) / 1000).toFixed(1);
  }, true);

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form.id === "label-form") {
      inFlight[form.dataset.clientKey] = true;
      savePending(form);
    }
  });
  // beforeSwap fires on the swap target; the element that sent the request is in requestConfig.
  function sender(event) {
    return (event.detail.requestConfig && event.detail.requestConfig.elt) || event.detail.elt;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = sender(event);
    if (!form || form.id !== "label-form") return;
    delete inFlight[form.dataset.clientKey];
    var status = event.detail.xhr.status;
    if (status < 500) {
      dropPending(form.dataset.clientKey); // the server has decided: stored, or told us why not
      retryDelay = 1000;
      banner("");
    }
    if (status < 300) localStorage.removeItem(draftKey(form.dataset.item));
  });
  function onFailure(event) {
    var form = sender(event);
    if (!form || form.id !== "label-form") return;
    delete inFlight[form.dataset.clientKey];
    banner("Network problem: your judgment is kept on this device and will be resent automatically.");
    scheduleRetry();
  }
  document.addEventListener("htmx:sendError", onFailure);
  document.addEventListener("htmx:responseError", onFailure);
  window.addEventListener("online", function () { retryDelay = 1000; retryPending(); });

  // --- drafts of the current item ------------------------------------------------------------
  function saveDraft(form) {
    var fields = fieldsOf(form).filter(function (f) { return !SKIP_FIELDS[f[0]]; });
    store(draftKey(form.dataset.item), { fields: fields, savedAt: Date.now() });
  }
  function restoreDraft(form) {
    var draft = load(draftKey(form.dataset.item), null);
    if (!draft) return;
    var ranks = {};
    draft.fields.forEach(function (f) {
      var name = f[0], value = f[1];
      if (name.indexOf("rank_") === 0) { ranks[name] = Number(value); return; }
      form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") {
          if (el.value === value) el.checked = true;
        } else if (el.type !== "hidden") {
          el.value = value;
        }
      });
    });
    var list = form.querySelector("#rank-list");
    if (list && Object.keys(ranks).length) applyRanks(list, ranks);
  }
  function pruneDrafts() {
    var cutoff = Date.now() - DRAFT_DAYS * 86400000;
    for (var i = localStorage.length - 1; i >= 0; i--) {
      var key = localStorage.key(i);
      if (key && key.indexOf(DRAFT) === 0 && (load(key, {}).savedAt || 0) < cutoff) localStorage.removeItem(key);
    }
  }

  // --- ranking: drag-and-drop and keys, ties allowed -----------------------------------------
  function items(list) { return Array.prototype.slice.call(list.querySelectorAll(".rank-item")); }
  function renumber(list) {
    var rank = 0;
    var parts = [];
    items(list).forEach(function (li, index) {
      var tie = li.querySelector(".tie-box");
      tie.disabled = index === 0;
      if (index === 0) tie.checked = false;
      if (!tie.checked) rank += 1;
      li.querySelector("input[type=hidden]").value = rank;
      li.querySelector(".rank-badge").textContent = rank;
      var name = "Response " + li.dataset.number;
      li.setAttribute("aria-label", "Rank " + rank + ": " + name + (tie.checked ? ", tied with the one above" : ""));
      parts.push((tie.checked ? " = " : (index ? " · " : "")) + (tie.checked ? "" : rank + ". ") + name);
    });
    var summary = document.getElementById("rank-summary");
    if (summary) summary.textContent = "Ranking: " + parts.join("");
  }
  function applyRanks(list, ranks) {
    var sorted = items(list).sort(function (a, b) {
      return (ranks["rank_" + a.dataset.number] || 99) - (ranks["rank_" + b.dataset.number] || 99);
    });
    var previous = null;
    sorted.forEach(function (li) {
      var rank = ranks["rank_" + li.dataset.number];
      li.querySelector(".tie-box").checked = previous !== null && rank === previous;
      previous = rank;
      list.appendChild(li);
    });
    renumber(list);
  }
  function move(li, delta) {
    var list = li.parentNode;
    var other = delta < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!other) return;
    list.insertBefore(delta < 0 ? li : other, delta < 0 ? other : li);
    renumber(list);
    li.focus();
    saveDraft(labelForm());
  }
  function toggleTie(li) {
    var tie = li.querySelector(".tie-box");
    if (tie.disabled) return;
    tie.checked = !tie.checked;
    renumber(li.parentNode);
    saveDraft(labelForm());
  }
  function initRanking(root) {
    var list = root.querySelector("#rank-list");
    if (!list) return;
    var dragging = null;
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-move]");
      if (button) move(button.closest(".rank-item"), Number(button.dataset.move));
    });
    list.addEventListener("change", function (event) {
      if (event.target.classList.contains("tie-box")) renumber(list);
    });
    list.addEventListener("dragstart", function (event) {
      dragging = event.target.closest(".rank-item");
      if (!dragging) return;
      dragging.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragging.dataset.number);
    });
    list.addEventListener("dragover", function (event) {
      if (!dragging) return;
      event.preventDefault();
      var over = event.target.closest(".rank-item");
      if (!over || over === dragging) return;
      var box = over.getBoundingClientRect();
      list.insertBefore(dragging, event.clientY < box.top + box.height / 2 ? over : over.nextElementSibling);
    });
    list.addEventListener("drop", function (event) { event.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (dragging) dragging.classList.remove("dragging");
      dragging = null;
      renumber(list);
      saveDraft(labelForm());
    });
    renumber(list);
  }

  // --- long responses: collapsible and scrollable --------------------------------------------
  function initCollapsibles(root) {
    root.querySelectorAll("[data-expand]").forEach(function (button) {
      var text = button.previousElementSibling;
      if (text.scrollHeight <= text.clientHeight + 4) { button.hidden = true; return; }
      button.addEventListener("click", function () {
        var open = text.classList.toggle("expanded");
        button.setAttribute("aria-expanded", String(open));
        button.textContent = open ? "Show less" : "Show all";
      });
    });
  }

  // --- dialogs and keys ------------------------------------------------------------------------
  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    dialog.showModal();
    var first = dialog.querySelector("input:not([type=hidden]), textarea");
    if (first) first.focus();
  }
  function openModal() { return document.querySelector("dialog[open]"); }
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) openDialog(opener.dataset.openDialog);
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !/^(radio|checkbox|button|submit|hidden)$/.test(el.type);
  }
  function pick(form, value) {
    var input = form.querySelector('input[name=choice][value="' + value + '"]');
    if (!input) return;
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.closest("fieldset").scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    var key = event.key;
    var form = labelForm();
    var target = event.target;
    if (event.defaultPrevented || event.altKey) return;
    if ((event.ctrlKey || event.metaKey) && key === "Enter") {
      var owner = target.form || form;
      if (owner) { event.preventDefault(); owner.requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey) return;
    var modal = openModal();
    if (modal) {
      if (key === "Enter" && target.type === "radio" && target.form) { event.preventDefault(); target.form.requestSubmit(); }
      return; // Esc closes natively
    }
    if (typing(target)) {
      if (key === "Escape") target.blur();
      return;
    }
    if (key === "?") { event.preventDefault(); openDialog("help-dialog"); return; }
    if (key === "g") { event.preventDefault(); openDialog("guidelines-dialog"); return; }
    if (!form) return;
    var rankItem = target.closest && target.closest(".rank-item");
    if (rankItem && (key === "ArrowUp" || key === "ArrowDown")) {
      event.preventDefault();
      var delta = key === "ArrowUp" ? -1 : 1;
      if (event.shiftKey) { move(rankItem, delta); return; }
      var next = delta < 0 ? rankItem.previousElementSibling : rankItem.nextElementSibling;
      if (next) next.focus();
      return;
    }
    if (/^[1-8]$/.test(key) && form.querySelector("input[name=choice]")) { event.preventDefault(); pick(form, key); return; }
    if (key === "t") {
      if (rankItem) { event.preventDefault(); toggleTie(rankItem); return; }
      if (form.querySelector("input[name=choice]")) { event.preventDefault(); pick(form, "tie"); }
      return;
    }
    if (key === "b" && form.querySelector("input[name=choice]")) { event.preventDefault(); pick(form, "both_bad"); return; }
    if (key === "n") {
      var none = form.querySelector("input[name=none_acceptable]");
      if (none) { event.preventDefault(); none.checked = !none.checked; saveDraft(form); }
      return;
    }
    if (key === "s") { event.preventDefault(); openDialog("skip-dialog"); return; }
    if (key === "r" || key === "w") {
      var box = form.querySelector(key === "r" ? "#rationale" : "#demonstration");
      if (box) { event.preventDefault(); box.focus(); }
      return;
    }
    if (key === "Enter" && !/^(BUTTON|A|SUMMARY)$/.test(target.tagName)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // --- per item set-up (first page load and every swapped-in item) ---------------------------
  var tick = null;
  function initWorkbench(root) {
    started = Date.now();
    if (tick) clearInterval(tick);
    var timer = root.querySelector("#item-timer");
    if (timer) {
      tick = setInterval(function () {
        var s = Math.floor((Date.now() - started) / 1000);
        timer.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      }, 1000);
    }
    var form = root.querySelector("#label-form");
    if (form) {
      restoreDraft(form);
      form.addEventListener("input", function () { saveDraft(form); });
      form.addEventListener("change", function () { saveDraft(form); });
      initRanking(form);
      initCollapsibles(form);
    }
    var pending = pendingAll();
    if (Object.keys(pending).some(function (k) { return pending[k].user === user(); })) scheduleRetry();
  }

  htmx.onLoad(function (elt) {
    var root = elt.id === "workbench" ? elt : elt.querySelector && elt.querySelector("#workbench");
    if (root) initWorkbench(root);
  });
  pruneDrafts();
})();
