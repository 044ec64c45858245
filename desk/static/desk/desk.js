// The agent inbox in the browser: keyboard shortcuts and the /ws/agent/ live client.
// Pages are rendered on the server; live events only tell this script what to re-fetch.

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const strings = JSON.parse($("#desk-i18n")?.textContent || "{}");
const me = Number(document.body.dataset.agentId);
const ticketPage = $("#ticket");
const ticketId = ticketPage ? Number(ticketPage.dataset.ticket) : null;
const list = $("#ticket-list");

// --- small helpers -----------------------------------------------------------------------

function toast(text, href) {
  const item = document.createElement(href ? "a" : "p");
  item.className = "toast";
  item.textContent = text;
  if (href) item.href = href;
  $("#toasts").append(item);
  setTimeout(() => item.remove(), 6000);
}

function announce(text) {
  $("#live-status").textContent = text;
}

function htmlFragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// --- the live socket ---------------------------------------------------------------------

const handlers = {};
let socket = null;
let retryDelay = 500;

function on(type, handler) {
  (handlers[type] ||= []).push(handler);
}

function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/agent/`);
  socket.addEventListener("open", () => {
    retryDelay = 500;
    document.body.classList.remove("is-offline");
    document.body.dataset.live = "open";
    (handlers.open || []).forEach((handler) => handler());
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    (handlers[frame.type] || []).forEach((handler) => handler(frame.data || {}, frame));
  });
  socket.addEventListener("close", (event) => {
    document.body.dataset.live = "closed";
    if (event.code === 4401) return; // signed out
    document.body.classList.add("is-offline");
    announce(strings.offline);
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  });
}

// Mentions reach every page.
on("mention", (data) => {
  const badge = $("#notifications-count");
  if (badge) {
    badge.hidden = false;
    badge.textContent = String(Number(badge.textContent || 0) + 1);
  }
  toast(`${data.by.name} ${strings.mentioned} #${data.number}: ${data.excerpt}`,
        `/tickets/${data.ticket_id}/#message-${data.message_id}`);
});

// --- the inbox list ----------------------------------------------------------------------

const refreshCounts = debounce(() => document.body.dispatchEvent(new CustomEvent("desk:counts")), 300);

async function listRowRefresh(id, { moveToTop }) {
  // The view is the page's query string (search updates it through hx-push-url).
  const view = new URLSearchParams(location.search);
  view.delete("after");
  const response = await fetch(`/tickets/${id}/row/?${view}`,
                               { headers: { "HX-Request": "true" } });
  const existing = document.getElementById(`ticket-${id}`);
  if (response.status === 204) {
    existing?.remove();
    return;
  }
  if (!response.ok) return;
  const row = htmlFragment(await response.text()).firstElementChild;
  const hadFocus = existing && existing.contains(document.activeElement);
  if (existing && !moveToTop) {
    existing.replaceWith(row);
  } else {
    existing?.remove();
    $(".empty", list)?.remove();
    list.prepend(row);
    if (!existing) {
      row.classList.add("is-new");
      announce(`${strings.newTicket}: ${row.querySelector(".ticket-row__subject")?.textContent}`);
    }
  }
  htmx.process(row);
  if (hadFocus) $(".ticket-row__link", row).focus();
}

if (list) {
  on("ticket.created", (data) => { listRowRefresh(data.id, { moveToTop: true }); refreshCounts(); });
  on("ticket.updated", (data) => { listRowRefresh(data.id, { moveToTop: false }); refreshCounts(); });
  on("message.new", (data) => { listRowRefresh(data.ticket_id, { moveToTop: true }); });
  if (location.hash === "#search") $("#search")?.focus();
}

function listMove(step) {
  const links = $$(".ticket-row__link", list);
  if (!links.length) return;
  const current = links.indexOf(document.activeElement);
  const next = current === -1 ? 0 : Math.max(0, Math.min(links.length - 1, current + step));
  links[next].focus();
  links[next].scrollIntoView({ block: "nearest" });
}

// --- the ticket page ---------------------------------------------------------------------

const viewers = new Map(); // agent id -> {name, replying}
let replying = false;
let lastTypingSent = 0;
let typingStopTimer = null;
let customerTypingTimer = null;

