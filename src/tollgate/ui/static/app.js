// The account page. The access token lives only in this module's memory; the refresh
// token lives in an HttpOnly cookie this script can never read. The page refreshes
// shortly before the access token expires, after a 401, and on load (so a reload keeps
// you logged in).
//
// Both are bound to a key of this browser (DPoP, RFC 9449): a P-256 key made by WebCrypto
// as non-extractable, kept in IndexedDB, shared by every tab of this origin. Every token
// request and every call with the access token carries a fresh proof signed by it, so a
// token copied out of this page (or the cookie out of the browser) is useless elsewhere.
// Where WebCrypto is missing (plain http on a non-local host) the page falls back to
// unbound tokens.

import { secondStep, showFactors } from "./mfa.js";

const DELIVERY = { "X-Token-Delivery": "cookie" };
const CSRF_COOKIE = "__Host-tollgate-csrf";

const state = {
  access: null,
  tokenType: "Bearer",
  sessionId: null,
  timer: null,
  refreshing: null,
  nonce: null,
};
const $ = (id) => document.getElementById(id);

class ApiError extends Error {}

function csrfToken() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return entry ? decodeURIComponent(entry.slice(CSRF_COOKIE.length + 1)) : "";
}

function sessionIdOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).sid;
  } catch {
    return null;
  }
}

async function explain(response, context) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: fall through to the status line
  }
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After") || "a few";
    return `Too many attempts. Try again in ${wait} seconds.`;
  }
  if (context === "login" && body.error === "invalid_grant") {
    return "Wrong username or password.";
  }
  if (body.fields) {
    // Each message is a sentence that names its field ("The password needs ...").
    return Object.values(body.fields).join(" ");
  }
  return body.error_description || `Something went wrong (HTTP ${response.status}).`;
}

function say(text, ok = false) {
  const box = $("message");
  box.textContent = text;
  box.className = ok ? "ok" : "";
  box.hidden = !text;
}

// -- DPoP: this browser's key and the proofs it signs --------------------------------

let dpopKey = null; // a promise of the key (or of null without WebCrypto)

function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const encoded = (value) => b64url(new TextEncoder().encode(JSON.stringify(value)));

function idb(store, mode, act) {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open("tollgate-dpop", 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore("keys");
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const request = act(opening.result.transaction(store, mode).objectStore(store));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    };
  });
}

