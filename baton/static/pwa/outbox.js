/* Baton field outbox: actions taken on the phone (start visit, photo, end visit, log activity) queue in
   IndexedDB with a client-generated id and are sent in order when the connection is there. The server
   dedupes by that id, so a retry after a lost answer never creates a second record. */
(function () {
  "use strict";
  const DB_NAME = "baton-outbox";
  let dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = () => {
          req.result.createObjectStore("actions", {keyPath: "seq", autoIncrement: true});
          req.result.createObjectStore("ids", {keyPath: "clientId"});
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return dbPromise;
  }

  function tx(store, mode, fn) {
    return db().then((d) => new Promise((resolve, reject) => {
      const t = d.transaction(store, mode);
      let result;
      const req = fn(t.objectStore(store));
      if (req) req.onsuccess = () => { result = req.result; };
      t.oncomplete = () => resolve(result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    }));
  }

  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));
  const csrf = () => (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";

  class Retry extends Error {}

  const all = () => tx("actions", "readonly", (s) => s.getAll()).then((rows) => rows.sort((a, b) => a.seq - b.seq));
  const serverId = (clientId) => tx("ids", "readonly", (s) => s.get(clientId)).then((r) => (r ? r.serverId : null));

  async function counts() {
    const rows = await all();
    return {waiting: rows.filter((a) => !a.failed).length, failed: rows.filter((a) => a.failed)};
  }

  async function notify() {
    const c = await counts();
    document.querySelectorAll("[data-outbox-count]").forEach((el) => { el.textContent = String(c.waiting); });
    document.querySelectorAll("[data-outbox-badge]").forEach((el) => { el.hidden = c.waiting === 0; });
    window.dispatchEvent(new CustomEvent("baton:outbox", {detail: c}));
    return c;
  }

  async function add(action) {
    action.clientId = action.clientId || uuid();
    action.queuedAt = new Date().toISOString();
    await tx("actions", "readwrite", (s) => s.add(action));
    await notify();
    if (navigator.onLine) sync();
    return action;
  }

  async function send(a) {
    const init = {method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": csrf()}};
    const json = (body) => {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    };
    let url;
    if (a.type === "visit_start") {
      url = "/api/visits";
      json({...a.payload, client_id: a.clientId});
    } else if (a.type === "visit_photo" || a.type === "visit_end") {
      const vid = a.visitId || await serverId(a.visitClientId);
      if (!vid) {
        const e = new Error("The visit this belongs to could not be saved.");
        e.status = 400;
        throw e;
      }
      if (a.type === "visit_photo") {
        url = "/api/visits/" + vid + "/photos";
        const form = new FormData();
        form.append("image", a.blob, a.filename || "photo.jpg");
        form.append("kind", a.kind);
        if (a.lat != null && a.lng != null) { form.append("lat", a.lat); form.append("lng", a.lng); }
        form.append("client_id", a.clientId);
        init.body = form;
      } else {
        url = "/api/visits/" + vid + "/end";
        json(a.payload);
      }
    } else if (a.type === "activity") {
      url = "/api/quicklog";
      json({...a.payload, client_id: a.clientId});
    } else {
      throw new Error("unknown action " + a.type);
    }
    let r;
    try { r = await fetch(url, init); } catch (e) { throw new Retry(e.message); }
    // Server trouble or a lapsed session: keep the action and try again later.
    if (r.status >= 500 || r.status === 401 || r.status === 403 || r.status === 429) throw new Retry("HTTP " + r.status);
    const body = await r.json().catch(() => ({}));
    if (r.ok) return body;
    // Ending twice: the first end reached the server but its answer was lost.
    if (a.type === "visit_end" && r.status === 409) return null;
    const parts = (body.errors || []).map((e) => (e.field ? e.field + ": " : "") + e.message);
    const err = new Error([body.detail, ...parts].filter(Boolean).join(" ") || "HTTP " + r.status);
    err.status = r.status;
    throw err;
  }

  let chain = Promise.resolve();

  async function run() {
    const done = [];
    for (const a of await all()) {
      if (a.failed) continue;
      try {
        const body = await send(a);
        if (a.type === "visit_start" && body) {
          await tx("ids", "readwrite", (s) => s.put({clientId: a.clientId, serverId: body.id}));
        }
        await tx("actions", "readwrite", (s) => s.delete(a.seq));
        const info = {type: a.type, clientId: a.clientId, visitClientId: a.visitClientId || null, body};
        done.push(info);
        window.dispatchEvent(new CustomEvent("baton:synced", {detail: info}));
      } catch (e) {
        if (e instanceof Retry) break;  // in order: nothing after an unsent action goes first
        a.failed = e.message;
        a.status = e.status || 0;
        await tx("actions", "readwrite", (s) => s.put(a));
        window.dispatchEvent(new CustomEvent("baton:sync-failed", {detail: {type: a.type, error: a.failed}}));
      }
    }
    await notify();
    return done;
  }

  /* One run at a time in this page; a call while one runs queues another run after it (so an action
     queued meanwhile is not left behind). */
  function sync() {
    const next = chain.then(run, run);
    chain = next.catch(() => {});
    return next;
  }

  async function discard(seq) {
    await tx("actions", "readwrite", (s) => s.delete(seq));
    return notify();
  }

  window.BatonOutbox = {add, all, counts, sync, discard, serverId, notify, uuid,
    // For checks and support: put actions back as they were (as if their answers had been lost).
    requeue: async (actions) => {
      for (const a of actions) await tx("actions", "readwrite", (s) => s.put(a));
      return notify();
    }};

  window.addEventListener("online", () => sync());
  document.addEventListener("DOMContentLoaded", () => { notify(); if (navigator.onLine) sync(); });
  setInterval(() => { if (navigator.onLine) counts().then((c) => { if (c.waiting) sync(); }); }, 30000);

  if ("serviceWorker" in navigator && document.currentScript && document.currentScript.dataset.sw) {
    navigator.serviceWorker.register(document.currentScript.dataset.sw, {scope: "/"}).catch(() => {});
  }
})();