function presenceRender() {
  const bar = $("#presence");
  if (!bar) return;
  const others = [...viewers.values()];
  bar.replaceChildren();
  if (!others.length) return;
  const viewing = document.createElement("span");
  viewing.className = "presence-bar__viewing";
  viewing.textContent = `${strings.viewing} ${others.map((v) => v.name).join(", ")}`;
  bar.append(viewing);
  others.filter((v) => v.replying).forEach((v) => {
    const item = document.createElement("span");
    item.className = "presence-bar__replying";
    item.textContent = `${v.name} ${strings.replying}`;
    bar.append(item);
  });
}

function timelineInsert(html) {
  const entries = $("#timeline-entries");
  const fragment = htmlFragment(html);
  [...fragment.children].forEach((entry) => {
    const existing = entry.id && document.getElementById(entry.id);
    if (existing) existing.replaceWith(entry);
    else entries.append(entry);
    htmx.process(entry);
  });
}

function timelineLast() {
  const seqs = $$("[data-seq]").map((el) => Number(el.dataset.seq));
  const events = $$("[data-event-id]").map((el) => Number(el.dataset.eventId));
  return { seq: Math.max(0, ...seqs), event: Math.max(0, ...events) };
}

async function timelineFetch(afterSeq) {
  const last = timelineLast();
  const seq = afterSeq ?? last.seq;
  const response = await fetch(
    `/tickets/${ticketId}/timeline/?after_seq=${seq}&after_event=${last.event}`);
  if (response.ok) timelineInsert(await response.text());
}

async function propertiesRefresh() {
  const panel = $("#properties");
  if (!panel || panel.contains(document.activeElement)) return;
  const response = await fetch(`/tickets/${ticketId}/properties/`);
  if (!response.ok) return;
  const fresh = htmlFragment(await response.text()).querySelector("#properties");
  panel.replaceWith(fresh);
  htmx.process(fresh);
}

function composerKind() {
  return $("#kind-note")?.checked ? "note" : "reply";
}

function replyingSet(state) {
  if (state === replying) return;
  replying = state;
  send({ type: "replying", ticket_id: ticketId, state: state ? "start" : "stop" });
}

function typingSignal(body) {
  if (composerKind() !== "reply") return; // a note is never announced to the customer
  const now = Date.now();
  if (now - lastTypingSent > 3000) {
    send({ type: "typing", ticket_id: ticketId, state: "start" });
    lastTypingSent = now;
  }
  clearTimeout(typingStopTimer);
  typingStopTimer = setTimeout(() => {
    send({ type: "typing", ticket_id: ticketId, state: "stop" });
    lastTypingSent = 0;
  }, body.value ? 4000 : 0);
}

function othersReplying() {
  return [...viewers.values()].filter((v) => v.replying).map((v) => v.name);
}