async function loadOrMakeKey() {
  let pair = await idb("keys", "readonly", (keys) => keys.get("dpop"));
  if (!pair) {
    // Non-extractable: the private key can sign, but never leave WebCrypto.
    pair = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    await idb("keys", "readwrite", (keys) => keys.put(pair, "dpop"));
  }
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

function browserKey() {
  if (dpopKey === null) {
    if (!window.crypto || !crypto.subtle || !window.indexedDB) {
      dpopKey = Promise.resolve(null);
    } else {
      // One key for every tab: the first tab makes it, the others wait and read it.
      const made = navigator.locks
        ? navigator.locks.request("tollgate-dpop-key", loadOrMakeKey)
        : loadOrMakeKey();
      dpopKey = made.catch(() => null);
    }
  }
  return dpopKey;
}

async function proof(method, path, accessToken) {
  const key = await browserKey();
  if (!key) return null;
  const claims = {
    jti: crypto.randomUUID ? crypto.randomUUID() : b64url(crypto.getRandomValues(new Uint8Array(16))),
    htm: method,
    htu: location.origin + path.split("?")[0],
    iat: Math.floor(Date.now() / 1000),
  };
  if (accessToken) {
    claims.ath = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)));
  }
  if (state.nonce) claims.nonce = state.nonce;
  const input = `${encoded({ typ: "dpop+jwt", alg: "ES256", jwk: key.jwk })}.${encoded(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

async function wantsNonce(response) {
  // RFC 9449 §8: remember the server's nonce; retry once when a proof lacked it.
  const nonce = response.headers.get("DPoP-Nonce");
  if (!nonce) return false;
  state.nonce = nonce;
  if (response.status === 401) {
    return (response.headers.get("WWW-Authenticate") || "").includes('error="use_dpop_nonce"');
  }
  if (response.status !== 400) return false;
  const body = await response.clone().json().catch(() => ({}));
  return body.error === "use_dpop_nonce";
}

// fetch() with a DPoP proof (and the access token, when `access` is given).
async function send(path, init, access, retried = false) {
  const headers = { ...init.headers };
  const method = init.method || "GET";
  const signed = await proof(method, path, access && state.tokenType === "DPoP" ? access : null);
  if (signed) headers.DPoP = signed;
  if (access) headers.Authorization = `${signed && state.tokenType === "DPoP" ? "DPoP" : "Bearer"} ${access}`;
  const response = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (!retried && signed && (await wantsNonce(response))) return send(path, init, access, true);
  return response;
}

function accept(tokens) {
  state.access = tokens.access_token;
  state.tokenType = tokens.token_type || "Bearer";
  state.sessionId = sessionIdOf(tokens.access_token);
  clearTimeout(state.timer);
  const lifetime = Number(tokens.expires_in) || 60;
  const margin = Math.min(30, lifetime * 0.2);
  state.timer = setTimeout(keepAlive, Math.max(0.5, lifetime - margin) * 1000);
}

async function refreshNow() {
  const response = await send("/refresh", {
    method: "POST",
    headers: { ...DELIVERY, "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: "{}",
  });
  if (!response.ok) {
    state.access = null;
    return false;
  }
  accept(await response.json());
  return true;
}

async function refresh() {
  // One refresh at a time per tab, and across tabs too (Web Locks): every refresh then
  // sends the newest cookie, so even an answer lost to a reload leaves the token this tab
  // holds "the immediately previous one", which the server's reuse interval accepts.
  // Without the lock, two tabs could rotate past a lost answer and look like theft.
  if (!state.refreshing) {
    const run = navigator.locks
      ? navigator.locks.request("tollgate-refresh", refreshNow)
      : refreshNow();
    state.refreshing = run.finally(() => {
      state.refreshing = null;
    });
  }
  return state.refreshing;
}

async function call(path, { method = "GET", body, retry = true } = {}) {
  const headers = { ...DELIVERY };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await send(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  }, state.access);
  if (response.status === 401 && retry && path !== "/password") {
    if (await refresh()) return call(path, { method, body, retry: false });
    signedOut("Your session has ended. Please log in again.");
    throw new ApiError("session ended");
  }
  return response;
}

async function keepAlive() {
  if (!(await refresh())) {
    signedOut("Your session has ended. Please log in again.");
    return;
  }
  try {
    await showAccount();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
}

function show(section) {
  for (const id of ["loading", "signed-out", "mfa-step", "signed-in", "reset", "verify"]) {
    $(id).hidden = id !== section;
  }
}

function signedOut(text) {
  clearTimeout(state.timer);
  state.access = null;
  state.sessionId = null;
  $("who").textContent = "";
  show("signed-out");
  say(text || "");
}

function describe(session) {
  const agent = session.user_agent || "Unknown device";
  const short = agent.length > 60 ? `${agent.slice(0, 57)}…` : agent;
  const when = new Date(session.last_used_at).toLocaleString();
  return `${short} · ${session.ip || "unknown address"} · last used ${when}`;
}

function renderSessions(sessions) {
  const list = $("sessions");
  list.replaceChildren();
  for (const session of sessions) {
    const item = document.createElement("li");
    const info = document.createElement("span");
    info.className = "session-info";
    info.textContent = describe(session);
    if (session.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "this browser";
      info.append(" ", badge);
    }
    const end = document.createElement("button");
    end.type = "button";
    end.className = "danger";
    end.textContent = "End session";
    end.setAttribute("aria-label", `End session: ${describe(session)}`);
    end.addEventListener("click", () => endSession(session));
    item.append(info, end);
    list.append(item);
  }
}

function renderApps(apps) {
  const list = $("allowed-apps");
  list.replaceChildren();
  $("apps-none").hidden = apps.length > 0;
  for (const app of apps) {
    const item = document.createElement("li");
    const info = document.createElement("span");
    info.className = "session-info";
    const when = new Date(app.granted_at).toLocaleString();
    const name = document.createElement("strong");
    name.textContent = app.client_name;
    info.append(name, ` · ${app.scope || "no scopes"} · allowed ${when}`);
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "danger";
    revoke.textContent = "Revoke";
    revoke.setAttribute("aria-label", `Revoke ${app.client_name}`);
    revoke.addEventListener("click", () => revokeApp(app));
    item.append(info, revoke);
    list.append(item);
  }
}

async function revokeApp(app) {
  const response = await call(`/consents/${encodeURIComponent(app.client_id)}`, { method: "DELETE" });
  if (!response.ok && response.status !== 404) say(await explain(response));
  else say(`${app.client_name} can no longer use your account; its sessions ended.`, true);
  await showAccount();
}

async function showAccount() {
  const me = await call("/me");
  if (!me.ok) throw new ApiError(await explain(me));
  const user = await me.json();
  $("who").textContent = `Signed in as ${user.username}`;
  $("profile-username").textContent = user.username;
  $("profile-email").textContent = user.email
    ? `${user.email} (${user.email_verified ? "verified" : "not verified"})`
    : "—";
  showEmail(user);
  $("profile-scope").textContent = user.scope || "—";
  $("profile-created").textContent = new Date(user.created_at).toLocaleDateString();
  $("checked-at").textContent = `at ${new Date().toLocaleTimeString()}`;
  const sessions = await call("/sessions");
  if (sessions.ok) renderSessions(await sessions.json());
  const apps = await call("/consents");
  if (apps.ok) renderApps(await apps.json());
  await showFactors();
  show("signed-in");
}

async function endSession(session) {
  const response = await call(`/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
  if (session.current || session.id === state.sessionId) {
    signedOut("You ended this browser's session.");
    return;
  }
  if (!response.ok && response.status !== 404) say(await explain(response));
  else say("Session ended.", true);
  await showAccount();
}

