// 原上管家 staff console: live queue, new-handover notices, the conversation pane.
// No framework. Text from the server is only ever set with textContent (never innerHTML).
(function () {
  "use strict";

  var body = document.body;
  var page = body.dataset.page || "";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var conversationId = body.dataset.conversation || "";
  var baseTitle = document.title;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location.href = "/console/login?next=" + encodeURIComponent(location.pathname); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  // ---- waiting times tick every second ---------------------------------------------------------
  function waited(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) return h + "小时" + m + "分";
    if (m) return m + "分" + (s < 10 ? "0" : "") + s + "秒";
    return s + "秒";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (n) {
      var t = Date.parse(n.dataset.since);
      if (!isNaN(t)) n.textContent = waited((now - t) / 1000);
    });
  }
  setInterval(tick, 1000);

  // ---- notices: toast, title flash, optional sound ---------------------------------------------
  var soundToggle = document.getElementById("sound-toggle");
  var audioCtx = null;
  if (soundToggle) {
    soundToggle.checked = localStorage.getItem("console-sound") === "1";
    soundToggle.addEventListener("change", function () {
      localStorage.setItem("console-sound", soundToggle.checked ? "1" : "0");
      if (soundToggle.checked) beep();
    });
  }
  function beep() {
    try {
      audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
      var o = audioCtx.createOscillator(), g = audioCtx.createGain();
      o.type = "sine"; o.frequency.value = 880;
      g.gain.setValueAtTime(0.0001, audioCtx.currentTime);
      g.gain.exponentialRampToValueAtTime(0.2, audioCtx.currentTime + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, audioCtx.currentTime + 0.5);
      o.connect(g); g.connect(audioCtx.destination);
      o.start(); o.stop(audioCtx.currentTime + 0.5);
    } catch (e) { /* no audio available */ }
  }
  // The tab title starts with what waits for me: "(3) 人工队列 · …" (unclaimed handovers in my scope plus
  // unread messages of the conversations I serve; /console/api/queue "waiting").
  var waiting = 0;
  function plainTitle() { return (waiting > 0 ? "(" + waiting + ") " : "") + baseTitle; }
  function setWaiting(n) {
    waiting = Math.max(0, n | 0);
    if (!flashTimer) document.title = plainTitle();
  }
  var flashTimer = null;
  function flashTitle(text) {
    if (flashTimer) clearInterval(flashTimer);
    var on = false, count = 0;
    flashTimer = setInterval(function () {
      on = !on; count += 1;
      document.title = on ? "【" + text + "】" + plainTitle() : plainTitle();
      if (count > 20 && document.hasFocus()) { clearInterval(flashTimer); flashTimer = null; document.title = plainTitle(); }
    }, 800);
  }
  window.addEventListener("focus", function () {
    if (flashTimer && document.visibilityState === "visible") {
      setTimeout(function () { if (flashTimer) { clearInterval(flashTimer); flashTimer = null; document.title = plainTitle(); } }, 4000);
    }
  });
  // Optional browser notifications (opt-in like the sound): only while the page is in the background.
  var notifyToggle = document.getElementById("notify-toggle");
  function notifyOn() { return !!(notifyToggle && notifyToggle.checked && window.Notification && Notification.permission === "granted"); }
  if (notifyToggle) {
    if (!window.Notification) { notifyToggle.disabled = true; notifyToggle.parentNode.title = "此浏览器不支持桌面通知"; }
    notifyToggle.checked = localStorage.getItem("console-notify") === "1" && !!window.Notification && Notification.permission === "granted";
    notifyToggle.addEventListener("change", function () {
      if (!notifyToggle.checked) { localStorage.setItem("console-notify", "0"); return; }
      Promise.resolve(Notification.requestPermission()).then(function (p) {
        var ok = p === "granted";
        notifyToggle.checked = ok;
        localStorage.setItem("console-notify", ok ? "1" : "0");
        if (!ok) toast("未开启桌面通知", "浏览器没有允许本站发送通知，可在浏览器的网站设置中开启。");
      });
    });
  }
  function desktopNotice(title, text, href, tag) {
    if (!notifyOn() || document.visibilityState === "visible") return;
    try {
      var n = new Notification(title, { body: text, tag: tag || href || title });
      n.onclick = function () { window.focus(); if (href) window.location.href = href; n.close(); };
    } catch (e) { /* some browsers only allow notifications from a service worker */ }
  }
  function toast(title, text, href) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = el("div", "toast");
    t.setAttribute("role", "status");
    t.appendChild(el("b", "", title));
    t.appendChild(el("span", "", text));
    if (href) {
      t.appendChild(document.createTextNode(" "));
      var a = el("a", "", "打开");
      a.href = href;
      t.appendChild(a);
    }
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 12000);
  }

  // ---- the queue -------------------------------------------------------------------------------
  var known = null;          // handover id -> claimed_by, to spot new and transferred-to-me items
  var unreadSeen = {};       // handover id -> unread count last seen, to spot new messages in my conversations
  var me = null;
  function renderQueue(items) {
    var tbody = document.getElementById("queue-body");
    var count = document.getElementById("queue-count");
    if (count) count.textContent = String(items.length);
    if (!tbody) return;
    var rows = [];
    if (!items.length) {
      var tr = el("tr", "empty"), td = el("td", "", "当前没有等待处理的转人工会话。");
      td.colSpan = 7; tr.appendChild(td); rows.push(tr);
    }
    items.forEach(function (it) {
      var tr = el("tr");
      tr.dataset.id = it.id;
      if (known && !(it.id in known)) tr.className = "fresh";
      var wait = el("td", "wait"); wait.dataset.since = it.created_at; tr.appendChild(wait);
      var ent = el("td"), a = el("a", "", it.enterprise);
      a.href = "/console/conversations/" + encodeURIComponent(it.conversation_id); ent.appendChild(a);
      if (it.unread) { ent.appendChild(document.createTextNode(" ")); var u = el("span", "unread", it.unread); u.title = "企业的未读消息"; ent.appendChild(u); }
      tr.appendChild(ent);
      tr.appendChild(el("td", "", it.reason));
      tr.appendChild(el("td", "", it.category));
      tr.appendChild(el("td", "", it.node));
      tr.appendChild(el("td", "preview", it.last_user_text));
      var st = el("td"), badge;
      if (it.claimed_by === null || it.claimed_by === undefined) badge = el("span", "badge wait", "待接单");
      else if (it.mine) badge = el("span", "badge mine", "我在处理");
      else badge = el("span", "badge busy", (it.claimed_by_name || "他人") + " 处理中");
      st.appendChild(badge); tr.appendChild(st);
      rows.push(tr);
    });
    tbody.replaceChildren.apply(tbody, rows);
    tick();
  }
  var queueTimer = null;
  function refreshQueue(notify) {
    return getJSON("/console/api/queue").then(function (data) {
      var items = data.items || [];
      if (known !== null && notify) {
        items.forEach(function (it) {
          var href = "/console/conversations/" + encodeURIComponent(it.conversation_id);
          if (!(it.id in known)) {
            if (it.mine) toast("会话已转交给您", it.enterprise + " · " + it.reason, href);
            else toast("新的转人工", it.enterprise + " · " + it.reason + " · " + it.node, href);
            desktopNotice(it.mine ? "会话已转交给您" : "新的转人工", it.enterprise + " · " + it.reason, href, "handover-" + it.id);
            flashTitle("新转人工");
            if (soundToggle && soundToggle.checked) beep();
          } else if (it.mine && known[it.id] !== it.claimed_by) {
            toast("会话已转交给您", it.enterprise, href);
            desktopNotice("会话已转交给您", it.enterprise, href, "handover-" + it.id);
            flashTitle("转交给您");
          } else if (it.mine && (it.unread || 0) > (unreadSeen[it.id] || 0) && it.conversation_id !== conversationId) {
            desktopNotice("企业发来新消息", it.enterprise + "：" + it.last_user_text, href, "message-" + it.id);
          }
        });
      }
      known = {};
      unreadSeen = {};
      items.forEach(function (it) { known[it.id] = it.claimed_by; unreadSeen[it.id] = it.unread || 0; });
      if (typeof data.waiting === "number") setWaiting(data.waiting);
      if (page === "queue") renderQueue(items);
    }).catch(function () { /* next event or the periodic resync tries again */ });
  }
  function scheduleQueue(notify) {
    if (queueTimer) clearTimeout(queueTimer);
    queueTimer = setTimeout(function () { queueTimer = null; refreshQueue(notify); }, 150);
  }

  // ---- the conversation pane ---------------------------------------------------------------------
  var messages = document.getElementById("messages");
  var lastId = parseInt(body.dataset.lastId || "0", 10) || 0;
  var initialHandover = { id: body.dataset.handover || "", claimed: body.dataset.claimed || "", open: body.dataset.open || "0" };
  function scrollDown() { if (messages) messages.scrollTop = messages.scrollHeight; }
  function appendMessage(m) {
    if (!messages || messages.querySelector('[data-id="' + m.id + '"]')) return;
    var empty = messages.querySelector(".empty");
    if (empty) empty.remove();
    var li = el("li", "msg " + m.kind);
    li.dataset.id = m.id;
    li.appendChild(el("div", "who", m.who + " · " + m.time));
    li.appendChild(m.file ? fileBox(m.file) : el("div", "text", m.text));
    if (m.buttons && m.buttons.length) {
      var chips = el("div", "chips");
      m.buttons.forEach(function (b) { chips.appendChild(el("span", "chip", b)); });
      li.appendChild(chips);
    }
    messages.appendChild(li);
    lastId = Math.max(lastId, m.id);
  }
  function fileBox(f) {
    // A file in the transcript (bot/desk/files.py): thumbnail for images, a download link (audited) for all.
    var box = el("div", "file"), href = "/console/files/" + encodeURIComponent(f.id);
    var size = f.size >= 1048576 ? (f.size / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(f.size / 1024)) + " KB";
    if (f.kind === "image") {
      var a = el("a"); a.href = href + "?dl=1";
      var img = el("img", "file-thumb"); img.src = href; img.alt = f.name; img.loading = "lazy";
      a.appendChild(img); box.appendChild(a);
    }
    var link = el("a", "file-link", "下载 " + f.name + "（" + size + "）");
    link.href = href + "?dl=1"; link.setAttribute("download", f.name);
    box.appendChild(link);
    return box;
  }
  var paneBusy = false, paneAgain = false;
  function refreshPane() {
    if (!conversationId) return;
    if (paneBusy) { paneAgain = true; return; }
    paneBusy = true;
    getJSON("/console/api/conversations/" + encodeURIComponent(conversationId) + "?after=" + lastId).then(function (data) {
      var atBottom = messages && messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
      (data.messages || []).forEach(appendMessage);
      if ((data.messages || []).length) markRead();
      if (atBottom) scrollDown();
      var h = data.handover || {};
      var changed = String(h.id || "") !== initialHandover.id || String(h.claimed_by || "") !== initialHandover.claimed ||
        (h.open ? "1" : "0") !== initialHandover.open;
      var notice = document.getElementById("state-notice");
      if (notice && changed) {
        var text = !h.open ? "人工服务已结束或已转交。" : (h.claimed_by_name ? "会话现由 " + h.claimed_by_name + " 接待。" : "会话状态已变化。");
        notice.replaceChildren(el("span", "", text + " "));
        var a = el("a", "", "刷新页面"); a.href = location.pathname; notice.appendChild(a);
        notice.hidden = false;
      }
      var mode = document.getElementById("mode");
      if (mode && data.mode) mode.textContent = { bot: "机器人接待中", waiting: "等待人工", staff: "人工服务中" }[data.mode] || data.mode;
    }).catch(function () {}).then(function () {
      paneBusy = false;
      if (paneAgain) { paneAgain = false; refreshPane(); }
    });
  }

  // What the open pane shows is read (console_reads): told when new messages arrive while it is visible.
  var readSent = parseInt(body.dataset.lastId || "0", 10) || 0;
  function markRead() {
    if (!conversationId || document.visibilityState !== "visible" || lastId <= readSent) return;
    var upTo = lastId;
    fetch("/console/api/conversations/" + encodeURIComponent(conversationId) + "/read", {
      method: "POST", credentials: "same-origin", body: JSON.stringify({ last_id: upTo }),
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf }
    }).then(function (r) { if (r.ok) { readSent = Math.max(readSent, upTo); scheduleQueue(false); } }).catch(function () {});
  }
  document.addEventListener("visibilitychange", markRead);

  var composer = document.getElementById("composer");
  var canned = document.getElementById("canned");
  var textBox = document.getElementById("reply-text");
  // Reply and internal note are two modes (tabs); each shows only its own button, Ctrl+Enter sends in the mode shown.
  function noteMode() { var n = document.getElementById("mode-note"); return !!(n && n.checked); }
  function showMode() {
    if (!composer) return;
    var note = noteMode();
    composer.classList.toggle("note-mode", note);
    composer.setAttribute("action", composer.getAttribute("action").replace(/\/(reply|note)$/, note ? "/note" : "/reply"));
    if (textBox) textBox.placeholder = note ? "内部备注，只有工作人员可见（Ctrl+Enter 添加备注）" : "回复企业的内容（Ctrl+Enter 发送给企业）";
  }
  if (composer) {
    composer.querySelectorAll('input[name="mode"]').forEach(function (r) {
      r.addEventListener("change", function () { showMode(); if (textBox) textBox.focus(); });
    });
    showMode();
  }
  if (canned && textBox) {
    canned.addEventListener("change", function () {
      if (!canned.value) return;
      textBox.value = textBox.value ? textBox.value.replace(/\s*$/, "\n") + canned.value : canned.value;
      canned.value = "";
      textBox.focus();
    });
  }
  if (composer && textBox) {
    textBox.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        var button = document.getElementById(noteMode() ? "note" : "send");
        var errorBox = document.getElementById("composer-error");
        if (button && !button.disabled) composer.requestSubmit(button);
        else if (errorBox) errorBox.textContent = "接单后才能回复企业；如需记录，请切换到「内部备注」。";
      }
    });
    composer.addEventListener("submit", function (ev) {
      var submitter = ev.submitter;
      var action = (submitter && submitter.getAttribute("formaction")) || composer.getAttribute("action");
      if (/\/reply$/.test(action) === noteMode()) { ev.preventDefault(); return; }   // never across modes
      var text = textBox.value.trim();
      if (!text) return;
      ev.preventDefault();
      var errorBox = document.getElementById("composer-error");
      var buttons = composer.querySelectorAll("button");
      buttons.forEach(function (b) { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; });
      var form = new URLSearchParams(new FormData(composer));
      fetch(action, {
        method: "POST", credentials: "same-origin", body: form,
        headers: { Accept: "application/json", "X-CSRF-Token": csrf }
      }).then(function (r) {
        return r.json().catch(function () { return { ok: false, message: "HTTP " + r.status }; });
      }).then(function (data) {
        if (data.ok) { textBox.value = ""; if (errorBox) errorBox.textContent = ""; refreshPane(); scrollDown(); }
        else if (errorBox) errorBox.textContent = data.message || "发送失败，请重试。";
      }).catch(function () {
        if (errorBox) errorBox.textContent = "网络异常，发送失败，请重试。";
      }).then(function () {
        buttons.forEach(function (b) { b.disabled = b.dataset.wasDisabled === "1"; });
        textBox.focus();
      });
    });
  }

  var endForm = document.getElementById("end-form");
  if (endForm) {
    endForm.addEventListener("submit", function (ev) {
      if (!window.confirm("确定结束人工服务吗？结束后由机器人继续接待，并请企业评价本次服务。")) ev.preventDefault();
    });
  }

  // ---- the event stream ----------------------------------------------------------------------------
  function connect() {
    if (!window.EventSource || !csrf) return;
    var url = "/console/events" + (conversationId ? "?conversation=" + encodeURIComponent(conversationId) : "");
    var es = new EventSource(url);
    function data(ev) { try { return JSON.parse(ev.data || "{}"); } catch (e) { return {}; } }
    es.addEventListener("ready", function () {
      // catch up after a reconnect; once the first catch-up is in, the page is live (tests wait for this)
      refreshQueue(known !== null).then(function () { document.documentElement.dataset.live = "ready"; });
      if (conversationId) refreshPane();
    });
    es.addEventListener("handover", function (ev) {
      scheduleQueue(true);
      if (conversationId && data(ev).conversation_id === conversationId) refreshPane();
    });
    es.addEventListener("queue", function (ev) {
      scheduleQueue(true);
      if (conversationId && data(ev).conversation_id === conversationId) refreshPane();
    });
    es.addEventListener("message", function (ev) {
      if (page === "queue") scheduleQueue(false);
      var d = data(ev);
      if (conversationId && (!d.conversation_id || d.conversation_id === conversationId)) refreshPane();
    });
    es.addEventListener("logout", function () { es.close(); window.location.href = "/console/login"; });
  }

  tick();
  scrollDown();
  connect();
  // Safety net: resynchronise the queue every minute even if an event was missed.
  setInterval(function () { refreshQueue(true); }, 60000);
})();

