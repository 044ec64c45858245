/*! Switchboard chat widget. Embed with
 *    <script src="https://HOST/widget.js" data-inbox="KEY" async></script>
 *  Protocol and options: docs/widget.md. One file, no dependencies, no build step: it is
 *  served as-is to customers' sites, so it keeps everything (UI, styles, strings) inside. */
(function () {
  "use strict";

  const queued = window.Switchboard;
  if (queued && queued.__switchboard) return; // loaded twice

  const script = document.currentScript ||
    document.querySelector('script[data-inbox][src*="widget.js"]') ||
    document.querySelector("script[data-inbox]");
  const INBOX = script && script.dataset.inbox;
  if (!INBOX) {
    console.warn('Switchboard: add data-inbox="<inbox key>" to the widget <script> tag.');
    return;
  }
  const ORIGIN = new URL(script.src, location.href).origin;
  const API = ORIGIN + "/api/widget/v1";
  const WS_URL = ORIGIN.replace(/^http/, "ws") + "/ws/widget/";

  const BACKOFF_MAX_MS = 10000;
  const RATE_LIMITED_BACKOFF_MS = 30000;
  const POLL_AFTER_MS = 15000; // socket down this long: fall back to REST polling
  const WELCOME_TIMEOUT_MS = 10000;
  const SYNC_TICKETS_MAX = 25; // tickets synced eagerly after (re)connect; others on open
  const TYPING_THROTTLE_MS = 3000;
  const FRAME_BURST = 30; // the server allows 60 frames at once, then 10 per second
  const FRAMES_PER_SECOND = 5;
  const RENEW_WITHIN_MS = 10 * 24 * 3600 * 1000; // renew tokens that expire within 10 days

  /* ---------------------------------------------------------------- strings (i18n) */
  const STRINGS = {
    en: {
      openChat: "Open chat", closeChat: "Close chat", back: "Back to conversations",
      chatWithUs: "Chat with us", greeting: "Hi! How can we help you today?",
      replyMinutes: "We typically reply in {n} minutes",
      replyHours: "We typically reply in a few hours", replyDay: "We typically reply within a day",
      offline: "We're offline right now — we'll reply by email.",
      newConversation: "Send us a message", conversations: "Your conversations",
      conversation: "Conversation",
      placeholder: "Write a message…", send: "Send message", attach: "Attach a file",
      removeFile: "Remove {name}", uploading: "Uploading…",
      tooLarge: "{name} is too large. Files can be up to {mb} MB.",
      uploadFailed: "{name} could not be uploaded. {reason}",
      sending: "Sending…", notSent: "Not sent.", retry: "Retry", discard: "Delete",
      seen: "Seen", typing: "{name} is typing…", you: "You", team: "Support team",
      emailLabel: "Your email", emailHint: "So we can reply by email if you leave.",
      emailInvalid: "Please enter a valid email address.",
      reconnecting: "Reconnecting…", forbidden: "Chat isn't available on this site.",
      signIn: "Please sign in to chat with us.", error: "Something went wrong. Please try again.",
      unread: "{n} unread", via: "via {channel}", messages: "Messages",
      download: "Download {name}", attachment: "Attachment",
    },
    id: {
      openChat: "Buka obrolan", closeChat: "Tutup obrolan", back: "Kembali ke percakapan",
      chatWithUs: "Chat dengan kami", greeting: "Hai! Ada yang bisa kami bantu?",
      replyMinutes: "Kami biasanya membalas dalam {n} menit",
      replyHours: "Kami biasanya membalas dalam beberapa jam",
      replyDay: "Kami biasanya membalas dalam satu hari",
      offline: "Kami sedang offline — kami akan membalas lewat email.",
      newConversation: "Kirim pesan", conversations: "Percakapan Anda",
      conversation: "Percakapan",
      placeholder: "Tulis pesan…", send: "Kirim pesan", attach: "Lampirkan file",
      removeFile: "Hapus {name}", uploading: "Mengunggah…",
      tooLarge: "{name} terlalu besar. Ukuran file maksimal {mb} MB.",
      uploadFailed: "{name} gagal diunggah. {reason}",
      sending: "Mengirim…", notSent: "Tidak terkirim.", retry: "Coba lagi", discard: "Hapus",
      seen: "Dilihat", typing: "{name} sedang mengetik…", you: "Anda", team: "Tim dukungan",
      emailLabel: "Email Anda", emailHint: "Agar kami bisa membalas lewat email jika Anda pergi.",
      emailInvalid: "Masukkan alamat email yang valid.",
      reconnecting: "Menyambungkan ulang…", forbidden: "Obrolan tidak tersedia di situs ini.",
      signIn: "Silakan masuk untuk mengobrol dengan kami.",
      error: "Terjadi kesalahan. Silakan coba lagi.",
      unread: "{n} belum dibaca", via: "lewat {channel}", messages: "Pesan",
      download: "Unduh {name}", attachment: "Lampiran",
    },
    zh: {
      openChat: "打开聊天", closeChat: "关闭聊天", back: "返回会话列表",
      chatWithUs: "与我们聊天", greeting: "您好！有什么可以帮您？",
      replyMinutes: "我们通常在 {n} 分钟内回复",
      replyHours: "我们通常在几小时内回复", replyDay: "我们通常在一天内回复",
      offline: "我们目前不在线，将通过电子邮件回复您。",
      newConversation: "给我们发消息", conversations: "您的会话",
      conversation: "会话",
      placeholder: "输入消息…", send: "发送消息", attach: "添加附件",
      removeFile: "移除 {name}", uploading: "正在上传…",
      tooLarge: "{name} 太大。文件不能超过 {mb} MB。",
      uploadFailed: "{name} 上传失败。{reason}",
      sending: "正在发送…", notSent: "未发送。", retry: "重试", discard: "删除",
      seen: "已读", typing: "{name} 正在输入…", you: "您", team: "客服团队",
      emailLabel: "您的邮箱", emailHint: "如果您离开，我们会通过邮件回复。",
      emailInvalid: "请输入有效的邮箱地址。",
      reconnecting: "正在重新连接…", forbidden: "此网站无法使用聊天。",
      signIn: "请登录后与我们聊天。", error: "出错了，请重试。",
      unread: "{n} 条未读", via: "通过 {channel}", messages: "消息",
      download: "下载 {name}", attachment: "附件",
    },
  };
  const HTML_LANG = { en: "en", id: "id", zh: "zh-Hans" };

  function localeNormalize(value) {
    const lang = String(value || "").toLowerCase();
    if (lang.startsWith("id") || lang.startsWith("in")) return "id";
    if (lang.startsWith("zh")) return "zh";
    if (lang.startsWith("en")) return "en";
    return null;
  }

  function browserLocale() {
    for (const lang of navigator.languages || [navigator.language]) {
      const locale = localeNormalize(lang);
      if (locale) return locale;
    }
    return "en";
  }

  function t(key, vars) {
    const text = STRINGS[state.locale][key] || STRINGS.en[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (vars && name in vars ? vars[name] : ""));
  }

  /* ---------------------------------------------------------------- storage */
  // Per inbox key: "session" {token, visitor_id, expires_at}, "outbox" [unsent messages],
  // "user" {id, fingerprint} of the last identify()/pre-chat claim. Never message history.
  const memoryStore = {};
  const storageKey = (name) => `switchboard:${INBOX}:${name}`;

  function load(name) {
    try {
      const raw = localStorage.getItem(storageKey(name));
      return raw == null ? null : JSON.parse(raw);
    } catch (_) {
      return name in memoryStore ? memoryStore[name] : null; // storage blocked or corrupt
    }
  }

  function save(name, value) {
    memoryStore[name] = value;
    try {
      if (value == null) localStorage.removeItem(storageKey(name));
      else localStorage.setItem(storageKey(name), JSON.stringify(value));
    } catch (_) { /* private mode / quota: the in-memory copy still works */ }
  }

  /* ---------------------------------------------------------------- state */
  const state = {
    locale: localeNormalize(script.dataset.locale) || browserLocale(),
    config: null,
    session: load("session"),
    claim: null, // identify() claim waiting to be sent with the next session request
    outbox: (load("outbox") || []).filter((e) => e && e.client_id),
    tickets: new Map(), // id -> ticket state, see ticketGet()
    open: false,
    view: "home", // "home" | "thread"
    current: null, // ticket id, or "new" for a conversation not created yet
    conn: "idle", // idle | connecting | open | down | polling | forbidden | signin
    everWelcomed: false,
    uploads: [], // {key, file, status: "uploading"|"done", meta?}
    sendAfterUpload: false, // Enter pressed while a file was still uploading
    notice: "", // composer error (upload too large, invalid email...)
  };

  function ticketGet(id) {
    let ticket = state.tickets.get(id);
    if (!ticket) {
      ticket = {
        id, messages: new Map(), synced: 0, lastSeq: 0, unread: 0, rank: Infinity,
        activity: "", agentReadSeq: 0, readSent: 0, typing: null, syncing: false,
        resync: false,
        // Listed by the server (welcome, REST, sync, ack). Live frames alone never add a
        // conversation: one the visitor cannot sync is not theirs to see.
        confirmed: false,
      };
      state.tickets.set(id, ticket);
    }
    return ticket;
  }

  function ticketsSorted() {
    return [...state.tickets.values()].filter((ticket) => ticket.confirmed).sort((a, b) =>
      (b.activity || "").localeCompare(a.activity || "") || a.rank - b.rank || b.id - a.id);
  }

  function messagesSorted(ticket) {
    return [...ticket.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  function lastMessage(ticket) {
    let last = null;
    for (const m of ticket.messages.values()) if (!last || m.seq > last.seq) last = m;
    return last;
  }

  /* ---------------------------------------------------------------- HTTP */
  class ApiError extends Error {
    constructor(status, error) {
      super((error && error.message) || `HTTP ${status}`);
      this.status = status;
      this.code = (error && error.code) || "";
    }
  }

  async function request(method, path, { body, form, auth = true, retried = false } = {}) {
    const headers = {};
    if (auth) headers.Authorization = "Bearer " + state.session.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, {
      method, headers, credentials: "omit", cache: "no-store",
      body: form || (body === undefined ? undefined : JSON.stringify(body)),
    });
    if (response.status === 401 && auth && !retried) {
      await sessionTask(() => sessionStart());
      return request(method, path, { body, form, auth, retried: true });
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data.error);
    return data;
  }

  async function configLoad() {
    try {
      const response = await fetch(`${API}/config?inbox=${encodeURIComponent(INBOX)}`,
                                   { credentials: "omit" });
      if (response.status === 404) {
        console.warn(`Switchboard: no widget inbox with key ${INBOX}.`);
        stopForGood("forbidden");
        return;
      }
      if (response.ok) state.config = await response.json();
    } catch (_) { /* keep the defaults; the chat itself does not need the config */ }
    themeApply();
    render();
  }

  /* ---------------------------------------------------------------- session */
  let sessionChain = Promise.resolve();

  // Session requests run one at a time, so identify(), open() and a 401 never race.
  function sessionTask(task) {
    const run = sessionChain.then(task);
    sessionChain = run.catch(() => {});
    return run;
  }

  async function sessionStart(user) {
    const body = { inbox: INBOX };
    if (state.session) body.token = state.session.token; // keeps the visitor's history
    if (user) body.user = user;
    const data = await request("POST", "/session", { body, auth: false });
    state.session = { token: data.token, visitor_id: data.visitor_id, expires_at: data.expires_at };
    save("session", state.session);
  }

  async function sessionEnsure() {
    const stored = load("session");
    if (stored && stored.token) state.session = stored; // another tab may have renewed it
    const claim = state.claim;
    if (claim) {
      await sessionStart(claim.user);
      if (state.claim === claim) state.claim = null;
      save("user", { id: claim.user.id, fingerprint: claim.fingerprint });
      return true;
    }
    const expires = state.session && Date.parse(state.session.expires_at);
    if (state.session && expires - Date.now() > RENEW_WITHIN_MS) return false;
    await sessionStart(); // none yet, or renewing before it expires and history is lost
    return true;
  }

  function sessionError(error) {
    const status = error instanceof ApiError ? error.status : 0;
    if (status === 404 || error.code === "origin_not_allowed") {
      console.warn("Switchboard:", error.message);
      stopForGood("forbidden");
    } else if (error.code === "identity_required") {
      stopForGood("signin"); // until identify() brings a verified identity
    } else if (state.claim && (status === 400 || status === 403)) {
      // A bad identify() claim (wrong hash, invalid email): go on without it.
      console.warn("Switchboard: identify() rejected:", error.message);
      state.claim = null;
      start();
    } else {
      socketRetryLater(); // network trouble or a server error: try again with backoff
    }
  }

  function start() {
    if (state.conn === "forbidden") return;
    sessionTask(sessionEnsure).then((changed) => {
      if (changed) socketRestart(); else socketConnect();
    }, sessionError);
  }

  /* ---------------------------------------------------------------- socket */
  let ws = null;
  let welcomed = false;
  let connectionId = 0;
  let attempt = 0;
  let retryTimer = 0;
  let welcomeTimer = 0;
  let fallbackTimer = 0;
  let downSince = 0;

  function socketConnect() {
    if (!state.session || ws || state.conn === "forbidden" || state.conn === "signin") return;
    clearTimeout(retryTimer);
    fallbackArm();
    if (typeof WebSocket !== "function") { pollStart(); return; }
    if (state.conn !== "polling") setConn(state.everWelcomed ? "down" : "connecting");
    let socket;
    try {
      socket = new WebSocket(WS_URL);
    } catch (_) {
      socketRetryLater();
      return;
    }
    ws = socket;
    welcomed = false;
    frameQueue = []; // frames of a dead connection are redone after the next welcome
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "hello", token: state.session.token }));
    };
    socket.onmessage = (event) => {
      if (ws !== socket) return;
      let frame;
      try { frame = JSON.parse(event.data); } catch (_) { return; }
      frameHandle(frame);
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      ws = null;
      welcomed = false;
      clearTimeout(welcomeTimer);
      socketClosed(event.code);
    };
    clearTimeout(welcomeTimer);
    welcomeTimer = setTimeout(() => { if (ws === socket && !welcomed) socket.close(); },
                              WELCOME_TIMEOUT_MS);
  }

  function socketRestart() {
    if (ws) {
      const old = ws;
      ws = null;
      welcomed = false;
      old.close();
    }
    attempt = 0;
    socketConnect();
  }

  function socketClosed(code) {
    if (code === 4403) { stopForGood("forbidden"); return; }
    if (state.conn !== "polling") setConn("down");
    if (code === 4401) {
      // Token expired or revoked: a new session (carrying the old token) before retrying.
      sessionTask(() => sessionStart()).then(() => socketRetryLater(), sessionError);
      return;
    }
    socketRetryLater(code === 4429 ? RATE_LIMITED_BACKOFF_MS : 0);
  }

  function socketRetryLater(minimum = 0) {
    clearTimeout(retryTimer);
    fallbackArm();
    const backoff = Math.min(BACKOFF_MAX_MS, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
    attempt += 1;
    retryTimer = setTimeout(() => (state.session ? socketConnect() : start()),
                            Math.max(minimum, backoff));
  }

  // Frames leave through a token bucket kept under the server's per-connection limit
  // (4429), so a reconnect with many tickets and queued messages is paced, not cut off.
  let frameQueue = [];
  let frameTokens = FRAME_BURST;
  let frameRefilledAt = Date.now();
  let pumpTimer = 0;

  function socketSend(frame) {
    if (!ws || !welcomed) return false;
    frameQueue.push(frame);
    framePump();
    return true;
  }

  function framePump() {
    clearTimeout(pumpTimer);
    const now = Date.now();
    frameTokens = Math.min(FRAME_BURST,
                           frameTokens + ((now - frameRefilledAt) / 1000) * FRAMES_PER_SECOND);
    frameRefilledAt = now;
    while (frameQueue.length && frameTokens >= 1 && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(frameQueue.shift()));
      frameTokens -= 1;
    }
    if (frameQueue.length && ws) pumpTimer = setTimeout(framePump, 1000 / FRAMES_PER_SECOND);
  }

  function stopForGood(conn) {
    clearTimeout(retryTimer);
    clearTimeout(fallbackTimer);
    pollStop();
    if (ws) { const old = ws; ws = null; old.close(); }
    setConn(conn);
  }

  function setConn(conn) {
    if (state.conn === conn) return;
    state.conn = conn;
    render();
  }

  /* ---------------------------------------------------------------- frames */
  function frameHandle(frame) {
    switch (frame.type) {
      case "welcome": welcomeHandle(frame); break;
      case "message.ack":
        if (!frame.message) break;
        ticketGet(frame.message.ticket_id).confirmed = true;
        messagePut({ client_id: frame.client_id, ...frame.message }, { live: true });
        break;
      case "message.new": messagePut(frame.message, { live: true }); break;
      case "sync.result": syncResult(frame.ticket_id, frame.messages, frame.last_seq); break;
      case "typing": typingHandle(frame); break;
      case "read":
        if (frame.by === "agent") {
          const ticket = ticketGet(frame.ticket_id);
          ticket.agentReadSeq = Math.max(ticket.agentReadSeq, frame.seq);
          render();
        }
        break;
      case "error": errorHandle(frame); break;
      default: break;
    }
  }

  function welcomeHandle(frame) {
    welcomed = true;
    state.everWelcomed = true;
    attempt = 0;
    connectionId += 1;
    clearTimeout(welcomeTimer);
    fallbackDisarm();
    pollStop();
    ticketsReplace(frame.tickets || []);
    setConn("open");
    // Fill whatever was missed while disconnected (the database is the log).
    for (const ticket of ticketsToSync()) syncRequest(ticket);
    outboxFlush();
    render();
  }

  function ticketsReplace(summaries) {
    const known = new Set();
    summaries.forEach((summary, rank) => {
      const ticket = ticketGet(summary.id);
      ticket.confirmed = true;
      ticket.rank = rank;
      ticket.lastSeq = Math.max(ticket.lastSeq, summary.last_seq || 0);
      ticket.unread = threadVisible(ticket) ? 0 : summary.unread || 0;
      if (summary.last_activity_at) ticket.activity = summary.last_activity_at;
      known.add(summary.id);
    });
    for (const id of [...state.tickets.keys()]) if (!known.has(id)) state.tickets.delete(id);
    if (typeof state.current === "number" && !known.has(state.current)) {
      state.view = "home";
      state.current = null;
    }
  }

  function ticketsToSync() {
    return [...state.tickets.values()].filter((ticket) =>
      ticket.rank < SYNC_TICKETS_MAX || ticket.messages.size || ticket.id === state.current);
  }

  function syncRequest(ticket) {
    if (ticket.syncing) { ticket.resync = true; return; }
    if (polling) { pollSoon(); return; }
    ticket.syncing = socketSend({ type: "sync", ticket_id: ticket.id, after_seq: ticket.synced });
  }

  function syncResult(ticketId, messages, lastSeq) {
    const ticket = ticketGet(ticketId);
    ticket.syncing = false;
    ticket.confirmed = true;
    (messages || []).forEach((m) => messagePut(m, { live: false }));
    // Every public message up to last_seq is now held (notes use seq numbers too).
    ticket.synced = Math.max(ticket.synced, lastSeq || 0);
    ticket.lastSeq = Math.max(ticket.lastSeq, lastSeq || 0);
    if (ticket.resync) {
      ticket.resync = false;
      syncRequest(ticket);
    }
    render();
  }

  function messagePut(m, { live }) {
    if (!m || typeof m.id !== "number") return;
    const ticket = ticketGet(m.ticket_id);
    const isNew = !ticket.messages.has(m.id);
    ticket.messages.set(m.id, m);
    if (m.client_id) outboxAcked(m.client_id, m.ticket_id);
    ticket.lastSeq = Math.max(ticket.lastSeq, m.seq);
    if (!ticket.activity || m.created_at > ticket.activity) ticket.activity = m.created_at;
    if (m.seq === ticket.synced + 1) ticket.synced = m.seq;
    else if (live && m.seq > ticket.synced + 1) syncRequest(ticket); // a gap: fill it
    if (live && !ticket.confirmed && !ticket.syncing) syncRequest(ticket);
    if (live && isNew && m.author && m.author.type === "system" && !m.survey) surveyFetch(m);
    if (isNew && m.direction === "outbound") {
      ticket.typing = null;
      if (live && !threadVisible(ticket)) ticket.unread += 1;
    }
    if (live) {
      render();
      readMaybe();
    }
  }

  // Live events carry the shape agents see, without a survey invitation's rating card:
  // the visitor's own view of a system message has it.
  async function surveyFetch(m) {
    try {
      const page = await request("GET", `/tickets/${m.ticket_id}/messages?after_seq=${m.seq - 1}`);
      const full = (page.results || []).find((x) => x.id === m.id);
      if (full && full.survey) messagePut(full, { live: false });
      render();
    } catch (_) { /* the text with its link stays */ }
  }

  function typingHandle(frame) {
    if (frame.by !== "agent") return;
    const ticket = ticketGet(frame.ticket_id);
    clearTimeout(ticket.typingTimer);
    ticket.typing = frame.state === "start"
      ? ((frame.agent && frame.agent.name) || t("team")) : null;
    if (ticket.typing) {
      // A lost "stop" must not leave the indicator on forever.
      ticket.typingTimer = setTimeout(() => { ticket.typing = null; render(); }, 8000);
    }
    render();
  }

  function errorHandle(frame) {
    const entry = frame.client_id && state.outbox.find((e) => e.client_id === frame.client_id);
    if (entry) {
      outboxChange(() => { entry.failed = frame.message || t("error"); });
    } else if (frame.code !== "rate_limited") {
      // An answer to a sync (it carries no ticket id): let the next one go out.
      for (const ticket of state.tickets.values()) ticket.syncing = false;
    }
    render();
  }

  /* ---------------------------------------------------------------- REST fallback */
  let polling = false;
  let pollTimer = 0;
  let pollRunning = false;

  function fallbackArm() {
    if (!downSince) downSince = Date.now();
    if (fallbackTimer || polling) return;
    fallbackTimer = setTimeout(() => { fallbackTimer = 0; if (!welcomed) pollStart(); },
                               Math.max(0, POLL_AFTER_MS - (Date.now() - downSince)));
  }

  function fallbackDisarm() {
    downSince = 0;
    clearTimeout(fallbackTimer);
    fallbackTimer = 0;
  }

  function pollStart() {
    if (polling || !state.session) return;
    polling = true;
    setConn("polling");
    pollSoon();
  }

  function pollStop() {
    polling = false;
    clearTimeout(pollTimer);
  }

  function pollSoon(delay = 0) {
    if (!polling) return;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(pollOnce, delay);
  }

  async function pollOnce() {
    if (pollRunning) return;
    pollRunning = true;
    try {
      const data = await request("GET", "/tickets");
      if (!polling) return;
      ticketsReplace(data.results || []);
      for (const ticket of ticketsToSync()) {
        if (ticket.lastSeq <= ticket.synced && ticket.messages.size) continue;
        const page = await request(
          "GET", `/tickets/${ticket.id}/messages?after_seq=${ticket.synced}`);
        syncResult(ticket.id, page.results, page.last_seq);
      }
      await outboxFlushRest();
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) { sessionError(error); return; }
    } finally {
      pollRunning = false;
    }
    render();
    pollSoon(state.open ? 3000 : 10000);
  }

  /* ---------------------------------------------------------------- outbox (loss-free sends) */
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function outboxAdd(body, attachments) {
    const entry = {
      client_id: uuid(),
      ticket_id: typeof state.current === "number" ? state.current : null,
      body, attachments, created_at: new Date().toISOString(),
    };
    outboxChange(() => state.outbox.push(entry)); // stored first: a reload cannot lose it
    outboxSend(entry);
    return entry;
  }

  function outboxSend(entry) {
    if (entry.failed) return;
    // No session yet, or an identity (pre-chat email) to attach first: the welcome of the
    // next connection flushes the outbox.
    if (!state.session || state.claim) { start(); return; }
    if (polling) { pollSoon(); return; }
    if (entry.sentOn === connectionId && welcomed) return;
    const sent = socketSend({
      type: "message.send", client_id: entry.client_id, ticket_id: entry.ticket_id,
      body: entry.body, attachments: entry.attachments.map((a) => a.id),
    });
    if (sent) entry.sentOn = connectionId;
    else if (!ws) start();
  }

  function outboxFlush() {
    state.outbox.forEach(outboxSend); // same client_id each time: the server deduplicates
  }

  async function outboxFlushRest() {
    for (const entry of [...state.outbox]) {
      if (entry.failed) continue;
      try {
        const m = await request("POST", "/messages", { body: {
          client_id: entry.client_id, ticket_id: entry.ticket_id, body: entry.body,
          attachments: entry.attachments.map((a) => a.id),
        } });
        ticketGet(m.ticket_id).confirmed = true;
        messagePut(m, { live: true });
      } catch (error) {
        if (!(error instanceof ApiError) || error.status >= 500 || error.status === 429) return;
        outboxChange(() => { entry.failed = error.message; });
      }
    }
  }

  function outboxAcked(clientId, ticketId) {
    const entry = state.outbox.find((e) => e.client_id === clientId);
    if (!entry) return;
    outboxChange(() => {
      state.outbox = state.outbox.filter((e) => e.client_id !== clientId);
      if (entry.ticket_id === null) {
        // The first message of a new conversation: its siblings now know their ticket.
        state.outbox.forEach((e) => { if (e.ticket_id === null) e.ticket_id = ticketId; });
      }
    });
    if (entry.ticket_id === null && state.current === "new") state.current = ticketId;
  }

  // Read-modify-write against storage, so tabs of the same site never drop each other's
  // unsent messages. `sentOn` (which connection sent it) stays in this tab.
  function outboxChange(mutate) {
    const stored = load("outbox");
    if (Array.isArray(stored)) {
      const mine = new Map(state.outbox.map((e) => [e.client_id, e]));
      state.outbox = stored.filter((e) => e && e.client_id)
        .map((e) => Object.assign(mine.get(e.client_id) || {}, e));
    }
    mutate();
    save("outbox", state.outbox.map(({ sentOn, ...entry }) => entry));
  }

  function outboxFor(current) {
    const ticketId = current === "new" ? null : current;
    return state.outbox.filter((e) => e.ticket_id === ticketId);
  }

  /* ---------------------------------------------------------------- typing and reading */
  let typingSentAt = 0;
  let typingTicket = null;
  let typingStopTimer = 0;

  function typingPing() {
    if (typeof state.current !== "number" || !welcomed) return;
    const now = Date.now();
    if (now - typingSentAt > TYPING_THROTTLE_MS || typingTicket !== state.current) {
      typingSentAt = now;
      typingTicket = state.current;
      socketSend({ type: "typing", ticket_id: state.current, state: "start" });
    }
    clearTimeout(typingStopTimer);
    typingStopTimer = setTimeout(typingStop, TYPING_THROTTLE_MS);
  }

  function typingStop() {
    clearTimeout(typingStopTimer);
    if (typingTicket === null) return;
    socketSend({ type: "typing", ticket_id: typingTicket, state: "stop" });
    typingTicket = null;
    typingSentAt = 0;
  }

  function threadVisible(ticket) {
    return state.open && state.view === "thread" && state.current === ticket.id &&
      document.visibilityState === "visible";
  }

  function readMaybe() {
    if (typeof state.current !== "number") return;
    const ticket = state.tickets.get(state.current);
    if (!ticket || !threadVisible(ticket) || !document.hasFocus()) return;
    const last = lastMessage(ticket);
    if (!last) return;
    const hadUnread = ticket.unread > 0;
    ticket.unread = 0;
    if (last.seq > ticket.readSent &&
        socketSend({ type: "read", ticket_id: ticket.id, seq: last.seq })) {
      ticket.readSent = last.seq;
    }
    if (hadUnread) render();
  }

  /* ---------------------------------------------------------------- attachments */
  const blobUrls = new Map(); // attachment id -> Promise<object URL>

  function attachmentBlob(attachment) {
    if (!blobUrls.has(attachment.id)) {
      const load = (async () => {
        const fetchOnce = () => fetch(ORIGIN + attachment.url, {
          headers: { Authorization: "Bearer " + state.session.token }, credentials: "omit" });
        let response = await fetchOnce();
        if (response.status === 401) {
          await sessionTask(() => sessionStart());
          response = await fetchOnce();
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return URL.createObjectURL(await response.blob());
      })();
      load.catch(() => blobUrls.delete(attachment.id));
      blobUrls.set(attachment.id, load);
    }
    return blobUrls.get(attachment.id);
  }

  async function attachmentDownload(attachment) {
    try {
      const link = document.createElement("a");
      link.href = await attachmentBlob(attachment);
      link.download = attachment.name;
      link.rel = "noopener";
      ui.root.appendChild(link);
      link.click();
      link.remove();
    } catch (_) {
      noticeShow(t("error"));
    }
  }

  function filesPick(files) {
    const limitMb = Number((state.config && state.config.max_attachment_mb) || 10);
    for (const file of files) {
      if (file.size > limitMb * 1024 * 1024) {
        noticeShow(t("tooLarge", { name: file.name, mb: limitMb }));
        continue;
      }
      const upload = { key: uuid(), file, status: "uploading" };
      state.uploads.push(upload);
      uploadRun(upload);
    }
    render();
  }

  async function uploadRun(upload) {
    try {
      await sessionTask(sessionEnsure);
      const form = new FormData();
      form.append("file", upload.file, upload.file.name);
      const data = await request("POST", "/uploads", { form });
      Object.assign(upload, { status: "done", meta: data });
    } catch (error) {
      state.uploads = state.uploads.filter((u) => u !== upload);
      state.sendAfterUpload = false; // the visitor decides what to send without it
      noticeShow(t("uploadFailed", { name: upload.file.name,
                                     reason: error instanceof ApiError ? error.message : "" }));
    }
    render();
    if (state.sendAfterUpload && !state.uploads.some((u) => u.status === "uploading")) send();
  }

  function uploadRemove(upload) {
    state.uploads = state.uploads.filter((u) => u !== upload);
    render();
    if (state.sendAfterUpload && !state.uploads.some((u) => u.status === "uploading")) send();
  }

  /* ---------------------------------------------------------------- actions */
  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function prechatNeeded() {
    const config = state.config || {};
    return Boolean(config.prechat_email) && !config.identity_verification_required &&
      !load("user") && !state.claim && state.tickets.size === 0;
  }

  function send() {
    const body = ui.textarea.value;
    if (state.uploads.some((u) => u.status === "uploading")) {
      state.sendAfterUpload = true; // sent as soon as the files are up
      return;
    }
    state.sendAfterUpload = false;
    const attachments = state.uploads.map((u) => u.meta);
    if (!body.trim() && !attachments.length) return;
    if (prechatNeeded()) {
      const email = ui.email.value.trim();
      if (!EMAIL_RE.test(email)) {
        noticeShow(t("emailInvalid"));
        ui.email.focus();
        return;
      }
      // Unverified: gives the contact an email address for offline replies, and never
      // links the visitor to someone else's conversations (docs/widget.md).
      claimSet({ id: "email:" + email.toLowerCase(), email });
    }
    typingStop();
    ui.textarea.value = "";
    textareaGrow();
    state.uploads = [];
    state.notice = "";
    outboxAdd(body, attachments);
    render({ scroll: true });
  }

  function claimSet(user) {
    const fingerprint = [user.id, user.email || "", user.name || ""].join("\n");
    const stored = load("user");
    if (stored && stored.fingerprint === fingerprint && state.session) return false;
    if (stored && stored.id !== user.id && !stored.id.startsWith("email:")) {
      // Another person signed in on this browser: never continue the previous one's chat.
      localReset();
    }
    state.claim = { user, fingerprint };
    return true;
  }

  function localReset() {
    stopForGood("idle");
    state.session = null;
    state.outbox = [];
    state.tickets.clear();
    state.view = "home";
    state.current = null;
    state.everWelcomed = false;
    for (const name of ["session", "outbox", "user"]) save(name, null);
    render();
  }

  function threadOpen(current) {
    state.view = "thread";
    state.current = current;
    state.notice = "";
    if (typeof current === "number") {
      const ticket = ticketGet(current);
      if (!ticket.messages.size || ticket.synced < ticket.lastSeq) syncRequest(ticket);
    }
    render({ scroll: true });
    readMaybe();
    focusFirst();
  }

  function homeOpen() {
    typingStop();
    state.view = "home";
    state.current = null;
    state.notice = "";
    render();
    focusFirst();
  }

  function noticeShow(text) {
    state.notice = text;
    render();
  }

  /* ---------------------------------------------------------------- public API */
  function identify(user) {
    if (!user || user.id == null || user.id === "") {
      console.warn("Switchboard.identify() needs at least an id.");
      return;
    }
    const claim = { id: String(user.id) };
    for (const field of ["email", "name", "hash"]) if (user[field]) claim[field] = String(user[field]);
    if (!claimSet(claim)) return;
    if (state.conn === "signin") state.conn = "idle";
    start(); // identified customers connect at once: they may have replies waiting
  }

  function open() {
    if (state.open) return;
    state.open = true;
    if (state.session) socketConnect(); else start();
    render({ scroll: true });
    readMaybe();
    focusFirst();
  }

  function close() {
    if (!state.open) return;
    typingStop();
    state.open = false;
    const focusWasOurs = Boolean(ui.shadow && ui.shadow.activeElement);
    render();
    // After the repaint: on phones the launcher is hidden while the panel is open.
    if (focusWasOurs) queueMicrotask(() => ui.launcher.focus());
  }

  function setLocale(locale) {
    const normalized = localeNormalize(locale);
    if (!normalized) return;
    state.locale = normalized;
    render();
  }

  const api = function (method, ...args) {
    return typeof api[method] === "function" ? api[method](...args) : undefined;
  };
  // reset(): forget this browser's chat (call it when the signed-in user logs out).
  Object.assign(api, { identify, open, close, setLocale, reset: localReset, __switchboard: true });
  window.Switchboard = api;

  /* ---------------------------------------------------------------- DOM helpers */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "class") el.className = value;
      else if (name in el && typeof el[name] !== "function" && !name.includes("-")) el[name] = value;
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child == null || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const ICONS = {
    chat: '<path fill="currentColor" d="M12 3C6.5 3 2 6.9 2 11.6c0 2.4 1.2 4.6 3.1 6.1L4.3 21l4-1.9c1.2.4 2.4.6 3.7.6 5.5 0 10-3.9 10-8.6S17.5 3 12 3Z"/>',
    close: '<path d="M6 6l12 12M18 6 6 18" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/>',
    back: '<path d="M15 5l-7 7 7 7" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/>',
    send: '<path fill="currentColor" d="M3.4 20.4 21 12 3.4 3.6v6.6L15 12 3.4 13.8z"/>',
    clip: '<path d="M20.5 11.5 12 20a5 5 0 0 1-7.1-7.1l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-2.8-2.8l8.3-8.3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
    clock: '<circle cx="12" cy="12" r="8.5" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 7.5V12l3 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
    file: '<path d="M7 3h7l5 5v12a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1Zm7 0v5h5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>',
    arrow: '<path d="M9 5l7 7-7 7" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/>',
  };

  function icon(name, className) {
    const span = h("span", { class: "icon " + (className || ""), "aria-hidden": "true" });
    span.innerHTML = `<svg viewBox="0 0 24 24" width="24" height="24" focusable="false">${ICONS[name]}</svg>`;
    return span;
  }

  function initials(name) {
    const words = String(name || "").trim().split(/\s+/).filter(Boolean);
    if (!words.length) return "?";
    return words.slice(0, 2).map((w) => Array.from(w)[0].toUpperCase()).join("");
  }

  function timeFormat(iso) {
    const date = new Date(iso);
    if (isNaN(date)) return "";
    const lang = HTML_LANG[state.locale];
    const time = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" }).format(date);
    if (date.toDateString() === new Date().toDateString()) return time;
    return new Intl.DateTimeFormat(lang, { month: "short", day: "numeric" }).format(date) +
      " " + time;
  }

  function sizeFormat(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // Plain text with http(s) links made clickable; never HTML from the message.
  function richText(text) {
    const parts = [];
    const re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    let at = 0;
    for (let match; (match = re.exec(text));) {
      parts.push(text.slice(at, match.index));
      parts.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer nofollow" },
                   match[0]));
      at = match.index + match[0].length;
    }
    parts.push(text.slice(at));
    return parts;
  }

  function brandColor() {
    const color = state.config && state.config.color;
    return /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color || "") ? color : "#2563eb";
  }

  function contrastText(hex) {
    const full = hex.length === 4 ? "#" + [...hex.slice(1)].map((c) => c + c).join("") : hex;
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(full.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return (1.05 / (luminance + 0.05)) >= 4.5 ? "#ffffff" : "#111827"; // WCAG AA vs white
  }

  /* ---------------------------------------------------------------- styles */
  const CSS = `
:host { all: initial !important; }
.sb, .sb * { box-sizing: border-box; }
.sb {
  --brand: #2563eb; --on-brand: #fff; --ink: #1f2328; --muted: #57606a; --line: #e4e7eb;
  --bg-soft: #f6f7f9; --danger: #b42318;
  font: 400 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
        "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
  color: var(--ink); text-align: left; letter-spacing: normal; text-transform: none;
  -webkit-font-smoothing: antialiased;
}
:where(.sb) button { font: inherit; color: inherit; background: none; border: 0; margin: 0;
  padding: 0; cursor: pointer; display: inline-flex; align-items: center; justify-content: center; }
.sb [hidden] { display: none !important; }
.sb :focus { outline: none; }
.sb :focus-visible { outline: 3px solid var(--focus, #1d4ed8); outline-offset: 2px; }
.icon { display: inline-flex; width: 20px; height: 20px; flex: none; }
.icon svg { width: 100%; height: 100%; display: block; }
.launcher { position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px;
  border-radius: 50%; background: var(--brand); color: var(--on-brand);
  box-shadow: 0 6px 20px rgba(15, 23, 42, .28); transition: transform .15s ease; }
.launcher:hover { transform: scale(1.06); }
.launcher .icon { width: 28px; height: 28px; }
.badge { position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px;
  padding: 0 6px; border-radius: 11px; background: #d92d20; color: #fff; font-size: 12px;
  font-weight: 700; line-height: 22px; text-align: center; border: 2px solid #fff; }
.panel { position: fixed; right: 20px; bottom: 96px; width: 380px;
  height: min(640px, calc(100vh - 120px)); background: #fff; border-radius: 18px;
  box-shadow: 0 16px 48px rgba(15, 23, 42, .22), 0 2px 6px rgba(15, 23, 42, .08);
  display: flex; flex-direction: column; overflow: hidden;
  animation: sb-in .18s ease-out; }
@keyframes sb-in { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
@media (prefers-reduced-motion: reduce) { .panel { animation: none; } .launcher { transition: none; } }
header { background: var(--brand); color: var(--on-brand); padding: 18px 16px 18px 20px;
  display: flex; align-items: flex-start; gap: 8px; flex: none;
  background-image: linear-gradient(135deg, rgba(255,255,255,.12), rgba(0,0,0,.08)); }
header .titles { flex: 1; min-width: 0; }
header h2 { margin: 0; font-size: 17px; font-weight: 650; line-height: 1.3; color: inherit;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
header p { margin: 3px 0 0; font-size: 13px; opacity: .92; color: inherit; }
header .offline { display: inline-block; margin-top: 8px; padding: 3px 9px; border-radius: 999px;
  background: rgba(0,0,0,.22); font-size: 12px; opacity: 1; }
header button { width: 34px; height: 34px; border-radius: 10px; flex: none; color: inherit; }
header button:hover { background: rgba(255,255,255,.16); }
header button:focus-visible { outline-color: var(--on-brand); outline-offset: -3px; }
.banner { padding: 8px 16px; font-size: 13px; background: #fff7e6; color: #7a4b00;
  border-bottom: 1px solid #f5dfb3; flex: none; }
.banner.error { background: #fdecea; color: var(--danger); border-color: #f6c9c4; }
.body { flex: 1; min-height: 0; overflow-y: auto; background: var(--bg-soft);
  overscroll-behavior: contain; }
.home { padding: 16px; display: flex; flex-direction: column; gap: 12px; }
.card { background: #fff; border-radius: 14px; border: 1px solid var(--line); padding: 16px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .04); }
.greeting { font-size: 15px; margin: 0 0 12px; white-space: pre-wrap; }
.primary { width: 100%; gap: 10px; padding: 11px 16px; border-radius: 12px;
  background: var(--brand); color: var(--on-brand); font-weight: 600; }
.primary:hover { filter: brightness(1.06); }
.primary:focus-visible { outline-color: var(--ink); }
.section-title { margin: 4px 2px 0; font-size: 12px; font-weight: 650; color: var(--muted);
  text-transform: uppercase; letter-spacing: .04em; }
.convs { list-style: none; margin: 0; padding: 0; background: #fff; border-radius: 14px;
  border: 1px solid var(--line); overflow: hidden; }
.convs li + li { border-top: 1px solid var(--line); }
.conv { width: 100%; justify-content: flex-start; gap: 12px; padding: 12px 14px;
  text-align: left; }
.conv:hover { background: var(--bg-soft); }
.conv .text { flex: 1; min-width: 0; display: flex; flex-direction: column; }
.conv .top { display: flex; justify-content: space-between; gap: 8px; }
.conv .name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.conv .when { font-size: 12px; color: var(--muted); flex: none; }
.conv .preview { color: var(--muted); font-size: 13px; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.conv.unread .preview { color: var(--ink); font-weight: 600; }
.pill { min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; background: #d92d20;
  color: #fff; font-size: 12px; font-weight: 700; line-height: 20px; text-align: center; flex: none; }
.avatar { width: 32px; height: 32px; border-radius: 50%; flex: none; display: inline-flex;
  align-items: center; justify-content: center; font-size: 12px; font-weight: 700;
  background: var(--brand); color: var(--on-brand); }
.thread { padding: 16px 14px 8px; display: flex; flex-direction: column; gap: 2px; }
.empty { color: var(--muted); text-align: center; padding: 32px 8px; margin: 0; }
.msg { display: flex; align-items: flex-end; gap: 8px; max-width: 100%; }
.msg.group-start { margin-top: 10px; }
.msg .avatar { width: 28px; height: 28px; font-size: 11px; }
.msg .spacer { width: 28px; flex: none; }
.msg .col { display: flex; flex-direction: column; max-width: 78%; min-width: 0; }
.msg .author { font-size: 12px; color: var(--muted); margin: 0 0 3px 4px; }
.bubble { padding: 9px 13px; border-radius: 18px; white-space: pre-wrap;
  overflow-wrap: anywhere; background: #fff; border: 1px solid var(--line); color: var(--ink); }
.bubble a { color: inherit; text-decoration: underline; }
.msg.mine { justify-content: flex-end; }
.msg.mine .col { align-items: flex-end; }
.msg.mine .bubble { background: var(--brand); color: var(--on-brand); border-color: transparent;
  border-bottom-right-radius: 6px; }
.msg.theirs .bubble { border-bottom-left-radius: 6px; }
.survey p { margin: 0 0 8px; white-space: normal; }
.survey .scores { display: flex; flex-wrap: wrap; gap: 6px; }
.survey .score { min-width: 32px; padding: 6px 0; text-align: center; border-radius: 8px;
  border: 1px solid var(--line); text-decoration: none; font-weight: 600; }
.survey .score:hover, .survey .score:focus-visible { background: var(--brand);
  color: var(--on-brand); border-color: transparent; }
.msg.pending .bubble { opacity: .75; }
.msg.failed .bubble { background: #fff; color: var(--danger); border-color: #f3b8b2; }
.meta { font-size: 11px; color: var(--muted); margin: 3px 6px 0; display: flex; gap: 6px;
  align-items: center; }
.meta .icon { width: 13px; height: 13px; }
.meta button { color: var(--danger); text-decoration: underline; font-size: 11px; }
.seen { font-size: 11px; color: var(--muted); text-align: right; margin: 2px 6px 0; }
.files { display: flex; flex-direction: column; gap: 6px; margin-top: 6px; }
.files:first-child { margin-top: 0; }
.files img { display: block; max-width: 100%; max-height: 220px; border-radius: 12px;
  background: rgba(0,0,0,.06); }
.file { gap: 8px; padding: 8px 10px; border-radius: 10px; background: rgba(0,0,0,.06);
  color: inherit; text-align: left; justify-content: flex-start; }
.msg.mine .file { background: rgba(255,255,255,.2); }
.file .fname { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.file .fsize { opacity: .8; font-size: 12px; flex: none; }
.typing { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 12px;
  padding: 8px 4px 4px; }
.dots { display: inline-flex; gap: 3px; padding: 8px 10px; background: #fff;
  border: 1px solid var(--line); border-radius: 14px; }
.dots i { width: 6px; height: 6px; border-radius: 50%; background: #98a2b3;
  animation: sb-dot 1.2s infinite ease-in-out; }
.dots i:nth-child(2) { animation-delay: .15s; } .dots i:nth-child(3) { animation-delay: .3s; }
@keyframes sb-dot { 0%, 60%, 100% { transform: none; opacity: .5; } 30% { transform: translateY(-3px); opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .dots i { animation: none; } }
.composer { flex: none; border-top: 1px solid var(--line); background: #fff; padding: 10px 12px 12px; }
.prechat { display: flex; flex-direction: column; gap: 4px; margin-bottom: 10px; }
.prechat label { font-size: 12px; font-weight: 600; color: var(--ink); }
.prechat small { font-size: 12px; color: var(--muted); }
.prechat input { font: inherit; color: var(--ink); background: #fff; border: 1px solid #c9ced6;
  border-radius: 10px; padding: 8px 10px; width: 100%; }
.notice { color: var(--danger); font-size: 12px; margin: 0 0 8px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
.chip { display: inline-flex; align-items: center; gap: 6px; max-width: 100%; padding: 4px 6px 4px 10px;
  border-radius: 999px; background: var(--bg-soft); border: 1px solid var(--line); font-size: 12px; }
.chip .cname { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 180px; }
.chip button { width: 20px; height: 20px; border-radius: 50%; }
.chip button .icon { width: 12px; height: 12px; }
.row { display: flex; align-items: flex-end; gap: 6px; border: 1px solid #c9ced6; border-radius: 14px;
  padding: 4px 4px 4px 12px; background: #fff; }
.row:focus-within { border-color: var(--brand); box-shadow: 0 0 0 1px var(--brand); }
.sb textarea:focus-visible { outline: none; } /* the row around it shows the focus */
textarea { flex: 1; font: inherit; color: var(--ink); background: transparent; border: 0; outline: none;
  resize: none; min-height: 36px; max-height: 120px; padding: 8px 0; margin: 0; line-height: 1.4; }
textarea::placeholder, input::placeholder { color: #6b7280; opacity: 1; }
.iconbtn { width: 36px; height: 36px; border-radius: 10px; color: var(--muted); flex: none; }
.iconbtn:hover { background: var(--bg-soft); color: var(--ink); }
.sendbtn, .sendbtn:hover { background: var(--brand); color: var(--on-brand); }
.sendbtn:hover { filter: brightness(1.08); }
.sendbtn:disabled { background: #e5e7eb; color: #6b7280; cursor: default; filter: none; }
.sendbtn .icon { width: 18px; height: 18px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }
  .sb.open .launcher { display: none; }
}
`;

  /* ---------------------------------------------------------------- UI */
  const ui = {};

  function mount() {
    const host = document.createElement("switchboard-widget");
    // Inline !important beats the host page's !important rules on this element, and
    // `all: initial` stops inherited styles (color, font...) crossing into the shadow tree.
    host.setAttribute("style", "all: initial !important; position: fixed !important; " +
      "z-index: 2147483000 !important; bottom: 0 !important; right: 0 !important; " +
      "width: 0 !important; height: 0 !important; display: block !important;");
    const shadow = host.attachShadow({ mode: "open" });
    ui.host = host;
    ui.shadow = shadow;
    shadow.append(h("style", {}, CSS));
    ui.root = h("div", { class: "sb" });
    shadow.append(ui.root);

    ui.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    ui.launcherIcon = h("span", { class: "launcher-icon" });
    ui.launcher = h("button", { class: "launcher", type: "button", "aria-expanded": "false",
                               onclick: () => (state.open ? close() : open()) },
                    ui.launcherIcon, ui.badge);

    ui.title = h("h2", { id: "sb-title" });
    ui.subtitle = h("p", { class: "subtitle" });
    ui.offline = h("p", { class: "offline" });
    ui.back = h("button", { type: "button", onclick: homeOpen }, icon("back"));
    ui.closeBtn = h("button", { type: "button", onclick: close }, icon("close"));
    ui.banner = h("div", { class: "banner", role: "status" });
    ui.body = h("div", { class: "body" });

    ui.email = h("input", { type: "email", id: "sb-email", autocomplete: "email",
                            oninput: () => { if (state.notice) noticeShow(""); } });
    ui.emailLabel = h("label", { for: "sb-email" });
    ui.emailHint = h("small", { id: "sb-email-hint" });
    ui.email.setAttribute("aria-describedby", "sb-email-hint");
    ui.prechat = h("div", { class: "prechat" }, ui.emailLabel, ui.email, ui.emailHint);
    ui.notice = h("p", { class: "notice", role: "alert" });
    ui.chips = h("div", { class: "chips" });
    ui.textarea = h("textarea", { rows: 1, oninput: () => { textareaGrow(); typingPing(); renderSend(); },
                                  onkeydown: composerKey });
    ui.file = h("input", { type: "file", multiple: true, hidden: true, tabIndex: -1,
                           onchange: () => { filesPick([...ui.file.files]); ui.file.value = ""; } });
    ui.attach = h("button", { class: "iconbtn", type: "button", onclick: () => ui.file.click() },
                  icon("clip"));
    ui.sendBtn = h("button", { class: "iconbtn sendbtn", type: "button", onclick: send },
                   icon("send"));
    ui.composer = h("div", { class: "composer" }, ui.prechat, ui.notice, ui.chips,
                    h("div", { class: "row" }, ui.textarea, ui.file, ui.attach, ui.sendBtn));

    ui.panel = h("div", { class: "panel", role: "dialog", "aria-modal": "true",
                          "aria-labelledby": "sb-title", hidden: true },
                 h("header", {}, ui.back,
                   h("div", { class: "titles" }, ui.title, ui.subtitle, ui.offline), ui.closeBtn),
                 ui.banner, ui.body, ui.composer);
    ui.root.append(ui.panel, ui.launcher);
    shadow.addEventListener("keydown", panelKey);
    document.body.appendChild(host);
    themeApply();
    render({ scroll: true });
  }

  function themeApply() {
    if (!ui.root) return;
    const brand = brandColor();
    ui.root.style.setProperty("--brand", brand);
    ui.root.style.setProperty("--on-brand", contrastText(brand));
    ui.root.style.setProperty("--focus", contrastText(brand) === "#ffffff" ? brand : "#1f2328");
  }

  function composerKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  }

  function textareaGrow() {
    ui.textarea.style.height = "auto";
    ui.textarea.style.height = Math.min(120, ui.textarea.scrollHeight) + "px";
  }

  function focusables() {
    return [...ui.panel.querySelectorAll(
      "button:not([disabled]), textarea, input:not([type=file]), a[href], [tabindex='0']")]
      .filter((el) => !el.closest("[hidden]") && el.getClientRects().length);
  }

  function focusFirst() {
    if (!ui.panel || !state.open) return;
    requestAnimationFrame(() => {
      if (state.view === "thread") (prechatNeeded() && !ui.email.value ? ui.email : ui.textarea).focus();
      else (ui.body.querySelector("button") || ui.closeBtn).focus();
    });
  }

  function panelKey(event) {
    if (!state.open) return;
    if (event.key === "Escape") {
      event.preventDefault();
      close();
      return;
    }
    if (event.key !== "Tab") return;
    const items = focusables();
    if (!items.length) return;
    const active = ui.shadow.activeElement;
    const index = items.indexOf(active);
    if (event.shiftKey && (index <= 0)) {
      event.preventDefault();
      items[items.length - 1].focus();
    } else if (!event.shiftKey && (index === -1 || index === items.length - 1)) {
      event.preventDefault();
      items[0].focus();
    }
  }

  function replyTimeText() {
    const minutes = state.config && state.config.reply_time_minutes;
    if (typeof minutes !== "number" || minutes <= 0) return "";
    if (minutes < 60) return t("replyMinutes", { n: Math.round(minutes) });
    if (minutes < 24 * 60) return t("replyHours");
    return t("replyDay");
  }

  function greetingText() {
    const greeting = state.config && state.config.greeting;
    if (typeof greeting === "string" && greeting) return greeting;
    if (greeting && typeof greeting === "object") {
      return greeting[state.locale] || greeting[HTML_LANG[state.locale]] || greeting.en ||
        t("greeting");
    }
    return t("greeting");
  }

  function inboxName() {
    return (state.config && state.config.name) || t("chatWithUs");
  }

  /* ---------------------------------------------------------------- render */
  let renderQueued = false;
  let scrollWanted = false;

  // Coalesces bursts of frames (a sync result of 100 messages) into one repaint.
  function render(options) {
    if (options && options.scroll) scrollWanted = true;
    if (renderQueued) return;
    renderQueued = true;
    Promise.resolve().then(() => {
      renderQueued = false;
      if (ui.root) renderNow();
    });
  }

  function renderNow() {
    const totalUnread = ticketsSorted().reduce((n, ticket) => n + ticket.unread, 0);
    ui.root.classList.toggle("open", state.open);
    ui.host.setAttribute("lang", HTML_LANG[state.locale]);
    ui.launcherIcon.replaceChildren(icon(state.open ? "close" : "chat"));
    ui.launcher.setAttribute("aria-expanded", String(state.open));
    ui.launcher.setAttribute("aria-label", (state.open ? t("closeChat") : t("openChat")) +
      (totalUnread && !state.open ? ` (${t("unread", { n: totalUnread })})` : ""));
    ui.badge.hidden = !totalUnread || state.open;
    ui.badge.textContent = totalUnread > 99 ? "99+" : String(totalUnread);
    ui.panel.hidden = !state.open;
    if (!state.open) return;

    ui.title.textContent = inboxName();
    ui.subtitle.textContent = replyTimeText();
    ui.subtitle.hidden = !ui.subtitle.textContent;
    ui.offline.textContent = t("offline");
    ui.offline.hidden = !(state.config && state.config.open_now === false);
    ui.back.hidden = state.view !== "thread";
    ui.back.setAttribute("aria-label", t("back"));
    ui.closeBtn.setAttribute("aria-label", t("closeChat"));

    const banner = { down: state.everWelcomed ? "reconnecting" : "", forbidden: "forbidden",
                     signin: "signIn" }[state.conn];
    ui.banner.hidden = !banner;
    ui.banner.textContent = banner ? t(banner) : "";
    ui.banner.classList.toggle("error", state.conn === "forbidden" || state.conn === "signin");

    if (state.view === "thread") renderThread(); else renderHome();
    renderComposer();
  }

  function renderHome() {
    const greeting = h("div", { class: "card" },
      h("p", { class: "greeting" }, greetingText()),
      h("button", { class: "primary", type: "button", onclick: () => threadOpen("new"),
                    "data-key": "new",
                    disabled: state.conn === "forbidden" },
        t("newConversation"), icon("arrow")));
    const tickets = ticketsSorted();
    const list = tickets.length ? [
      h("h3", { class: "section-title" }, t("conversations")),
      h("ul", { class: "convs" }, tickets.map((ticket) => h("li", {}, conversationRow(ticket)))),
    ] : [];
    const focused = ui.shadow.activeElement && ui.shadow.activeElement.dataset.key;
    ui.body.replaceChildren(h("div", { class: "home" }, greeting, list));
    const again = focused && ui.body.querySelector(`[data-key="${focused}"]`);
    if (again) again.focus(); // a frame arriving must not steal a keyboard user's place
  }

  function conversationRow(ticket) {
    const last = lastMessage(ticket);
    const agentLast = messagesSorted(ticket).reverse().find((m) => m.direction === "outbound");
    const name = agentLast ? agentLast.author.name : inboxName();
    let preview = t("conversation");
    if (last) {
      const text = last.body.trim() || (last.attachments.length ? t("attachment") : "");
      preview = last.direction === "inbound" ? `${t("you")}: ${text}` : text;
    }
    const label = [name, preview, ticket.unread ? t("unread", { n: ticket.unread }) : ""]
      .filter(Boolean).join(", ");
    return h("button", { class: "conv" + (ticket.unread ? " unread" : ""), type: "button",
                         "data-key": "t" + ticket.id,
                         "aria-label": label, onclick: () => threadOpen(ticket.id) },
      h("span", { class: "avatar", "aria-hidden": "true" }, initials(name)),
      h("span", { class: "text" },
        h("span", { class: "top" },
          h("span", { class: "name" }, name),
          h("span", { class: "when" }, last ? timeFormat(last.created_at) :
            (ticket.activity ? timeFormat(ticket.activity) : ""))),
        h("span", { class: "preview" }, preview)),
      ticket.unread ? h("span", { class: "pill", "aria-hidden": "true" }, String(ticket.unread)) : null);
  }

  const nodeCache = new Map(); // message key -> {sig, el}: unchanged messages keep their node

  function cached(key, sig, build) {
    const hit = nodeCache.get(key);
    if (hit && hit.sig === sig) return hit.el;
    const el = build();
    nodeCache.set(key, { sig, el });
    return el;
  }

  function renderThread() {
    const ticket = typeof state.current === "number" ? state.tickets.get(state.current) : null;
    const messages = ticket ? messagesSorted(ticket) : [];
    const pending = outboxFor(state.current);
    const container = ui.body.querySelector(".thread") || h("div", {
      class: "thread", role: "log", "aria-label": t("messages") });
    const atBottom = ui.body.scrollHeight - ui.body.scrollTop - ui.body.clientHeight < 60;

    const items = [];
    const lastMine = [...messages].reverse().find((m) => m.direction === "inbound");
    let previous = null;
    for (const m of messages) {
      const head = !previous || previous.direction !== m.direction ||
        previous.author.name !== m.author.name ||
        Date.parse(m.created_at) - Date.parse(previous.created_at) > 5 * 60 * 1000;
      const seen = m === lastMine && ticket.agentReadSeq >= m.seq && !pending.length;
      const sig = [m.id, m.seq, m.body, m.attachments.length, head, seen, state.locale,
                   m.survey ? m.survey.url : ""].join("|");
      items.push(cached("m" + m.id, sig, () => messageNode(m, { head, seen })));
      previous = m;
    }
    pending.forEach((entry, index) => {
      const sig = [entry.failed || "", index === 0 && previous && previous.direction !== "inbound",
                   state.locale].join("|");
      items.push(cached("p" + entry.client_id, sig, () => pendingNode(entry, index === 0 &&
        (!previous || previous.direction !== "inbound"))));
    });
    if (!messages.length) {
      items.unshift(cached("greeting", [greetingText(), inboxName()].join("|"), () =>
        h("div", { class: "msg theirs group-start" },
          h("span", { class: "avatar", "aria-hidden": "true" }, initials(inboxName())),
          h("div", { class: "col" }, h("span", { class: "author" }, inboxName()),
            h("div", { class: "bubble" }, greetingText())))));
    }
    if (ticket && ticket.typing) {
      items.push(cached("typing", ticket.typing + state.locale, () =>
        h("div", { class: "typing", role: "status" },
          h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
          t("typing", { name: ticket.typing }))));
    }
    container.setAttribute("aria-label", t("messages"));
    reconcile(container, items);
    if (!container.isConnected) ui.body.replaceChildren(container);
    if (scrollWanted || atBottom) ui.body.scrollTop = ui.body.scrollHeight;
    scrollWanted = false;
  }

  // Moves only what changed, so the live region announces new messages, not the thread.
  function reconcile(parent, nodes) {
    nodes.forEach((node, index) => {
      if (parent.childNodes[index] !== node) parent.insertBefore(node, parent.childNodes[index] || null);
    });
    while (parent.childNodes.length > nodes.length) parent.lastChild.remove();
  }

  function messageNode(m, { head, seen }) {
    const mine = m.direction === "inbound";
    const author = mine ? t("you") : (m.author && m.author.name) || t("team");
    const via = mine && m.channel && m.channel !== "widget" ? " · " + t("via", { channel: m.channel }) : "";
    const col = h("div", { class: "col" },
      head && !mine ? h("span", { class: "author" }, author) : null,
      m.survey ? surveyCard(m.survey) : h("div", { class: "bubble" },
        m.body ? richText(m.body) : null,
        m.attachments.length ? h("div", { class: "files" }, m.attachments.map(attachmentNode)) : null),
      h("span", { class: "meta" },
        h("span", { class: "sr" }, author + ", "),
        h("time", { dateTime: m.created_at }, timeFormat(m.created_at) + via)),
      seen ? h("span", { class: "seen" }, t("seen")) : null);
    const avatar = mine ? null : head
      ? h("span", { class: "avatar", "aria-hidden": "true" }, initials(author))
      : h("span", { class: "spacer" });
    return h("div", { class: `msg ${mine ? "mine" : "theirs"}${head ? " group-start" : ""}` },
             avatar, col);
  }

  // A post-resolution survey: one button per score, each opening the survey page with
  // that score recorded (the page takes a comment and lets the answer be changed).
  function surveyCard(survey) {
    const scores = [];
    for (let score = survey.min; score <= survey.max; score += 1) {
      scores.push(h("a", { class: "score", href: `${survey.url}?score=${score}`, target: "_blank",
                           rel: "noopener noreferrer" }, String(score)));
    }
    return h("div", { class: "bubble survey", role: "group", "aria-label": survey.question },
      h("p", {}, survey.question), h("div", { class: "scores" }, scores));
  }

  function pendingNode(entry, head) {
    const status = entry.failed
      ? [h("span", {}, `${t("notSent")} ${entry.failed}`),
         h("button", { type: "button", onclick: () => {
           outboxChange(() => { delete entry.failed; });
           outboxSend(entry);
           render();
         } }, t("retry")),
         h("button", { type: "button", onclick: () => {
           outboxChange(() => { state.outbox = state.outbox.filter((e) => e.client_id !== entry.client_id); });
           render();
         } }, t("discard"))]
      : [icon("clock"), h("span", {}, t("sending"))];
    return h("div", { class: `msg mine ${entry.failed ? "failed" : "pending"}${head ? " group-start" : ""}` },
      h("div", { class: "col" },
        h("div", { class: "bubble" }, entry.body ? richText(entry.body) : null,
          entry.attachments.length ? h("div", { class: "files" }, entry.attachments.map((a) =>
            h("span", { class: "file" }, icon("file"), h("span", { class: "fname" }, a.name)))) : null),
        h("span", { class: "meta" }, status)));
  }

  function attachmentNode(attachment) {
    if (/^image\/(png|jpe?g|gif|webp)$/.test(attachment.content_type)) {
      const img = h("img", { alt: attachment.name, loading: "lazy" });
      const link = h("a", { target: "_blank", rel: "noopener", title: attachment.name }, img);
      attachmentBlob(attachment).then((url) => { img.src = url; link.href = url; },
                                      () => { img.replaceWith(attachment.name); });
      return link;
    }
    return h("button", { class: "file", type: "button",
                         "aria-label": t("download", { name: attachment.name }),
                         onclick: () => attachmentDownload(attachment) },
      icon("file"), h("span", { class: "fname" }, attachment.name),
      h("span", { class: "fsize" }, sizeFormat(attachment.size)));
  }

  function renderComposer() {
    const show = state.view === "thread" && state.conn !== "forbidden" && state.conn !== "signin";
    ui.composer.hidden = !show;
    if (!show) return;
    const prechat = prechatNeeded();
    ui.prechat.hidden = !prechat;
    ui.emailLabel.textContent = t("emailLabel");
    ui.emailHint.textContent = t("emailHint");
    ui.email.placeholder = "name@example.com";
    ui.notice.hidden = !state.notice;
    ui.notice.textContent = state.notice;
    ui.textarea.placeholder = t("placeholder");
    ui.textarea.setAttribute("aria-label", t("placeholder"));
    ui.attach.setAttribute("aria-label", t("attach"));
    ui.attach.title = t("attach");
    ui.sendBtn.setAttribute("aria-label", t("send"));
    ui.sendBtn.title = t("send");
    ui.chips.hidden = !state.uploads.length;
    ui.chips.replaceChildren(...state.uploads.map((upload) => h("span", { class: "chip" },
      h("span", { class: "cname" }, upload.file.name),
      upload.status === "uploading" ? h("span", {}, t("uploading")) : null,
      h("button", { type: "button", "aria-label": t("removeFile", { name: upload.file.name }),
                    onclick: () => uploadRemove(upload) },
        icon("close")))));
    renderSend();
  }

  function renderSend() {
    ui.sendBtn.disabled = !ui.textarea.value.trim() && !state.uploads.length;
  }

  /* ---------------------------------------------------------------- boot */
  function boot() {
    mount();
    configLoad();
    // Visitors without a token get one only when they open the chat (or are identified):
    // page views alone create no contacts.
    if (state.session || state.claim || state.outbox.length) start();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && state.session && !ws && !polling) socketRestart();
      readMaybe();
    });
    window.addEventListener("focus", readMaybe);
    window.addEventListener("storage", (event) => {
      if (event.key !== storageKey("outbox")) return;
      outboxChange(() => {}); // another tab queued or delivered a message
      if (welcomed) outboxFlush();
      render();
    });
    window.addEventListener("online", () => { if (state.session && !welcomed) socketRestart(); });
  }

  // Calls made before the script loaded (an array of [method, ...args], or a stub's `q`),
  // replayed once everything above is defined.
  const calls = Array.isArray(queued) ? queued : (queued && Array.isArray(queued.q) ? queued.q : []);
  for (const call of calls) api(...Array.from(call));

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot, { once: true });
})();