function busy(form, value) {
  for (const button of form.querySelectorAll("button")) button.disabled = value;
}

async function submitTokens(form, path, payload, context) {
  busy(form, true);
  try {
    const response = await send(path, {
      method: "POST",
      headers: { ...DELIVERY, "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    if (!response.ok) {
      // Issue 18: a right password of an account with a second factor.
      const body = await response.clone().json().catch(() => ({}));
      if (response.status === 403 && body.error && body.error.startsWith("mfa_")) {
        form.reset();
        secondStep(body);
        return;
      }
      say(await explain(response, context));
      return;
    }
    accept(await response.json());
    form.reset();
    say("");
    await showAccount();
  } finally {
    busy(form, false);
  }
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitTokens(form, "/login", {
    username: form.username.value,
    password: form.password.value,
  }, "login");
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const payload = { username: form.username.value, password: form.password.value };
  if (form.email.value) payload.email = form.email.value;
  submitTokens(form, "/join", payload, "join");
});

$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    const response = await call("/password", {
      method: "POST",
      body: { current_password: form.current_password.value, new_password: form.new_password.value },
    });
    if (response.ok) {
      form.reset();
      say("Password changed. Your other sessions were logged out.", true);
      await showAccount();
    } else {
      say(await explain(response, "password"));
    }
  } finally {
    busy(form, false);
  }
});

async function logout(all) {
  await call("/logout", { method: "POST", body: all ? { all: true } : {} }).catch(() => {});
  signedOut(all ? "You are logged out everywhere." : "You are logged out.");
}

$("logout").addEventListener("click", () => logout(false));
$("logout-all").addEventListener("click", () => logout(true));

document.addEventListener("visibilitychange", () => {
  // Timers sleep in background tabs: catch up when the page is seen again.
  if (document.visibilityState === "visible" && state.access) keepAlive();
});

// -- Email: forgot password, the pages mailed links open, change email (issue 17) -----
// A mailed link is `/#reset=<token>` or `/#verify=<token>`: the token stays in the
// fragment (no server sees it); opening the link only shows a form, and only the form's
// POST uses the token, so a mail scanner fetching the link uses nothing up.

const mailed = { kind: null, token: null };

function readMailedLink() {
  const found = /^#(reset|verify)=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!found) return false;
  [, mailed.kind, mailed.token] = found;
  history.replaceState(null, "", location.pathname + location.search); // out of history
  show(mailed.kind);
  return true;
}

function showEmail(user) {
  $("email-status").textContent = user.email
    ? `Your address: ${user.email}, ${user.email_verified ? "verified" : "not verified yet: open the link we mailed you"}.`
    : "No email address yet: add one to be able to reset your password.";
  $("resend-verification").hidden = !user.email || user.email_verified;
}

async function post(path, payload) {
  return send(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

$("forgot-link").addEventListener("click", (event) => {
  event.preventDefault();
  $("forgot-form").hidden = false;
  $("forgot-name").value = $("login-username").value;
  $("forgot-name").focus();
});

$("forgot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.account.value.trim();
  busy(form, true);
  try {
    const response = await post("/password/forgot", name.includes("@") ? { email: name } : { username: name });
    if (response.status === 202) {
      say((await response.json()).message, true);
      form.hidden = true;
    } else {
      say(await explain(response));
    }
  } finally {
    busy(form, false);
  }
});

$("reset-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    const response = await post("/password/reset", { token: mailed.token, new_password: form.new_password.value });
    if (response.ok) {
      form.reset();
      signedOut("Your new password is set and every session was logged out. Log in with it.");
      $("message").className = "ok";
    } else {
      say(await explain(response));
    }
  } finally {
    busy(form, false);
  }
});

$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    const response = await post("/email/verify", { token: mailed.token });
    if (!response.ok) {
      say(await explain(response));
      return;
    }
    say("Your email address is confirmed.", true);
    if (state.access || (await refresh())) await showAccount().catch(() => signedOut("Your email address is confirmed."));
    else signedOut("Your email address is confirmed. You can log in.");
    $("message").className = "ok";
  } finally {
    busy(form, false);
  }
});

$("email-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    const response = await call("/email", { method: "POST", body: { email: form.email.value } });
    if (response.ok) {
      form.reset();
      say("Address changed. Open the link we mailed to it to confirm it.", true);
      await showAccount();
    } else {
      say(await explain(response));
    }
  } finally {
    busy(form, false);
  }
});

$("resend-verification").addEventListener("click", async () => {
  const response = await call("/email/verify/resend", { method: "POST" });
  say(response.status === 202 ? "A new link is on its way." : await explain(response), response.status === 202);
});

(async function start() {
  if (readMailedLink()) return;
  if (await refresh()) {
    try {
      await showAccount();
      return;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }
  signedOut("");
})();

export { DELIVERY, accept, busy, call, explain, say, send, show, showAccount };
