/* 原上管家 web chat client. Plain JS, no build step, no external assets.
 *
 * - The conversation id and its secret key live in localStorage (history survives reloads).
 * - Every message gets a client_msg_id and waits in an outbox (localStorage) until the server
 *   acks it; after a reconnect the outbox is sent again and the server's dedupe makes it once.
 * - History comes from /api/chat/history and live messages from the WebSocket; both are merged
 *   by message id, so nothing shows twice.
 * - All text goes into the page with textContent: user and bot text can never run script.
 */
(function () {
  "use strict";

  var MAX = 2000;
  var PREFIX = "yschat.v1.";
  var TIME_GAP = 5 * 60 * 1000;
  var TYPING_MAX = 20000;
  var PING_EVERY = 25000;

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    rows: $("rows"), log: $("log"), input: $("input"), send: $("send"), counter: $("counter"),
    notice: $("notice"), banner: $("banner"), typing: $("typing"), subtitle: $("subtitle"),
    attach: $("attach"), file: $("file")
  };

  var st = {
    cid: null, key: null, ws: null, connected: false, attempts: 0, timer: null,
    syncedId: 0, byId: new Map(), byClient: new Map(), outbox: [], composing: false,
    mode: "bot", typingTimer: null, pingTimer: null, pongDue: null, layoutQueued: false,
    everConnected: false
  };

  if (/[?&]embed=1\b/.test(location.search)) { document.body.classList.add("embed"); }

  // ---- storage --------------------------------------------------------------------------------
  function load(name) {
    try { return JSON.parse(localStorage.getItem(PREFIX + name) || "null"); } catch (e) { return null; }
  }
  function save(name, value) {
    try { localStorage.setItem(PREFIX + name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function drop(name) { try { localStorage.removeItem(PREFIX + name); } catch (e) { /* ignore */ } }
  function saveOutbox() { save("outbox." + st.cid, st.outbox); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function length(text) { return Array.from(text).length; }   // code points, as the server counts

  // ---- session and history --------------------------------------------------------------------
  function newSession() {
    return fetch("/api/chat/session", { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: "{}", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("session " + r.status); }
        return r.json();
      })
      .then(function (s) {
        save("session", s);
        useSession(s);
      });
  }

  function useSession(s) {
    st.cid = s.conversation_id;
    st.key = s.key;
    st.outbox = load("outbox." + st.cid) || [];
  }

  function fetchHistory(retried) {
    var url = "/api/chat/history?conversation_id=" + encodeURIComponent(st.cid) + "&after=" + st.syncedId;
    return fetch(url, { headers: { "X-Chat-Key": st.key }, cache: "no-store" }).then(function (r) {
      if (r.status === 403 && !retried) {
        // The conversation is gone (the key was reset, ended, or expired after long disuse): start a new one.
        return r.json().catch(function () { return {}; }).then(function (body) {
          drop("session");
          drop("outbox." + st.cid);
          clearAll();
          if (body && body.error === "session_expired") { notice(body.message, true); }
          return newSession().then(function () { return fetchHistory(true); });
        });
      }
      if (!r.ok) { throw new Error("history " + r.status); }
      return r.json().then(function (data) {
        data.messages.forEach(function (m) {
          render(m);
          if (m.id > st.syncedId) { st.syncedId = m.id; }
        });
        setMode(data.mode);
        if (data.more) { return fetchHistory(true); }
      });
    });
  }

  function clearAll() {
    els.rows.textContent = "";
    blobs.forEach(function (u) { URL.revokeObjectURL(u); });   // files of the ended conversation: gone too
    blobs.clear();
    st.byId.clear();
    st.byClient.clear();
    st.syncedId = 0;
    st.outbox = [];
  }

  // ---- rendering ------------------------------------------------------------------------------
  var AVATAR = { user: ["我", "user"], bot: ["管", "bot"], staff: ["专", "staff"] };

  function kindOf(m) {
    if (m.direction === "in") { return "user"; }
    if (m.author === "system") { return "system"; }
    if (typeof m.author === "string" && m.author.indexOf("staff:") === 0) { return "staff"; }
    return "bot";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function quickReplies(buttons) {
    // Buttons under a bot or system message; a click sends the payload and shows the label.
    var quick = el("div", "quick");
    buttons.forEach(function (b) {
      if (!b || typeof b.title !== "string") { return; }
      var btn = el("button", null, b.title);
      btn.type = "button";
      btn.addEventListener("click", function () {
        send(typeof b.payload === "string" && b.payload ? b.payload : b.title, b.title);
      });
      quick.appendChild(btn);
    });
    return quick;
  }

  function botBubble(text) {
    // The privacy notice names the privacy page by its path ("《隐私说明》：/privacy", the same words on WeChat):
    // here that path becomes a link. Everything else stays text (textContent, never HTML).
    var bubble = el("div", "bubble");
    var parts = String(text).split(/(\/privacy)(?![\w\/])/);
    parts.forEach(function (part) {
      if (part === "/privacy") {
        var a = el("a", null, "/privacy");
        a.href = "/privacy";
        a.target = "_blank";
        a.rel = "noopener";
        bubble.appendChild(a);
      } else if (part) {
        bubble.appendChild(document.createTextNode(part));
      }
    });
    return bubble;
  }

  function buildRow(m, kind) {
    var row;
    if (kind === "system") {
      // A grey notice (rating request, "已收到", handover); its buttons are answered like a bot's.
      row = el("div", "row system");
      var box = el("div", "sysbox");
      if (m.text) {
        var sys = el("div", "sys", m.text);
        if (m.text.indexOf("\n") >= 0) { sys.classList.add("multi"); }
        box.appendChild(sys);
      }
      if (m.buttons && m.buttons.length) { box.appendChild(quickReplies(m.buttons)); }
      row.appendChild(box);
      return row;
    }
    row = el("div", "row " + (kind === "user" ? "out" : "in"));
    var av = AVATAR[kind];
    var avatar = el("div", "avatar " + av[1], av[0]);
    avatar.setAttribute("aria-hidden", "true");
    row.appendChild(avatar);
    var body = el("div", "body");
    if (kind === "staff") { body.appendChild(el("div", "name", "服务专员")); }
    if (m.file) {
      body.appendChild(fileBubble(m.file));
    } else if (m.text || kind === "user") {
      body.appendChild(kind === "user" ? el("div", "bubble", m.title || m.text) : botBubble(m.text));
    }
    if (kind !== "user" && m.buttons && m.buttons.length) {
      body.appendChild(quickReplies(m.buttons));
    }
    row.appendChild(body);
    return row;
  }

  function render(m) {
    if (!m || m.internal || st.byId.has(m.id)) { return; }
    var row;
    if (m.client_msg_id && st.byClient.has(m.client_msg_id)) {
      row = st.byClient.get(m.client_msg_id);       // our own message, shown while it was sent
      if (m.file && row.dataset.file !== String(m.file.id)) {   // an upload: now with its id (viewable)
        var fresh = buildRow(m, kindOf(m));
        fresh.dataset.file = String(m.file.id);
        if (row.parentNode) { row.parentNode.replaceChild(fresh, row); }
        st.byClient.set(m.client_msg_id, fresh);
        row = fresh;
      }
      confirm(row, m.id, m.created_at);
      removeFromOutbox(m.client_msg_id);
      place(row, m.id);
      return;
    }
    var kind = kindOf(m);
    if (!m.text && !(m.buttons && m.buttons.length)) { return; }
    row = buildRow(m, kind);
    row.dataset.time = String(Date.parse(m.created_at) || Date.now());
    if (m.client_msg_id) { st.byClient.set(m.client_msg_id, row); }
    st.byId.set(m.id, row);
    row.dataset.id = String(m.id);
    place(row, m.id);
    if (kind !== "user") { hideTyping(); }
  }

  function confirm(row, id, createdAt) {
    row.dataset.id = String(id);
    if (createdAt) { row.dataset.time = String(Date.parse(createdAt) || row.dataset.time); }
    row.classList.remove("pending", "failed");
    var status = row.querySelector(".status");
    if (status) { status.remove(); }
    st.byId.set(id, row);
  }

  function place(row, id) {
    // Keep rows ordered by server id; messages not yet stored (no id) stay at the end.
    var stick = nearBottom();
    var before = null;
    if (id !== null) {
      var children = els.rows.children;
      for (var i = 0; i < children.length; i++) {
        var c = children[i];
        if (c === row || !c.classList.contains("row")) { continue; }
        var other = c.dataset.id ? Number(c.dataset.id) : Infinity;
        if (other > id) { before = c; break; }
      }
    }
    if (before) {
      if (row.nextElementSibling !== before) { els.rows.insertBefore(row, before); }
    } else if (row.parentNode !== els.rows || (id !== null && row !== els.rows.lastElementChild)) {
      els.rows.appendChild(row);
    }
    queueLayout(stick);
  }

  function queueLayout(stick) {
    if (st.layoutQueued) { return; }
    st.layoutQueued = true;
    requestAnimationFrame(function () {
      st.layoutQueued = false;
      layoutTimes();
      if (stick) { scrollDown(); }
    });
  }

  function fmtTime(ms) {
    var d = new Date(ms);
    var now = new Date();
    var hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    if (d.toDateString() === now.toDateString()) { return hm; }
    var y = new Date(now); y.setDate(now.getDate() - 1);
    if (d.toDateString() === y.toDateString()) { return "昨天 " + hm; }
    if (d.getFullYear() === now.getFullYear()) { return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm; }
    return d.getFullYear() + "年" + (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
  }

  function layoutTimes() {
    // A time line before the first message and wherever more than five minutes passed.
    Array.prototype.slice.call(els.rows.querySelectorAll(".time")).forEach(function (t) { t.remove(); });
    var prev = null;
    Array.prototype.slice.call(els.rows.children).forEach(function (row) {
      var t = Number(row.dataset.time || 0);
      if (!t) { return; }
      if (prev === null || t - prev > TIME_GAP) { els.rows.insertBefore(el("div", "time", fmtTime(t)), row); }
      prev = t;
    });
  }

  function nearBottom() { return els.log.scrollHeight - els.log.scrollTop - els.log.clientHeight < 80; }
  function scrollDown() { els.log.scrollTop = els.log.scrollHeight; }

  function renderPending(item) {
    var row = buildRow({ direction: "in", text: item.text, title: item.title }, "user");
    row.classList.add("pending");
    row.dataset.client = item.client_msg_id;
    row.dataset.time = String(item.at || Date.now());
    row.querySelector(".body").appendChild(el("div", "status", "发送中…"));
    st.byClient.set(item.client_msg_id, row);
    els.rows.appendChild(row);
    queueLayout(true);
    scrollDown();
  }

  function markFailed(clientId, why) {
    var row = st.byClient.get(clientId);
    if (!row || row.dataset.id) { return; }
    row.classList.remove("pending");
    row.classList.add("failed");
    var status = row.querySelector(".status") || row.querySelector(".body").appendChild(el("div", "status"));
    status.textContent = "未发送：" + why;
  }

  // ---- typing, mode, banner, notice -------------------------------------------------------------
  function showTyping() {
    els.typing.hidden = false;
    clearTimeout(st.typingTimer);
    st.typingTimer = setTimeout(hideTyping, TYPING_MAX);
    if (nearBottom()) { scrollDown(); }
  }
  function hideTyping() { els.typing.hidden = true; clearTimeout(st.typingTimer); }

  var MODES = { bot: "秦创原总窗口 · 智能助手", waiting: "正在为您转接服务专员…", staff: "服务专员正在为您服务" };
  function setMode(mode) {
    if (!MODES[mode]) { return; }
    st.mode = mode;
    els.subtitle.textContent = MODES[mode];
    if (mode !== "bot") { hideTyping(); }
  }

  function banner(text, ok) {
    if (!text) { els.banner.hidden = true; return; }
    els.banner.textContent = text;
    els.banner.classList.toggle("ok", !!ok);
    els.banner.hidden = false;
  }

  var noticeTimer = null;
  function notice(text, sticky) {
    els.notice.textContent = text || "";
    clearTimeout(noticeTimer);
    if (text && !sticky) { noticeTimer = setTimeout(function () { els.notice.textContent = ""; }, 5000); }
  }

  // ---- sending --------------------------------------------------------------------------------
  function send(text, title) {
    if (typeof text !== "string" || !text.trim()) { return false; }
    if (length(text) > MAX) { notice("消息过长（最多" + MAX + "字），请分段发送", true); return false; }
    var item = { client_msg_id: uuid(), text: text, title: title || null, at: Date.now() };
    st.outbox.push(item);
    saveOutbox();
    renderPending(item);
    if (transmit(item) && st.mode === "bot") { showTyping(); }
    return true;
  }

  function transmit(item) {
    if (!st.ws || st.ws.readyState !== WebSocket.OPEN) { return false; }
    var msg = { type: "send", text: item.text, client_msg_id: item.client_msg_id };
    if (item.title) { msg.title = item.title; }
    st.ws.send(JSON.stringify(msg));
    return true;
  }

  function flushOutbox() { st.outbox.slice().forEach(transmit); }

  function removeFromOutbox(clientId) {
    var before = st.outbox.length;
    st.outbox = st.outbox.filter(function (i) { return i.client_msg_id !== clientId; });
    if (st.outbox.length !== before) { saveOutbox(); }
  }

  // ---- the socket -----------------------------------------------------------------------------
  function connect() {
    clearTimeout(st.timer);
    if (!st.cid || (st.ws && st.ws.readyState <= WebSocket.OPEN)) { return; }
    if (navigator.onLine === false) { offline(); return; }
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var url = proto + "//" + location.host + "/ws/chat?conversation_id=" + encodeURIComponent(st.cid);
    var ws;
    try { ws = new WebSocket(url, ["yschat", "key." + st.key]); } catch (e) { retry(); return; }
    st.ws = ws;
    ws.onopen = function () {
      if (st.ws !== ws) { return; }
      st.connected = true;
      st.attempts = 0;
      banner(st.everConnected ? "已重新连接" : "", true);
      if (st.everConnected) { setTimeout(function () { if (st.connected) { banner(""); } }, 1500); }
      st.everConnected = true;
      startPing();
      // Catch up on what arrived while we were away, then resend what is still unacknowledged.
      fetchHistory().catch(function () { /* next reconnect retries */ }).then(flushOutbox);
    };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      handle(data);
    };
    ws.onclose = function (ev) {
      if (st.ws !== ws) { return; }
      st.connected = false;
      st.ws = null;
      stopPing();
      if (ev.code === 1008 || ev.code === 4403) { return; }
      retry();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function retry() {
    clearTimeout(st.timer);
    var delay = Math.min(30000, 1000 * Math.pow(2, st.attempts)) + Math.floor(Math.random() * 500);
    st.attempts = Math.min(st.attempts + 1, 10);
    banner(navigator.onLine === false ? "网络已断开，恢复后将自动重连；离线时发送的消息会在联网后自动发出"
                                      : "连接已断开，正在重新连接…");
    st.timer = setTimeout(connect, delay);
  }

  function offline() {
    banner("网络已断开，恢复后将自动重连；离线时发送的消息会在联网后自动发出");
    if (st.ws) {
      var ws = st.ws;
      st.ws = null;
      st.connected = false;
      stopPing();
      try { ws.close(); } catch (e) { /* ignore */ }
    }
  }

  function startPing() {
    stopPing();
    st.pingTimer = setInterval(function () {
      if (!st.ws || st.ws.readyState !== WebSocket.OPEN) { return; }
      if (st.pongDue && Date.now() > st.pongDue) {       // no answer: the connection is dead
        var ws = st.ws;
        st.ws = null;
        st.connected = false;
        try { ws.close(); } catch (e) { /* ignore */ }
        stopPing();
        retry();
        return;
      }
      st.pongDue = Date.now() + 10000;
      st.ws.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY);
  }
  function stopPing() { clearInterval(st.pingTimer); st.pongDue = null; }

  function handle(data) {
    if (!data || typeof data.type !== "string") { return; }
    switch (data.type) {
      case "ack": {
        var row = st.byClient.get(data.client_msg_id);
        removeFromOutbox(data.client_msg_id);
        if (row && typeof data.id === "number" && !st.byId.has(data.id)) {
          confirm(row, data.id, null);
          place(row, data.id);
        }
        break;
      }
      case "message":
        render(data.message);
        break;
      case "typing":
        if (st.mode === "bot") { showTyping(); }
        break;
      case "mode":
        setMode(data.mode);
        break;
      case "pong":
        st.pongDue = null;
        break;
      case "resync":      // the desk may have missed live events (Redis was away): catch up by id
        fetchHistory().catch(function () { /* the next reconnect retries */ });
        break;
      case "error":
        if (data.client_msg_id && ["too_long", "empty", "bad_request"].indexOf(data.code) >= 0) {
          removeFromOutbox(data.client_msg_id);
          markFailed(data.client_msg_id, data.message || "");
          hideTyping();
        } else if (data.client_msg_id) {
          setTimeout(flushOutbox, 3000);   // rate limit / busy: still in the outbox, try again
        }
        notice(data.message || "发生错误");
        break;
    }
  }

  // ---- files (bot/desk/files.py): sent with the key in a header, fetched the same way ----------
  var FILE_MAX = 20 * 1024 * 1024;
  var blobs = new Map();

  function fileSize(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
  }

  function fetchFile(id) {
    if (blobs.has(id)) { return Promise.resolve(blobs.get(id)); }
    var url = "/api/chat/files/" + encodeURIComponent(id) + "?conversation_id=" + encodeURIComponent(st.cid);
    return fetch(url, { headers: { "X-Chat-Key": st.key }, cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.blob();
    }).then(function (b) {
      var u = URL.createObjectURL(b);
      blobs.set(id, u);
      return u;
    });
  }

  function saveFile(f) {
    fetchFile(f.id).then(function (u) {
      var a = el("a");
      a.href = u;
      a.download = f.name || "文件";
      document.body.appendChild(a);
      a.click();
      a.remove();
    }).catch(function () { notice("文件下载失败，请稍后重试"); });
  }

  function fileBubble(f) {
    var box = el("div", "bubble file");
    if (f.kind === "image" && f.id) {
      var img = el("img", "file-img");
      img.alt = f.name || "图片";
      img.addEventListener("click", function () { saveFile(f); });
      fetchFile(f.id).then(function (u) { img.src = u; }).catch(function () { img.alt = "图片加载失败"; });
      box.appendChild(img);
      return box;
    }
    var card = el("button", "file-card");
    card.type = "button";
    card.appendChild(el("span", "icon", f.kind === "image" ? "🖼" : "📄"));
    var meta = el("span");
    meta.appendChild(el("span", "name", f.name || "文件"));
    meta.appendChild(el("span", "size", fileSize(f.size || 0) + (f.id ? " · 点击下载" : " · 发送中…")));
    card.appendChild(meta);
    if (f.id) { card.addEventListener("click", function () { saveFile(f); }); }
    box.appendChild(card);
    return box;
  }

  function sendFile(file) {
    if (!file || !st.cid) { return; }
    if (file.size === 0) { notice("文件是空的（0 字节），请检查后重新选择"); return; }
    if (file.size > FILE_MAX) { notice("文件过大（最大 20 MB），请压缩后再发送"); return; }
    var clientId = uuid();
    var image = /\.(jpe?g|png|gif|webp)$/i.test(file.name);
    var row = buildRow({ direction: "in", text: file.name, file: { name: file.name, size: file.size,
      kind: image ? "image-pending" : "document" } }, "user");
    row.classList.add("pending");
    row.dataset.time = String(Date.now());
    st.byClient.set(clientId, row);
    place(row, null);
    scrollDown();
    var form = new FormData();
    form.append("client_msg_id", clientId);
    form.append("file", file, file.name);
    els.attach.disabled = true;
    fetch("/api/chat/files?conversation_id=" + encodeURIComponent(st.cid), {
      method: "POST", headers: { "X-Chat-Key": st.key }, body: form
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) {
        row.remove();
        st.byClient.delete(clientId);
        notice(res.body.message || "文件发送失败，请重试", true);
        return;
      }
      render(res.body.message);
      (res.body.replies || []).forEach(render);
    }).catch(function () {
      row.remove();
      st.byClient.delete(clientId);
      notice("网络异常，文件未发送，请重试", true);
    }).then(function () { els.attach.disabled = false; });
  }

  if (els.attach && els.file) {
    els.attach.addEventListener("click", function () { els.file.click(); });
    els.file.addEventListener("change", function () {
      var f = els.file.files && els.file.files[0];
      els.file.value = "";
      sendFile(f);
    });
  }

  // ---- the composer ---------------------------------------------------------------------------
  function updateCounter() {
    var n = length(els.input.value);
    els.counter.textContent = n + "/" + MAX;
    var over = n > MAX;
    els.counter.classList.toggle("over", over);
    els.send.disabled = over || !els.input.value.trim();
    if (over) { notice("消息过长（最多" + MAX + "字），请删减或分段发送", true); }
    else if (els.notice.textContent.indexOf("消息过长") === 0) { notice(""); }
    els.input.style.height = "auto";
    els.input.style.height = Math.min(els.input.scrollHeight, 120) + "px";
  }

  function submit() {
    var text = els.input.value;
    if (send(text, null)) {
      els.input.value = "";
      updateCounter();
    }
  }

  els.input.addEventListener("compositionstart", function () { st.composing = true; });
  els.input.addEventListener("compositionend", function () { st.composing = false; updateCounter(); });
  els.input.addEventListener("input", updateCounter);
  els.input.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.shiftKey) { return; }
    // Enter that confirms an IME candidate (Chinese input) must not send.
    if (st.composing || e.isComposing || e.keyCode === 229) { return; }
    e.preventDefault();
    submit();
  });
  els.send.addEventListener("click", submit);

  window.addEventListener("offline", offline);
  window.addEventListener("online", function () { st.attempts = 0; banner("正在重新连接…"); connect(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !st.ws) { st.attempts = 0; connect(); }
  });

  // ---- 结束会话: forget the key on this device, and tell the server the key is dead -------------------
  function endSession() {
    if (!st.cid || !window.confirm("结束会话后，本设备将不再保留这段对话（工单不受影响），确定结束吗？")) { return; }
    var cid = st.cid, key = st.key, ws = st.ws;
    st.ws = null;
    if (ws) { try { ws.close(); } catch (e) { /* ignore */ } }
    fetch("/api/chat/end", { method: "POST", headers: { "Content-Type": "application/json", "X-Chat-Key": key },
                             body: JSON.stringify({ conversation_id: cid }), cache: "no-store" })
      .catch(function () { /* forgotten here anyway; an unused key expires on the server */ })
      .then(function () {
        drop("session");
        drop("outbox." + cid);
        clearAll();
        notice("会话已结束，本设备上的聊天记录已清除。", true);
        return newSession().then(fetchHistory).then(function () { scrollDown(); connect(); });
      })
      .catch(function () { setTimeout(start, 3000); });
  }
  if ($("end")) { $("end").addEventListener("click", endSession); }

  // ---- start ----------------------------------------------------------------------------------
  function start() {
    var s = load("session");
    var ready = s && s.conversation_id && s.key ? Promise.resolve(useSession(s)) : newSession();
    ready
      .then(function () {
        st.outbox.forEach(function (item) {
          if (!st.byClient.has(item.client_msg_id)) { renderPending(item); }
        });
        return fetchHistory();
      })
      .then(function () { scrollDown(); connect(); })
      .catch(function () {
        banner("暂时无法连接服务，正在重试…");
        setTimeout(start, 3000);
      });
    updateCounter();
  }

  window.__yschat = { state: st };   // for diagnostics and tests (read-only use)
  start();
})();