if (ticketPage) {
  const body = $("#composer-body");
  const composer = $("#composer");
  const suggestions = $("#canned-suggestions");
  const warning = $("#collision-warning");
  let pendingSend = null;

  on("open", () => {
    // A new socket starts with no presence on the server: announce it again.
    viewers.clear();
    presenceRender();
    send({ type: "view", ticket_id: ticketId, state: "start" });
    if (replying) send({ type: "replying", ticket_id: ticketId, state: "start" });
  });
  on("viewing", (data) => {
    if (data.ticket_id !== ticketId || data.agent.id === me) return;
    if (data.state === "start") viewers.set(data.agent.id, { name: data.agent.name, replying: !!data.replying });
    else viewers.delete(data.agent.id);
    presenceRender();
  });
  on("replying", (data) => {
    if (data.ticket_id !== ticketId || data.agent.id === me) return;
    const viewer = viewers.get(data.agent.id) || { name: data.agent.name };
    viewer.replying = data.state === "start";
    viewers.set(data.agent.id, viewer);
    presenceRender();
  });
  on("typing", (data) => {
    if (data.ticket_id !== ticketId) return;
    const line = $("#typing");
    const active = data.state === "start";
    line.textContent = data.by === "contact" ? strings.typing : `${data.agent?.name} ${strings.agentTyping}`;
    line.hidden = !active;
    clearTimeout(customerTypingTimer);
    if (active) customerTypingTimer = setTimeout(() => { line.hidden = true; }, 8000);
  });
  on("message.new", (data) => {
    if (data.ticket_id !== ticketId) return;
    if (data.direction === "inbound") $("#typing").hidden = true;
    timelineFetch();
  });
  on("message.updated", (data) => {
    if (data.ticket_id === ticketId) timelineFetch(data.seq - 1);
  });
  on("ticket.updated", (data) => {
    if (data.id !== ticketId) return;
    timelineFetch();
    propertiesRefresh();
  });

  $$("input[name=kind]", composer).forEach((radio) => radio.addEventListener("change", () => {
    const note = composerKind() === "note";
    composer.classList.toggle("composer--note", note);
    $("#composer-channel").disabled = note;
    $("#composer-attachments").disabled = note; // notes stay text: files go to the customer
    body.placeholder = note ? body.dataset.placeholderNote : body.dataset.placeholderReply;
    if (note) replyingSet(false);
    else if (body.value.trim()) replyingSet(true);
  }));

  body.addEventListener("input", () => {
    if (composerKind() === "reply") replyingSet(!!body.value.trim());
    typingSignal(body);
    pickerOpen();
  });

  // Pickers in the composer: "/shortcut" at the start of a line inserts a canned response,
  // "@name" in a note a teammate's username. Arrow keys choose, Enter or Tab insert.
  const pickers = [
    { list: suggestions, pattern: /(?:^|\n)\/([\w-]*)$/, key: "shortcut",
      text: (option) => option.dataset.body },
    { list: $("#mention-suggestions"), pattern: /(?:^|\s)@([\w.+-]*)$/, key: "username",
      text: (option) => `@${option.dataset.username} `, when: () => composerKind() === "note" },
  ];
  let picker = null; // the open one

  function pickerOptions() {
    return $$("[role=option]", picker.list).filter((option) => !option.hidden);
  }
  function pickerSelect(option) {
    $$("[aria-selected]", picker.list).forEach((o) => o.removeAttribute("aria-selected"));
    option.setAttribute("aria-selected", "true");
    body.setAttribute("aria-activedescendant", option.id);
  }
  function pickerClose() {
    pickers.forEach((p) => { p.list.hidden = true; });
    picker = null;
    body.setAttribute("aria-expanded", "false");
    body.removeAttribute("aria-activedescendant");
  }
  function pickerOpen() {
    pickerClose();
    const before = body.value.slice(0, body.selectionStart);
    for (const candidate of pickers) {
      const match = (!candidate.when || candidate.when()) && before.match(candidate.pattern);
      if (!match) continue;
      const query = match[1].toLowerCase();
      $$("[role=option]", candidate.list).forEach((option) => {
        option.hidden = !option.dataset[candidate.key].toLowerCase().startsWith(query);
        option.removeAttribute("aria-selected");
      });
      picker = candidate;
      const visible = pickerOptions();
      if (!visible.length) { pickerClose(); return; }
      candidate.list.hidden = false;
      body.setAttribute("aria-controls", candidate.list.id);
      body.setAttribute("aria-expanded", "true");
      pickerSelect(visible[0]);
      return;
    }
  }
  function pickerInsert(option) {
    const caret = body.selectionStart;
    const typed = body.value.slice(0, caret).match(picker.pattern)[1];
    const before = body.value.slice(0, caret - typed.length - 1);
    const text = picker.text(option);
    body.value = before + text + body.value.slice(caret);
    body.setSelectionRange(before.length + text.length, before.length + text.length);
    pickerClose();
    body.dispatchEvent(new Event("input"));
  }
  body.setAttribute("role", "combobox");
  body.setAttribute("aria-controls", "canned-suggestions");
  body.setAttribute("aria-autocomplete", "list");
  body.setAttribute("aria-expanded", "false");
  pickers.forEach((p) => p.list.addEventListener("mousedown", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) { event.preventDefault(); picker = p; pickerInsert(option); }
  }));

  body.addEventListener("keydown", (event) => {
    if (picker) {
      const options = pickerOptions();
      const current = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        pickerSelect(options[(current + step + options.length) % options.length]);
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && current !== -1 && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        pickerInsert(options[current]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        pickerClose();
        return;
      }
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  // Collision warning: another agent is replying to this ticket right now.
  composer.addEventListener("htmx:confirm", (event) => {
    if (event.target !== composer || composerKind() !== "reply") return;
    const names = othersReplying();
    if (!names.length) return;
    event.preventDefault();
    pendingSend = event.detail;
    $("[data-who]", warning).textContent = names.join(", ");
    warning.hidden = false;
    $("[data-action=send-anyway]", warning).focus();
  });
  warning.addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]")?.dataset.action;
    if (!action) return;
    warning.hidden = true;
    const detail = pendingSend;
    pendingSend = null;
    if (action === "send-anyway" && detail) detail.issueRequest(true);
    else body.focus();
  });
  composer.addEventListener("htmx:afterRequest", (event) => {
    if (event.target !== composer || !event.detail.successful) return;
    body.value = "";
    $("#composer-attachments").value = "";
    replyingSet(false);
    send({ type: "typing", ticket_id: ticketId, state: "stop" });
    lastTypingSent = 0;
  });
  $("#timeline-entries").addEventListener("htmx:afterSwap", () => {
    const seen = new Set();
    $$("#timeline-entries > [id]").forEach((entry) => {
      if (seen.has(entry.id)) entry.remove();
      else seen.add(entry.id);
    });
  });
  window.addEventListener("pagehide", () => send({ type: "view", ticket_id: ticketId, state: "stop" }));
  const target = location.hash && document.getElementById(location.hash.slice(1));
  (target || $("#timeline-entries > li:last-child"))?.scrollIntoView({ block: "end" });
}

