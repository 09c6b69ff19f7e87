/* Service worker of the scanner page: lets /verify/ load with no network at all.
 *
 * Served by verification.views.service_worker at /verify/sw.js, which writes in front of
 * this file: self.SCANNER_CACHE (a name that changes with every deployment) and
 * self.SCANNER_ASSETS (the static URLs of the page's CSS and JS, hashed in production).
 *
 * - The page itself: network first (fresh CSRF token, fresh checkpoint list), the cached
 *   copy when the network fails.
 * - The assets: cache first, refreshed in the background.
 * - Everything else (the API, the JWKS, the revocation list): straight to the network; the
 *   page keeps its own copy of the trust data in IndexedDB.
 */
/* global self, caches, fetch */
"use strict";

const CACHE = self.SCANNER_CACHE || "scanner";
const ASSETS = self.SCANNER_ASSETS || [];
const PAGE = new URL("./", self.location.href).pathname; // "/verify/"

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(ASSETS.concat([PAGE])))
      .catch(() => undefined) // a missing asset must not stop the rest from working
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("scanner") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function pageFirstFromNetwork(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(PAGE, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(PAGE);
    if (cached) return cached;
    throw error;
  }
}

async function assetFromCache(request, event) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  const refresh = fetch(request).then((response) => {
    if (response.ok) cache.put(request, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(pageFirstFromNetwork(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(assetFromCache(request, event));
  }
});
