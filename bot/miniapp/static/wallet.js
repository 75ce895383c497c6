// wallet.js: checks that an address is the user's own wallet without trusting
// the host (docs/miniapp.md, "Your wallet, checked by the page").
//
// The enclave's deployment identity key (Ed25519) signs the statement
// "address A belongs to Telegram user U". The page verifies such a proof with
// the identity key pinned in its own config.json (published with the page,
// never taken from the host's API), for U = the user id in the page's own
// launch data, and only after the page verified Telegram's Ed25519
// signature over that launch data itself (docs/protocol.md 2.2, with the bot
// id and Telegram public key of config.json): a URL fragment is anyone's to
// write, so an unsigned `user` is believed by nobody. It defines one global,
// AutowalletWallet.
(function (root) {
  "use strict";

  var AI = root.AutowalletIntent;
  var CONTEXT = "autowallet wallet statement v1"; // 30 bytes, then 0x00
  var MESSAGE_LENGTH = 59; // context, 0x00, owner (8 bytes), address (20 bytes)
  var MAX_OWNER = (1n << 63n) - 1n;
  // config.json limits, as bot/miniapp/config.go writes it.
  var MAX_CONFIG_BYTES = 65536;
  var MAX_NETWORKS = 32;
  var MAX_TOKENS = 32;
  var MAX_UINT64 = (1n << 64n) - 1n;

  // Reasons a wallet is not shown as the user's (the page words them).
  var NO_USER = "no_user"; // no readable user id in the launch data
  var WRONG_USER = "wrong_user"; // the statement is for another Telegram user
  var NO_CONFIG = "no_config"; // config.json missing or unreachable
  var BAD_CONFIG = "bad_config"; // config.json not exactly as specified
  var NO_WEBCRYPTO = "no_webcrypto"; // the device cannot verify Ed25519
  var BAD_PROOF = "bad_proof"; // the proof does not verify
  var BAD_LAUNCH = "bad_launch_signature"; // Telegram's signature on initData missing or wrong
  var STALE_LAUNCH = "stale_launch"; // auth_date more than 24 hours from the device's clock
  // MAX_LAUNCH_AGE: the page believes launch data signed at most this long
  // before (or after) the device's clock says now (docs/miniapp.md).
  var MAX_LAUNCH_AGE = 24 * 3600;

  function Refusal(reason, message) {
    this.reason = reason;
    this.message = message;
  }

  function refuse(reason, message) {
    throw new Refusal(reason, message);
  }

  // members returns the top-level members of a JSON object text, in order,
  // as {key, raw} with raw the value's text. The text must already have been
  // accepted by JSON.parse as an object: JSON.parse keeps the last of two
  // equal keys silently, so callers use this to refuse duplicates and to read
  // numbers exactly (a Telegram user id can exceed 2^53).
  function members(text) {
    var out = [];
    var depth = 0;
    var expect = "";
    var key = "";
    var start = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === '"') {
        var j = i + 1;
        while (j < text.length && text.charAt(j) !== '"') {
          j += text.charAt(j) === "\\" ? 2 : 1;
        }
        if (depth === 1 && expect === "key") {
          key = JSON.parse(text.substring(i, j + 1));
          expect = "colon";
        }
        i = j;
      } else if (c === "{" || c === "[") {
        depth++;
        if (depth === 1) {
          expect = "key";
        }
      } else if (c === "}" || c === "]") {
        if (depth === 1 && expect === "value") {
          out.push({ key: key, raw: text.substring(start, i).trim() });
        }
        depth--;
      } else if (depth === 1 && c === ":" && expect === "colon") {
        expect = "value";
        start = i + 1;
      } else if (depth === 1 && c === "," && expect === "value") {
        out.push({ key: key, raw: text.substring(start, i).trim() });
        expect = "key";
      }
    }
    return out;
  }

  // objectMembers parses text as one JSON object with no key twice and
  // returns its members by key, or null.
  function objectMembers(text) {
    var v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return null;
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return null;
    }
    var list = members(text.trim());
    var out = Object.create(null);
    for (var i = 0; i < list.length; i++) {
      if (list[i].key in out) {
        return null;
      }
      out[list[i].key] = list[i].raw;
    }
    return out;
  }

  // launchUserId returns the Telegram user id (a BigInt) in the page's own
  // launch data (initData's `user` field, parsed by app.js), or null. Only a
  // plain positive integer up to 2^63-1 is a user id.
  function launchUserId(initFields) {
    if (!initFields || typeof initFields.user !== "string") {
      return null;
    }
    var m = objectMembers(initFields.user);
    if (!m || typeof m.id !== "string" || !/^[1-9][0-9]{0,18}$/.test(m.id)) {
      return null;
    }
    var id = BigInt(m.id);
    return id <= MAX_OWNER ? id : null;
  }

  // hexBytes turns n*2 lowercase hex digits into n bytes.
  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = parseInt(hex.substr(2 * i, 2), 16);
    }
    return out;
  }

  // arrayItems returns the raw texts of a JSON array's elements. The text
  // must already have been accepted by JSON.parse as an array.
  function arrayItems(text) {
    var out = [];
    var depth = 0;
    var start = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === '"') {
        var j = i + 1;
        while (j < text.length && text.charAt(j) !== '"') {
          j += text.charAt(j) === "\\" ? 2 : 1;
        }
        i = j;
      } else if (c === "{" || c === "[") {
        depth++;
        if (depth === 1) {
          start = i + 1;
        }
      } else if (c === "}" || c === "]") {
        if (depth === 1) {
          var last = text.substring(start, i).trim();
          if (last !== "") {
            out.push(last);
          }
        }
        depth--;
      } else if (depth === 1 && c === ",") {
        out.push(text.substring(start, i).trim());
        start = i + 1;
      }
    }
    return out;
  }

  // arrayOf returns the raw elements of raw if it is a JSON array, or null.
  function arrayOf(raw) {
    var v;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      return null;
    }
    return Array.isArray(v) ? arrayItems(raw.trim()) : null;
  }

  // exactly: the object members m have exactly these keys.
  function exactly(m, keys) {
    return m !== null && Object.keys(m).sort().join(",") === keys.slice().sort().join(",");
  }

  // stringOf returns the value of raw if it is a JSON string, or null.
  function stringOf(raw) {
    if (typeof raw !== "string" || raw.charAt(0) !== '"') {
      return null;
    }
    try {
      var v = JSON.parse(raw);
      return typeof v === "string" ? v : null;
    } catch (e) {
      return null;
    }
  }

  // A name (1..32) or symbol (1..16 code points) the page may show: only
  // letters, marks, digits, punctuation and symbols (spaces inside a name):
  // no control, format or bidirectional-override character that could hide
  // or reorder what is shown next to it (config.go's displayable).
  function displayable(s, max, spaces) {
    if (s === null || s === "" || Array.from(s).length > max || s.trim() !== s) {
      return false;
    }
    return spaces ? /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u.test(s) : /^[\p{L}\p{M}\p{N}\p{P}\p{S}]+$/u.test(s);
  }

  // decimalsOf reads a plain integer 0..36 (a coin's or token's decimals).
  function decimalsOf(raw) {
    return /^(0|[1-9][0-9]?)$/.test(raw) && Number(raw) <= 36 ? Number(raw) : -1;
  }

  // explorerOK: "" or an https URL (http on a loopback host) without a
  // trailing slash, query, fragment or credentials, in printable ASCII.
  function explorerOK(s) {
    if (s === "") {
      return true;
    }
    if (!/^[!-~]+$/.test(s) || /["'<>\\`?#@]/.test(s) || s.charAt(s.length - 1) === "/") {
      return false;
    }
    var u;
    try {
      u = new URL(s);
    } catch (e) {
      return false;
    }
    var loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost";
    return u.host !== "" && (u.protocol === "https:" || (u.protocol === "http:" && loopback));
  }

  // parseToken reads one token of a network: exactly {"address": "<EIP-55,
  // checksum checked>", "symbol": "...", "decimals": 0..36}.
  function parseToken(raw, where) {
    var m = objectMembers(raw);
    if (!exactly(m, ["address", "symbol", "decimals"])) {
      refuse(BAD_CONFIG, where + ": a token must hold exactly address, symbol and decimals");
    }
    var addr = stringOf(m.address);
    if (addr === null || !/^0x[0-9a-fA-F]{40}$/.test(addr)) {
      refuse(BAD_CONFIG, where + ": a token address is not 0x and 40 hex digits");
    }
    var bytes = hexBytes(addr.slice(2).toLowerCase());
    // EIP-55 only: the form explorers and docs/networks.md show, and a
    // mistyped character in a hand-edited config fails its checksum.
    if (AI.toChecksumAddress(bytes) !== addr || /^0x0{40}$/.test(addr)) {
      refuse(BAD_CONFIG, where + ": token address " + addr + " is not in EIP-55 form or is zero");
    }
    var symbol = stringOf(m.symbol);
    if (!displayable(symbol, 16, false)) {
      refuse(BAD_CONFIG, where + ": a token symbol is not 1..16 printable characters");
    }
    var dec = decimalsOf(m.decimals);
    if (dec < 0) {
      refuse(BAD_CONFIG, where + ": token " + symbol + " decimals is not an integer 0..36");
    }
    return { address: addr, symbol: symbol, decimals: dec };
  }

  // parseNetwork reads one network: exactly {"chain_id", "name",
  // "native_symbol", "native_decimals", "explorer_url", "l1_data_fee",
  // "tokens"}, with no token listed twice (by address or symbol) and no
  // token named like the native coin.
  function parseNetwork(raw, i) {
    var where = "config.json network " + i;
    var m = objectMembers(raw);
    if (!exactly(m, ["chain_id", "name", "native_symbol", "native_decimals", "explorer_url", "l1_data_fee", "tokens"])) {
      refuse(BAD_CONFIG, where + " must hold exactly chain_id, name, native_symbol, native_decimals, explorer_url, l1_data_fee and tokens");
    }
    if (!/^[1-9][0-9]{0,19}$/.test(m.chain_id) || BigInt(m.chain_id) > MAX_UINT64) {
      refuse(BAD_CONFIG, where + ": chain_id is not a positive 64-bit integer");
    }
    var n = { chainId: BigInt(m.chain_id), name: stringOf(m.name), nativeSymbol: stringOf(m.native_symbol) };
    if (!displayable(n.name, 32, true) || !displayable(n.nativeSymbol, 16, false)) {
      refuse(BAD_CONFIG, where + ": name or native_symbol is not printable (1..32, 1..16 characters)");
    }
    n.nativeDecimals = decimalsOf(m.native_decimals);
    if (n.nativeDecimals < 0) {
      refuse(BAD_CONFIG, where + ": native_decimals is not an integer 0..36");
    }
    n.explorerUrl = stringOf(m.explorer_url);
    if (n.explorerUrl === null || !explorerOK(n.explorerUrl)) {
      refuse(BAD_CONFIG, where + ": explorer_url is not empty or an https URL without a trailing slash");
    }
    if (m.l1_data_fee !== "true" && m.l1_data_fee !== "false") {
      refuse(BAD_CONFIG, where + ": l1_data_fee is not true or false");
    }
    n.l1DataFee = m.l1_data_fee === "true";
    var items = arrayOf(m.tokens);
    if (items === null || items.length > MAX_TOKENS) {
      refuse(BAD_CONFIG, where + ": tokens is not a list of at most " + MAX_TOKENS);
    }
    n.tokens = [];
    var seen = Object.create(null);
    seen["s:" + n.nativeSymbol.toUpperCase()] = true;
    for (var j = 0; j < items.length; j++) {
      var t = parseToken(items[j], where);
      var ks = "s:" + t.symbol.toUpperCase();
      var ka = "a:" + t.address.toLowerCase();
      if (seen[ks] || seen[ka]) {
        refuse(BAD_CONFIG, where + ": token " + t.symbol + " listed twice or named like the native coin");
      }
      seen[ks] = seen[ka] = true;
      n.tokens.push(t);
    }
    return n;
  }

  // parseConfig reads config.json (version 2) strictly: exactly
  // {"version": 2, "identity_key": "<64 lowercase hex>", "bot_id": <positive
  // integer>, "telegram_public_key": "<64 lowercase hex>", "networks":
  // [...]}, no other field and no key twice at any level, every network and
  // token exactly as parseNetwork and parseToken read them, at least one
  // network and no chain id or name twice. bot_id and telegram_public_key are
  // what the page checks Telegram's signature on its launch data with;
  // networks is the page's own list of what it can name (docs/miniapp.md).
  function parseConfig(text) {
    if (typeof text !== "string" || text.length > MAX_CONFIG_BYTES) {
      refuse(BAD_CONFIG, "config.json is too large");
    }
    var m = objectMembers(text);
    if (!m) {
      refuse(BAD_CONFIG, "config.json is not one JSON object");
    }
    if (!exactly(m, ["version", "identity_key", "bot_id", "telegram_public_key", "networks"])) {
      refuse(BAD_CONFIG, "config.json must hold exactly version, identity_key, bot_id, telegram_public_key and networks");
    }
    if (m.version !== "2") {
      refuse(BAD_CONFIG, "config.json has version " + m.version + ", want 2");
    }
    if (!/^"[0-9a-f]{64}"$/.test(m.identity_key)) {
      refuse(BAD_CONFIG, "config.json identity_key is not 64 lowercase hex digits");
    }
    if (!/^"[0-9a-f]{64}"$/.test(m.telegram_public_key)) {
      refuse(BAD_CONFIG, "config.json telegram_public_key is not 64 lowercase hex digits");
    }
    // A bot id is a positive integer (Go's int64), written plainly; it is
    // kept as its decimal text, which is what the signed message holds.
    if (!/^[1-9][0-9]{0,18}$/.test(m.bot_id) || BigInt(m.bot_id) > MAX_OWNER) {
      refuse(BAD_CONFIG, "config.json bot_id is not a positive integer");
    }
    var items = arrayOf(m.networks);
    if (items === null || items.length === 0 || items.length > MAX_NETWORKS) {
      refuse(BAD_CONFIG, "config.json networks is not a list of 1.." + MAX_NETWORKS + " networks");
    }
    var nets = [];
    var seen = Object.create(null);
    for (var i = 0; i < items.length; i++) {
      var n = parseNetwork(items[i], i);
      var kc = "c:" + n.chainId.toString();
      var kn = "n:" + n.name.toLowerCase();
      if (seen[kc] || seen[kn]) {
        refuse(BAD_CONFIG, "config.json lists chain " + n.chainId.toString() + " (" + n.name + ") twice");
      }
      seen[kc] = seen[kn] = true;
      nets.push(n);
    }
    return {
      identityKey: hexBytes(m.identity_key.slice(1, -1)),
      botId: m.bot_id,
      telegramKey: hexBytes(m.telegram_public_key.slice(1, -1)),
      networks: nets,
    };
  }

  // networkOf returns cfg's network with chain id id (a BigInt), or null.
  function networkOf(cfg, id) {
    for (var i = 0; i < cfg.networks.length; i++) {
      if (cfg.networks[i].chainId === id) {
        return cfg.networks[i];
      }
    }
    return null;
  }

  // tokenOf returns the network's token at addr (EIP-55), or null.
  function tokenOf(net, addr) {
    for (var i = 0; i < net.tokens.length; i++) {
      if (net.tokens[i].address === addr) {
        return net.tokens[i];
      }
    }
    return null;
  }

  var configPromise = null;

  // loadConfig fetches config.json once, relative to the page's own URL
  // (never from the ?api= origin: the API is the host's), without cookies,
  // referrer or anything of the launch data, and never from a cache.
  function loadConfig() {
    if (!configPromise) {
      configPromise = Promise.resolve()
        .then(function () {
          var url = new URL("config.json", document.baseURI);
          url.search = "";
          url.hash = "";
          return fetch(url.href, {
            method: "GET",
            credentials: "omit",
            cache: "no-store",
            redirect: "error",
            referrerPolicy: "no-referrer",
          });
        })
        .then(
          function (resp) {
            if (!resp.ok) {
              refuse(NO_CONFIG, "config.json answered HTTP " + resp.status);
            }
            return resp.text();
          },
          function () {
            refuse(NO_CONFIG, "config.json could not be fetched");
          },
        )
        .then(parseConfig);
    }
    return configPromise;
  }

  // statementMessage is the 59-byte message the identity key signs:
  // "autowallet wallet statement v1" || 0x00 || owner (8 bytes, big-endian)
  // || address (20 bytes).
  function statementMessage(owner, addressBytes) {
    var m = new Uint8Array(MESSAGE_LENGTH);
    m.set(AI.utf8(CONTEXT));
    var o = owner;
    for (var i = 38; i >= 31; i--) {
      m[i] = Number(o & 0xffn);
      o >>= 8n;
    }
    m.set(addressBytes, 39);
    return m;
  }

  // importKey makes a WebCrypto Ed25519 key; a device without it (an old
  // browser, or a page not in a secure context) gets NO_WEBCRYPTO.
  function importKey(raw) {
    return Promise.resolve()
      .then(function () {
        return root.crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      })
      .catch(function () {
        refuse(NO_WEBCRYPTO, "this device cannot verify Ed25519 signatures");
      });
  }

  // compareBytes orders two strings by their UTF-8 bytes (Go's sort of the
  // data-check-string's keys), not by UTF-16 units.
  function compareBytes(a, b) {
    var x = AI.utf8(a);
    var y = AI.utf8(b);
    for (var i = 0; i < x.length && i < y.length; i++) {
      if (x[i] !== y[i]) {
        return x[i] - y[i];
      }
    }
    return x.length - y.length;
  }

  // launchMessage is what Telegram signs for third-party validation
  // (docs/protocol.md 2.2): "<bot_id>:WebAppData\n" and the data-check-string,
  // every pair but hash and signature, sorted by key, "key=value" decoded,
  // joined by "\n". initFields is app.js's parse of initData (decoded pairs,
  // no control character, no key twice).
  function launchMessage(botId, initFields) {
    var keys = Object.keys(initFields).filter(function (k) {
      return k !== "hash" && k !== "signature";
    });
    keys.sort(compareBytes);
    var lines = keys.map(function (k) {
      return k + "=" + initFields[k];
    });
    return AI.utf8(botId + ":WebAppData\n" + lines.join("\n"));
  }

  // displayName keeps a name Telegram signed printable on one line: no
  // control or bidirectional-override character (which could reorder the
  // sentence around it), at most 64 characters.
  function displayName(v) {
    if (typeof v !== "string") {
      return "";
    }
    return v.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "").trim().slice(0, 64);
  }

  // signedUser reads the Telegram-signed user: the id (launchUserId) and the
  // first name and username the page names the wallet's owner by.
  function signedUser(initFields, id) {
    var u = {};
    try {
      u = JSON.parse(initFields.user);
    } catch (e) {}
    var username = displayName(u.username);
    return {
      id: id,
      firstName: displayName(u.first_name),
      username: /^[A-Za-z0-9_]{1,64}$/.test(username) ? username : "",
    };
  }

  // verifyLaunch resolves to the launch's user ({id, firstName, username})
  // when Telegram's Ed25519 signature over initData verifies with config.json's
  // key and bot id and auth_date is within MAX_LAUNCH_AGE of the device's
  // clock; otherwise it throws a Refusal. Nothing in initData (user,
  // start_param) is believed before this.
  function verifyLaunch(cfg, initFields) {
    if (!initFields || typeof initFields.signature !== "string") {
      refuse(BAD_LAUNCH, "the launch data carries no Telegram signature");
    }
    var sig;
    try {
      sig = AI.base64urlDecode(initFields.signature);
    } catch (e) {
      refuse(BAD_LAUNCH, "the launch data's signature is not base64url");
    }
    if (sig.length !== 64) {
      refuse(BAD_LAUNCH, "the launch data's signature is not 64 bytes");
    }
    var msg = launchMessage(cfg.botId, initFields);
    return importKey(cfg.telegramKey).then(function (key) {
      return root.crypto.subtle
        .verify({ name: "Ed25519" }, key, sig, msg)
        .catch(function () {
          return false;
        })
        .then(function (valid) {
          if (!valid) {
            refuse(BAD_LAUNCH, "Telegram's signature on the launch data does not verify");
          }
          // auth_date is signed, so it is read only now.
          var ad = initFields.auth_date;
          var now = Math.floor(Date.now() / 1000);
          if (typeof ad !== "string" || !/^[1-9][0-9]{0,15}$/.test(ad) || Math.abs(now - Number(ad)) > MAX_LAUNCH_AGE) {
            refuse(STALE_LAUNCH, "the launch data is more than 24 hours from this device's clock");
          }
          var id = launchUserId(initFields);
          if (id === null) {
            refuse(NO_USER, "the launch data names no Telegram user");
          }
          return signedUser(initFields, id);
        });
    });
  }

  // check resolves to {ok: true, user} when Telegram's signature on the
  // launch data verifies (verifyLaunch), proof is the identity key's
  // signature over (the signed user id, address), and statedOwner (the owner
  // a receive link names, or null) is that same user; user is the signed
  // {id, firstName, username}. Otherwise it resolves to {ok: false, reason,
  // message}. It never rejects.
  function check(initFields, statedOwner, addressBytes, proof) {
    var user = null;
    return loadConfig()
      .then(function (cfg) {
        return verifyLaunch(cfg, initFields).then(function (u) {
          user = u;
          if (statedOwner !== null && statedOwner !== user.id) {
            refuse(WRONG_USER, "the statement is for another Telegram user");
          }
          return importKey(cfg.identityKey).then(function (key) {
            var msg = statementMessage(user.id, addressBytes);
            return root.crypto.subtle.verify({ name: "Ed25519" }, key, proof, msg).catch(function () {
              return false;
            });
          });
        });
      })
      .then(function (valid) {
        return valid ? { ok: true, user: user } : { ok: false, reason: BAD_PROOF, message: "the proof does not verify" };
      })
      .catch(function (e) {
        if (e instanceof Refusal) {
          return { ok: false, reason: e.reason, message: e.message };
        }
        return { ok: false, reason: BAD_PROOF, message: "the check failed" };
      });
  }

  root.AutowalletWallet = {
    NO_USER: NO_USER,
    WRONG_USER: WRONG_USER,
    NO_CONFIG: NO_CONFIG,
    BAD_CONFIG: BAD_CONFIG,
    NO_WEBCRYPTO: NO_WEBCRYPTO,
    BAD_PROOF: BAD_PROOF,
    BAD_LAUNCH: BAD_LAUNCH,
    STALE_LAUNCH: STALE_LAUNCH,
    members: members,
    launchUserId: launchUserId,
    parseConfig: parseConfig,
    loadConfig: loadConfig,
    networkOf: networkOf,
    tokenOf: tokenOf,
    statementMessage: statementMessage,
    launchMessage: launchMessage,
    check: check,
  };
})(typeof window !== "undefined" ? window : this);