function timelineMove(step) {
  const entries = $$("#timeline-entries > .msg");
  if (!entries.length) return;
  const current = entries.indexOf(document.activeElement);
  const next = current === -1 ? entries.length - 1 : Math.max(0, Math.min(entries.length - 1, current + step));
  entries[next].focus();
}

function composerOpen(kind) {
  const radio = $(`#kind-${kind}`);
  radio.checked = true;
  radio.dispatchEvent(new Event("change"));
  $("#composer-body").focus();
}

// --- keyboard ----------------------------------------------------------------------------

let pendingG = false;

document.addEventListener("keydown", (event) => {
  const field = event.target.closest("input, textarea, select, [contenteditable]");
  if (event.key === "Escape") {
    if (field) field.blur();
    return;
  }
  if (field || event.ctrlKey || event.metaKey || event.altKey || $("dialog[open]")) return;
  const key = event.key;
  if (pendingG) {
    pendingG = false;
    if (key === "i") { event.preventDefault(); location.href = "/"; }
    return;
  }
  const actions = {
    g: () => { pendingG = true; setTimeout(() => { pendingG = false; }, 1500); },
    "?": () => $("#shortcuts")?.showModal(),
    "/": () => { const search = $("#search"); if (search) search.focus(); else location.href = "/#search"; },
    j: () => (list ? listMove(1) : ticketPage && timelineMove(1)),
    k: () => (list ? listMove(-1) : ticketPage && timelineMove(-1)),
    o: () => { const row = list && (document.activeElement.closest(".ticket-row") || $(".ticket-row", list)); if (row) location.href = $("a", row).href; },
    r: () => ticketPage && composerOpen("reply"),
    n: () => ticketPage && composerOpen("note"),
    e: () => ticketPage && $("#action-resolve:not([disabled])")?.click(),
    a: () => ticketPage && $("#action-assign-me:not([disabled])")?.click(),
    l: () => ticketPage && $("#prop-labels")?.focus(),
  };
  if (!actions[key]) return;
  event.preventDefault();
  actions[key]();
});

document.addEventListener("click", (event) => {
  if (event.target.closest("[data-action=help]")) $("#shortcuts")?.showModal();
});

// A refused htmx request (4xx) shows the server's message instead of doing nothing.
document.body.addEventListener("htmx:responseError", (event) => {
  const page = htmlFragment(event.detail.xhr.responseText || "");
  const title = page.querySelector(".error-page h1")?.textContent || strings.error;
  const details = [...page.querySelectorAll(".error-page li")].map((li) => li.textContent).join(" ");
  toast(details ? `${title} ${details}` : title);
});

connect();
