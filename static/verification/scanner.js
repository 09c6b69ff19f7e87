/* The checkpoint scanner: camera or manual entry → a full-screen answer.
 *
 * Online, the server answers (POST /api/v1/verify/…): it knows revocations, the area, copies.
 * Offline, the page verifies TP1 itself (tp1.js) with the JWKS and the signed revocation
 * list kept in IndexedDB, and queues the scan for upload when the network returns.
 * No inline script or style: configuration and texts come from data-* attributes.
 */
(function () {
  "use strict";

  const root = document.getElementById("scanner");
  if (!root) return;
  const CONFIG = JSON.parse(root.dataset.config);
  const T = JSON.parse(root.dataset.texts);
  const AREAS = JSON.parse(root.dataset.areas);
  const TONES = {
    valid: "ok", expired: "warn", not_yet_valid: "warn", wrong_area: "warn",
    revoked: "bad", invalid_signature: "bad", unknown_key: "bad", malformed: "bad",
  };
  const $ = (id) => document.getElementById(id);
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));
  const dmy = (iso) => (iso ? iso.slice(8, 10) + "/" + iso.slice(5, 7) + "/" + iso.slice(0, 4) : "");

  // --- IndexedDB: trust data and the offline queue -------------------------------------

  const db = new Promise((resolve, reject) => {
    const open = indexedDB.open("giaydiduong-scanner", 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore("kv");
      open.result.createObjectStore("queue", { autoIncrement: true });
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });

  function tx(store, mode, fn) {
    return db.then((d) => new Promise((resolve, reject) => {
      const t = d.transaction(store, mode);
      const result = fn(t.objectStore(store));
      t.oncomplete = () => resolve(result && "result" in result ? result.result : result);
      t.onerror = () => reject(t.error);
    }));
  }
  const kvGet = (k) => tx("kv", "readonly", (s) => s.get(k));
  const kvPut = (k, v) => tx("kv", "readwrite", (s) => s.put(v, k));

  // --- trust data: JWKS + signed revocation list ---------------------------------------

  let keys = {};
  let revoked = new Set();
  let trustAt = null; // when the JWKS was last fetched (ms)

  async function loadTrust() {
    const saved = await kvGet("jwks").catch(() => null);
    if (saved) {
      keys = await TP1.importJwks(saved.jwks);
      trustAt = saved.at;
    }
    const list = await kvGet("revocations").catch(() => null);
    if (list && (await TP1.revocationListIsAuthentic(list.list, keys))) revoked = new Set(list.list.serials);
    showTrust();
  }

  async function refreshTrust() {
    if (!navigator.onLine) return;
    try {
      const response = await fetch(CONFIG.jwks, { cache: "no-store", credentials: "same-origin" });
      if (!response.ok) throw new Error("jwks " + response.status);
      const jwks = await response.json();
      const imported = await TP1.importJwks(jwks);
      if (Object.keys(imported).length) {
        keys = imported;
        trustAt = Date.now();
        await kvPut("jwks", { jwks, at: trustAt });
      }
    } catch (e) { /* keep what we have */ }
    try {
      const response = await fetch(CONFIG.revocations, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        const list = await response.json();
        if (await TP1.revocationListIsAuthentic(list, keys)) {
          revoked = new Set(list.serials);
          await kvPut("revocations", { list, at: Date.now() });
          $("trust-warning").hidden = true;
        } else {
          warn(T.revocations_bad);
        }
      }
    } catch (e) { /* keep what we have */ }
    showTrust();
  }

  function warn(text) {
    $("trust-warning").textContent = text;
    $("trust-warning").hidden = false;
  }

  function showTrust() {
    const el = $("trust");
    if (!trustAt) {
      el.textContent = T.trust_none;
      el.classList.add("trust--old");
      return;
    }
    const minutes = Math.max(0, Math.floor((Date.now() - trustAt) / 60000));
    const ago = minutes < 1 ? T.just_now
      : minutes < 120 ? fmt(T.minutes_ago, { n: minutes })
      : fmt(T.hours_ago, { n: Math.floor(minutes / 60) });
    const time = new Date(trustAt).toLocaleString("vi-VN", {
      timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit",
    });
    el.textContent = fmt(T.trust_age, { time, ago });
    const old = minutes > CONFIG.trustMaxAgeHours * 60;
    el.classList.toggle("trust--old", old);
    if (old) warn(fmt(T.trust_old, { hours: CONFIG.trustMaxAgeHours }));
  }

  // --- the network ----------------------------------------------------------------------

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : root.dataset.csrf;
  }

  function showNet() {
    const on = navigator.onLine;
    const el = $("net");
    el.textContent = on ? T.online : T.offline;
    el.classList.toggle("pill--online", on);
    el.classList.toggle("pill--offline", !on);
  }

  async function post(url, body, isForm) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 8000);
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: Object.assign({ "X-CSRFToken": csrf(), Accept: "application/json" },
          isForm ? {} : { "Content-Type": "application/json" }),
        body: isForm ? body : JSON.stringify(body),
        signal: controller.signal,
      });
      return response;
    } finally {
      clearTimeout(timer);
    }
  }

  function checkpoint() {
    const select = $("checkpoint");
    const option = select.options[select.selectedIndex];
    return { code: select.value, district: option ? option.dataset.district : "" };
  }

  // --- the offline queue ----------------------------------------------------------------

  async function enqueue(qr) {
    await tx("queue", "readwrite", (s) => s.add({ qr, at: new Date().toISOString(), checkpoint: checkpoint().code }));
    showQueue();
  }

  async function showQueue() {
    const n = await tx("queue", "readonly", (s) => s.count()).catch(() => 0);
    const el = $("queue");
    el.hidden = !n;
    el.textContent = fmt(T.queued, { n });
  }

  let uploading = false;
  async function uploadQueue() {
    if (uploading || !navigator.onLine) return;
    uploading = true;
    try {
      const entries = await tx("queue", "readonly", (s) => {
        const out = [];
        s.openCursor().onsuccess = (e) => {
          const c = e.target.result;
          if (c) { out.push([c.key, c.value]); c.continue(); }
        };
        return out;
      });
      if (!entries.length) return;
      const response = await post(CONFIG.offline, { scans: entries.map(([, v]) => v) });
      if (response.ok) {
        await tx("queue", "readwrite", (s) => entries.forEach(([k]) => s.delete(k)));
        $("camera-status").textContent = fmt(T.uploaded, { n: entries.length });
      }
    } catch (e) { /* try again at the next "online" */ }
    finally {
      uploading = false;
      showQueue();
    }
  }

  // --- verification ---------------------------------------------------------------------

  async function verifyLocally(qr) {
    if (!Object.keys(keys).length) {
      return { result: "malformed", permit: null, reason: T.reason.no_keys, suspected_copy: false, local: true };
    }
    const v = await TP1.verify(qr, keys);
    let result = v.result;
    const c = v.claims;
    const here = checkpoint().district;
    if (c) {
      if (revoked.has(c.serial)) result = "revoked";
      else if (result === "valid" && c.areas.length && here && !c.areas.includes(here)) result = "wrong_area";
    }
    const permit = c && {
      serial: c.serial, full_name: c.full_name, id_last4: c.id_last4, date_of_birth: c.date_of_birth,
      organization: c.organization, valid_from: c.valid_from, valid_to: c.valid_to,
      areas: c.areas.map((code) => ({ code, name: AREAS[code] || code })), vehicle_plate: c.vehicle_plate,
    };
    const names = permit ? permit.areas.map((a) => a.name).join(", ") : "";
    const reason = fmt(T.reason[result], {
      to: c ? dmy(c.valid_to) : "", from: c ? dmy(c.valid_from) : "",
      where: names || T.whole_city, areas: names, here: AREAS[here] || here,
    });
    return { result, permit, reason, suspected_copy: false, local: true };
  }

  let busy = false;

  async function check(text) {
    const input = text.trim();
    if (!input) return;
    const isQr = /^TP\d:/i.test(input) || input.length > 24;
    busy = true;
    if (navigator.onLine) {
      try {
        const url = isQr ? CONFIG.verify : CONFIG.serial;
        const body = isQr ? { qr: text.replace(/^\s+|\s+$/g, ""), checkpoint: checkpoint().code }
          : { serial: input, checkpoint: checkpoint().code };
        const response = await post(url, body);
        if (response.ok) return show(await response.json());
        if (response.status === 429) return flash(T.throttled);
        if (response.status === 400 || response.status === 403) {
          const err = await response.json().catch(() => null);
          return flash(err && err.error ? err.error.message : T.error);
        }
      } catch (e) { /* network gone: fall through to the local check */ }
    }
    if (!isQr) return show({ result: "malformed", permit: null, reason: T.reason.serial_offline, suspected_copy: false, local: true });
    const answer = await verifyLocally(input);
    await enqueue(input);
    show(answer);
  }

  function flash(message) {
    busy = false;
    $("camera-status").textContent = message;
  }

  // --- the answer -----------------------------------------------------------------------

  function show(answer) {
    busy = true;
    const tone = TONES[answer.result] || "bad";
    const el = $("answer");
    el.className = "answer answer--" + tone;
    el.dataset.result = answer.result;
    $("answer-verdict").textContent = T.verdict[answer.result] || answer.result;
    $("answer-reason").textContent = answer.reason || "";
    $("answer-copy").hidden = !answer.suspected_copy;
    const p = answer.permit;
    $("answer-permit").hidden = !p;
    if (p) {
      $("f-name").textContent = p.full_name;
      $("f-id").textContent = "•••• " + p.id_last4;
      $("f-dob").textContent = dmy(p.date_of_birth);
      $("f-org").textContent = p.organization;
      $("f-validity").textContent = dmy(p.valid_from) + " – " + dmy(p.valid_to);
      $("f-areas").textContent = p.areas.length ? p.areas.map((a) => a.name).join(", ") : T.whole_city;
      $("f-plate").textContent = p.vehicle_plate || "—";
      $("f-serial").textContent = p.serial;
    }
    $("answer-local").hidden = !answer.local;
    $("answer-local").textContent = answer.local ? T.checked_offline : "";
    el.hidden = false;
    $("answer-next").focus();
    signal(tone);
  }

  function dismiss() {
    $("answer").hidden = true;
    busy = false;
    $("manual-input").value = "";
    $("camera-status").textContent = stream ? T.camera_looking : T.camera_off;
  }

  // --- beep and vibration ---------------------------------------------------------------

  let audio = null;
  function unlockAudio() {
    try {
      if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }

  function signal(tone) {
    const pattern = { ok: [[880, 0.15]], warn: [[660, 0.15], [660, 0.15]], bad: [[220, 0.6]] }[tone];
    if (navigator.vibrate) navigator.vibrate(tone === "ok" ? 150 : tone === "warn" ? [120, 80, 120] : [500, 120, 500]);
    if (!audio) return;
    let t = audio.currentTime;
    for (const [freq, length] of pattern) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = tone === "bad" ? "square" : "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.25, t);
      gain.gain.exponentialRampToValueAtTime(0.001, t + length);
      osc.connect(gain).connect(audio.destination);
      osc.start(t);
      osc.stop(t + length);
      t += length + 0.08;
    }
  }

  // --- the camera -----------------------------------------------------------------------

  let stream = null;
  let detector = null;

  async function startCamera() {
    unlockAudio();
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      $("camera-status").textContent = T.camera_error;
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    await video.play().catch(() => {});
    $("camera-start").hidden = true;
    root.classList.add("is-scanning");
    $("camera-status").textContent = T.camera_looking;
    if ("BarcodeDetector" in window) {
      try {
        const formats = await BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) { detector = null; }
    }
    loop();
  }

  async function loop() {
    if (!stream) return;
    const video = $("video");
    if (!busy && video.readyState >= 2) {
      try {
        if (detector) {
          const codes = await detector.detect(video);
          if (codes.length && !busy) await check(codes[0].rawValue);
        } else if (navigator.onLine) {
          await sendFrame(video);
        } else {
          $("camera-status").textContent = T.camera_offline;
        }
      } catch (e) { /* next frame */ }
    }
    setTimeout(loop, detector ? 150 : 700);
  }

  async function sendFrame(video) {
    const canvas = $("frame");
    const scale = Math.min(1, 960 / (video.videoWidth || 960));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (!blob || busy) return;
    const form = new FormData();
    form.append("image", blob, "frame.jpg");
    form.append("frame", "true");
    form.append("checkpoint", checkpoint().code);
    const response = await post(CONFIG.image, form, true);
    if (response.status === 429) return flash(T.throttled);
    if (!response.ok) return;
    const answer = await response.json();
    if (answer.qr_found && !busy) show(answer);
  }

  // --- wiring ---------------------------------------------------------------------------

  $("camera-start").addEventListener("click", startCamera);
  $("answer-next").addEventListener("click", dismiss);
  $("manual").addEventListener("submit", (event) => {
    event.preventDefault();
    unlockAudio();
    check($("manual-input").value);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("answer").hidden) dismiss();
  });
  window.addEventListener("online", () => { showNet(); uploadQueue(); refreshTrust(); });
  window.addEventListener("offline", showNet);
  setInterval(showTrust, 60000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(CONFIG.sw, { scope: CONFIG.scope }).catch(() => {});
  }
  showNet();
  loadTrust().then(refreshTrust).then(uploadQueue);
  showQueue();
  // Start the camera at once where permission was already given (no prompt on reload).
  if (navigator.permissions && navigator.mediaDevices) {
    navigator.permissions.query({ name: "camera" }).then((p) => { if (p.state === "granted") startCamera(); }).catch(() => {});
  }
})();
