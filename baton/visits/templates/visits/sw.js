/* Baton field service worker: the visit and quick-log pages and their static files work without signal.
   Pages: network first (a fresh copy is kept), the kept copy when offline. Static files: cache first. */
const CACHE = "baton-field-{{ version }}";
const PAGES = [{% for url in pages %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
const ASSETS = [{% for url in assets %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE)
    .then((cache) => Promise.all(ASSETS.map((url) => cache.add(url).catch(() => null))).then(() => Promise.all(PAGES.map((url) =>
      fetch(url, {credentials: "same-origin", redirect: "manual"})
        .then((r) => (r.ok ? cache.put(url, r) : null)).catch(() => null)))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith("baton-field-") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (ASSETS.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(req)));
  } else if (PAGES.includes(url.pathname)) {
    event.respondWith(fetch(req).then((r) => {
      if (r.ok && !r.redirected) {
        const copy = r.clone();
        caches.open(CACHE).then((cache) => cache.put(req, copy));
      }
      return r;
    }).catch(() => caches.match(req).then((hit) => hit || caches.match(url.pathname, {ignoreSearch: true}))
      .then((hit) => hit || new Response("offline", {status: 503, headers: {"Content-Type": "text/plain"}}))));
  }
});
