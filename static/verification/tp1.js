/* TP1 permit verification in the browser, from docs/permit-format.md alone.
 *
 * base45 (RFC 9285), a minimal strict CBOR decoder, COSE_Sign1 with ES256 through WebCrypto,
 * JWKS import (kid recomputed from x and y), and the signed revocation list. No third-party
 * code; exposes window.TP1. Results use the server's names: valid, malformed, unknown_key,
 * invalid_signature, not_yet_valid, expired.
 */
(function (global) {
  "use strict";

  const PREFIX = "TP1:";
  const MAX_TEXT = 4296;
  const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  const VALUE = new Map([...ALPHABET].map((c, i) => [c, i]));
  const SERIAL = /^[A-Za-z0-9][A-Za-z0-9-]{0,11}$/;
  const ID_LAST4 = /^[0-9]{4}$/;
  const PLATE = /^[A-Z0-9]{4,12}$/;
  const CONTROL = /\p{C}/u;
  const MAX_DAYS = 2932896; // date.max - 1970-01-01, as in the reference implementation
  const SPKI_PREFIX = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");

  class Malformed extends Error {}

  function hex(s) {
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function b64url(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlDecode(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Malformed("base64url");
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  // --- base45 ---------------------------------------------------------------------------

  function b45decode(text) {
    if (text.length % 3 === 1) throw new Malformed("base45 length");
    const out = [];
    for (let i = 0; i < text.length; i += 3) {
      const chunk = text.slice(i, i + 3);
      let n = 0;
      for (let k = chunk.length - 1; k >= 0; k--) {
        const v = VALUE.get(chunk[k]);
        if (v === undefined) throw new Malformed("base45 character");
        n = n * 45 + v;
      }
      if (chunk.length === 3) {
        if (n > 0xffff) throw new Malformed("base45 group");
        out.push(n >> 8, n & 0xff);
      } else {
        if (n > 0xff) throw new Malformed("base45 group");
        out.push(n);
      }
    }
    return new Uint8Array(out);
  }

  // --- CBOR (RFC 8949), strict: definite lengths, shortest forms ----------------------------

  const UTF8 = new TextDecoder("utf-8", { fatal: true });

  class Tag { constructor(tag, value) { this.tag = tag; this.value = value; } }

  function decodeCbor(bytes, maxDepth = 16) {
    let pos = 0;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

    function need(n) { if (pos + n > bytes.length) throw new Malformed("CBOR truncated"); }

    function argument(info) {
      if (info < 24) return info;
      let n;
      if (info === 24) { need(1); n = bytes[pos]; pos += 1; if (n < 24) throw new Malformed("CBOR long form"); }
      else if (info === 25) { need(2); n = view.getUint16(pos); pos += 2; if (n < 256) throw new Malformed("CBOR long form"); }
      else if (info === 26) { need(4); n = view.getUint32(pos); pos += 4; if (n < 65536) throw new Malformed("CBOR long form"); }
      else if (info === 27) {
        need(8);
        const hi = view.getUint32(pos), lo = view.getUint32(pos + 4); pos += 8;
        if (hi === 0) throw new Malformed("CBOR long form");
        n = hi * 4294967296 + lo; // beyond 2^53 loses precision: only "too big" matters then
      } else throw new Malformed("CBOR indefinite or reserved length");
      return n;
    }

    function item(depth) {
      if (depth > maxDepth) throw new Malformed("CBOR too deep");
      need(1);
      const initial = bytes[pos++];
      const major = initial >> 5, info = initial & 31;
      if (major === 7) {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        if (info === 25) { need(2); const h = view.getUint16(pos); pos += 2; return halfFloat(h); }
        if (info === 26) { need(4); const f = view.getFloat32(pos); pos += 4; return f; }
        if (info === 27) { need(8); const f = view.getFloat64(pos); pos += 8; return f; }
        throw new Malformed("CBOR simple value");
      }
      const n = argument(info);
      switch (major) {
        case 0: return n;
        case 1: return -1 - n;
        case 2: { need(n); const b = bytes.slice(pos, pos + n); pos += n; return b; }
        case 3: {
          need(n);
          let s;
          try { s = UTF8.decode(bytes.subarray(pos, pos + n)); } catch (e) { throw new Malformed("CBOR UTF-8"); }
          pos += n;
          return s;
        }
        case 4: {
          if (n > bytes.length) throw new Malformed("CBOR array length");
          const a = [];
          for (let i = 0; i < n; i++) a.push(item(depth + 1));
          return a;
        }
        case 5: {
          if (n > bytes.length) throw new Malformed("CBOR map length");
          const m = new Map();
          const seen = new Set();
          for (let i = 0; i < n; i++) {
            const k = item(depth + 1);
            const signature = keySignature(k);
            if (seen.has(signature)) throw new Malformed("CBOR duplicate key");
            seen.add(signature);
            m.set(typeof k === "object" && k !== null ? signature : k, item(depth + 1));
          }
          return m;
        }
        case 6: return new Tag(n, item(depth + 1));
        default: throw new Malformed("CBOR major type");
      }
    }

    const value = item(0);
    if (pos !== bytes.length) throw new Malformed("CBOR trailing bytes");
    return value;
  }

  function keySignature(k) {
    if (k instanceof Uint8Array) return "bytes:" + Array.from(k).join(",");
    if (k instanceof Tag) return "tag:" + k.tag + ":" + keySignature(k.value);
    if (Array.isArray(k)) return "array:[" + k.map(keySignature).join("|") + "]";
    if (k instanceof Map) return "map:{" + [...k].map(([a, b]) => keySignature(a) + "=" + keySignature(b)).join("|") + "}";
    return typeof k + ":" + String(k);
  }

  function halfFloat(h) {
    const exp = (h >> 10) & 0x1f, mant = h & 0x3ff, sign = h & 0x8000 ? -1 : 1;
    if (exp === 0) return sign * Math.pow(2, -14) * (mant / 1024);
    if (exp === 31) return mant ? NaN : sign * Infinity;
    return sign * Math.pow(2, exp - 15) * (1 + mant / 1024);
  }

  function bstrHeader(length) {
    if (length < 24) return new Uint8Array([0x40 + length]);
    if (length < 256) return new Uint8Array([0x58, length]);
    if (length < 65536) return new Uint8Array([0x59, length >> 8, length & 0xff]);
    throw new Malformed("payload too long");
  }

  // --- the permit ------------------------------------------------------------------------

  /** Split the exact COSE_Sign1 shape of permit-format.md §4; anything else is malformed. */
  function parseCose(cose) {
    // D2 84 4D A2 01 26 04 48 <kid 8> A0 <payload bstr> 58 40 <signature 64>
    const head = [0xd2, 0x84, 0x4d, 0xa2, 0x01, 0x26, 0x04, 0x48];
    if (cose.length < head.length + 8 + 1 + 1 + 66) throw new Malformed("COSE too short");
    for (let i = 0; i < head.length; i++) if (cose[i] !== head[i]) throw new Malformed("not a COSE_Sign1 with {1: -7, 4: kid}");
    const protectedBytes = cose.slice(3, 3 + 13);
    const kid = cose.slice(8, 16);
    if (cose[16] !== 0xa0) throw new Malformed("unprotected header not empty");
    let pos = 17, length;
    const info = cose[pos] & 31;
    if (cose[pos] >> 5 !== 2) throw new Malformed("payload is not a bstr");
    if (info < 24) { length = info; pos += 1; }
    else if (info === 24) { length = cose[pos + 1]; if (length < 24) throw new Malformed("long form"); pos += 2; }
    else if (info === 25) { length = (cose[pos + 1] << 8) | cose[pos + 2]; if (length < 256) throw new Malformed("long form"); pos += 3; }
    else throw new Malformed("payload length");
    const payload = cose.slice(pos, pos + length);
    pos += length;
    if (payload.length !== length) throw new Malformed("COSE truncated");
    if (cose[pos] !== 0x58 || cose[pos + 1] !== 0x40) throw new Malformed("signature is not 64 bytes");
    const signature = cose.slice(pos + 2, pos + 66);
    if (signature.length !== 64 || pos + 66 !== cose.length) throw new Malformed("COSE trailing bytes");
    return { protectedBytes, kid, payload, signature };
  }

  function isUint(v, max) { return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max; }

  function checkText(v, field, max) {
    if (typeof v !== "string") throw new Malformed(field + " is not text");
    const n = [...v].length;
    if (n < 1 || n > max) throw new Malformed(field + " length");
    if (v !== v.trim() || CONTROL.test(v)) throw new Malformed(field + " spaces or controls");
    if (v.normalize("NFC") !== v) throw new Malformed(field + " not NFC");
  }

  function dayToIso(day) { return new Date(day * 86400000).toISOString().slice(0, 10); }

  function claimsFromPayload(map) {
    if (!(map instanceof Map)) throw new Malformed("payload is not a map");
    for (let k = 1; k <= 8; k++) if (!map.has(k)) throw new Malformed("payload lacks key " + k);
    const serial = map.get(1), name = map.get(2), last4 = map.get(3), dob = map.get(4);
    const org = map.get(5), from = map.get(6), to = map.get(7), areas = map.get(8);
    if (typeof serial !== "string" || !SERIAL.test(serial)) throw new Malformed("serial");
    checkText(name, "full_name", 64);
    if (typeof last4 !== "string" || !ID_LAST4.test(last4)) throw new Malformed("id_last4");
    if (!isUint(dob, 99991231)) throw new Malformed("date of birth");
    const y = Math.floor(dob / 10000), mo = Math.floor(dob / 100) % 100, d = dob % 100;
    const birth = new Date(Date.UTC(y, mo - 1, d));
    if (y < 1000 || birth.getUTCFullYear() !== y || birth.getUTCMonth() !== mo - 1 || birth.getUTCDate() !== d) {
      throw new Malformed("date of birth is not a date");
    }
    checkText(org, "org_short_name", 16);
    if (!isUint(from, MAX_DAYS) || !isUint(to, MAX_DAYS) || to < from) throw new Malformed("validity");
    if (!Array.isArray(areas)) throw new Malformed("areas");
    const codes = areas.map((a) => {
      if (!isUint(a, 999) || a === 0) throw new Malformed("area");
      return String(a).padStart(3, "0");
    });
    if (new Set(codes).size !== codes.length) throw new Malformed("areas repeat");
    let plate = null;
    if (map.has(9)) {
      plate = map.get(9);
      if (typeof plate !== "string" || !PLATE.test(plate)) throw new Malformed("plate");
    }
    const p2 = (n) => String(n).padStart(2, "0");
    return {
      serial, full_name: name, id_last4: last4,
      date_of_birth: `${String(y).padStart(4, "0")}-${p2(mo)}-${p2(d)}`,
      organization: org, valid_from: dayToIso(from), valid_to: dayToIso(to),
      valid_from_day: from, valid_to_day: to, areas: codes, vehicle_plate: plate,
    };
  }

  /** Parse a text: {kid, claims, signed, signature}; throws Malformed. */
  function parse(text) {
    if (typeof text !== "string") throw new Malformed("not text");
    text = text.replace(/^[\r\n]+|[\r\n]+$/g, "");
    if (text.length > MAX_TEXT || !text.startsWith(PREFIX)) throw new Malformed("not a TP1 text");
    const cose = b45decode(text.slice(PREFIX.length));
    const { protectedBytes, kid, payload, signature } = parseCose(cose);
    let map;
    try { map = decodeCbor(payload); } catch (e) { throw new Malformed("payload CBOR"); }
    const claims = claimsFromPayload(map);
    const signed = concat(
      new Uint8Array([0x84, 0x6a]), new TextEncoder().encode("Signature1"),
      new Uint8Array([0x4d]), protectedBytes, new Uint8Array([0x40]),
      bstrHeader(payload.length), payload,
    );
    return { kid: b64url(kid), claims, signed, signature };
  }

  // --- keys ------------------------------------------------------------------------------

  /** {kid: CryptoKey} of the JWKS entries that pass §1's checks (kid recomputed). */
  async function importJwks(jwks) {
    const keys = {};
    const entries = jwks && Array.isArray(jwks.keys) ? jwks.keys : [];
    for (const jwk of entries) {
      try {
        if (jwk.kty !== "EC" || jwk.crv !== "P-256") continue;
        if ((jwk.alg || "ES256") !== "ES256" || (jwk.use || "sig") !== "sig") continue;
        const x = b64urlDecode(jwk.x), y = b64urlDecode(jwk.y);
        if (x.length !== 32 || y.length !== 32) continue;
        const spki = concat(SPKI_PREFIX, new Uint8Array([4]), x, y);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
        if (b64url(digest.slice(0, 8)) !== jwk.kid) continue;
        keys[jwk.kid] = await crypto.subtle.importKey(
          "jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
          { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"],
        );
      } catch (e) { /* one bad entry must not stop the rest */ }
    }
    return keys;
  }

  /** Today's local date in Hanoi as a day number since 1970-01-01. */
  function hanoiDay(now) {
    const parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit", day: "2-digit",
    }).formatToParts(now || new Date());
    const get = (t) => Number(parts.find((p) => p.type === t).value);
    return Math.round(Date.UTC(get("year"), get("month") - 1, get("day")) / 86400000);
  }

  /** permit-format.md §6: {result, claims|null, kid|null, reason}. Never throws. */
  async function verify(text, keys, today) {
    let parsed;
    try { parsed = parse(text); } catch (e) {
      return { result: "malformed", claims: null, kid: null, reason: String(e.message || e) };
    }
    const key = keys[parsed.kid];
    if (!key) return { result: "unknown_key", claims: null, kid: parsed.kid, reason: "no key" };
    let ok = false;
    try {
      ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, parsed.signature, parsed.signed);
    } catch (e) { ok = false; }
    if (!ok) return { result: "invalid_signature", claims: null, kid: parsed.kid, reason: "signature" };
    const day = today === undefined ? hanoiDay() : today;
    const c = parsed.claims;
    if (day < c.valid_from_day) return { result: "not_yet_valid", claims: c, kid: parsed.kid, reason: "" };
    if (day > c.valid_to_day) return { result: "expired", claims: c, kid: parsed.kid, reason: "" };
    return { result: "valid", claims: c, kid: parsed.kid, reason: "" };
  }

  /** §7: is this revocation list signed by a key of the JWKS? */
  async function revocationListIsAuthentic(list, keys) {
    try {
      if (!list || typeof list.issued_at !== "string" || !Array.isArray(list.serials)) return false;
      if (!list.serials.every((s) => typeof s === "string" && SERIAL.test(s))) return false;
      if (new Set(list.serials).size !== list.serials.length) return false;
      const key = keys[list.kid];
      if (!key) return false;
      const sorted = [...list.serials].sort();
      const message = new TextEncoder().encode(JSON.stringify({ issued_at: list.issued_at, serials: sorted }));
      const signature = b64urlDecode(list.signature);
      if (signature.length !== 64) return false;
      return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, message);
    } catch (e) {
      return false;
    }
  }

  global.TP1 = { verify, parse, importJwks, revocationListIsAuthentic, hanoiDay, b45decode, decodeCbor, Malformed };
})(window);