// ---- 入企服务: the visit form (bot/desk/console/visits.py) — enterprise search, more needs ----------
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  if (!form) return;
  var idField = document.getElementById("enterprise-id");
  var nameField = document.getElementById("enterprise-name");
  var list = document.getElementById("enterprise-suggest");
  var fresh = document.getElementById("new-enterprise");
  var timer = null;

  function pick(item) {
    idField.value = String(item.id);
    var old = document.getElementById("picked");
    if (old) old.remove();
    var box = document.createElement("div");
    box.className = "picked";
    box.id = "picked";
    box.appendChild(document.createTextNode("已选择："));
    var b = document.createElement("b");
    b.textContent = item.name + (item.credit_code ? "（" + item.credit_code + "）" : "");
    box.appendChild(b);
    var again = document.createElement("button");
    again.type = "button";
    again.className = "link";
    again.id = "unpick";
    again.textContent = " 改选其他企业";
    again.addEventListener("click", unpick);
    box.appendChild(again);
    fresh.parentNode.insertBefore(box, fresh);
    fresh.hidden = true;
    list.textContent = "";
  }

  function unpick() {
    idField.value = "";
    var old = document.getElementById("picked");
    if (old) old.remove();
    fresh.hidden = false;
    nameField.focus();
  }

  var unpickButton = document.getElementById("unpick");
  if (unpickButton) unpickButton.addEventListener("click", unpick);

  function search() {
    var q = nameField.value.trim();
    if (q.length < 2) { list.textContent = ""; return; }
    fetch("/console/api/enterprises?q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"},
                                                                  credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {items: []}; })
      .then(function (data) {
        list.textContent = "";
        (data.items || []).forEach(function (item) {
          var li = document.createElement("li");
          var btn = document.createElement("button");
          btn.type = "button";
          btn.className = "suggestion";
          btn.textContent = item.name + (item.credit_code ? " · " + item.credit_code : "") + " · " + item.node;
          btn.addEventListener("click", function () { pick(item); });
          li.appendChild(btn);
          list.appendChild(li);
        });
      })
      .catch(function () { list.textContent = ""; });
  }

  if (nameField) {
    nameField.addEventListener("input", function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
  }

  // Needs: show the first (and any already filled); "再加一条需求" shows the next one.
  var needs = Array.prototype.slice.call(form.querySelectorAll(".need"));
  var addNeed = document.getElementById("add-need");
  function filled(el) {
    return el.querySelector("select").value || el.querySelector("textarea").value.trim();
  }
  needs.forEach(function (el, i) { if (i > 0 && !filled(el)) el.hidden = true; });
  function refreshAdd() { addNeed.hidden = needs.every(function (el) { return !el.hidden; }); }
  if (addNeed) {
    addNeed.addEventListener("click", function () {
      var next = needs.filter(function (el) { return el.hidden; })[0];
      if (next) { next.hidden = false; next.querySelector("select").focus(); }
      refreshAdd();
    });
    refreshAdd();
  }
})();
