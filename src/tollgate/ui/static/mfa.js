// Second factors on the account page (issue 18): the code prompt after a right password,
// passkeys (WebAuthn) to log in with or as the second step, and the "Second factors" card:
// set up an authenticator app (QR code and secret, confirmed with a code, recovery codes
// shown once), add and remove passkeys. Changing a factor asks for the password again.
//
// The QR code comes from the server as SVG and is shown as an <img> of a data: URL, which
// the page's Content-Security-Policy allows (img-src 'self' data:); nothing is inlined.

import { DELIVERY, accept, busy, call, explain, say, send, show, showAccount } from "./app.js";
import { creationOptions, credentialJSON, requestOptions } from "./webauthn.js";

const $ = (id) => document.getElementById(id);
const pending = { mfaToken: null };

async function postJSON(path, body) {
  return send(path, {
    method: "POST",
    headers: { ...DELIVERY, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function signedInWith(response) {
  if (!response.ok) {
    say(await explain(response));
    return false;
  }
  accept(await response.json());
  pending.mfaToken = null;
  say("");
  await showAccount();
  return true;
}

// -- logging in: a passkey alone, or the second step after the password ---------------

async function passkeyLogin(mfaToken) {
  const body = mfaToken ? { mfa_token: mfaToken } : {};
  const options = await postJSON("/webauthn/login/options", body);
  if (!options.ok) {
    say(await explain(options));
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.get({ publicKey: requestOptions(await options.json()) });
  } catch (error) {
    say(`No passkey was used (${error.name}).`);
    return;
  }
  await signedInWith(await postJSON("/webauthn/login", { ...body, credential: credentialJSON(credential) }));
}

export function secondStep(answer) {
  pending.mfaToken = answer.mfa_token;
  const enrol = answer.error === "mfa_enrollment_required";
  $("mfa-form").hidden = enrol;
  $("enrol-step").hidden = !enrol;
  $("mfa-passkey").hidden = !(answer.methods || []).includes("webauthn");
  show("mfa-step");
  say("");
  if (enrol) startEnrolment();
  else $("mfa-code").focus();
}

// A second factor is required and the account has none: set up an authenticator app with
// the mfa_token; its confirmation answers the recovery codes and the token pair.
async function startEnrolment() {
  const response = await postJSON("/mfa/totp", { mfa_token: pending.mfaToken });
  if (!response.ok) {
    say(await explain(response));
    return;
  }
  const started = await response.json();
  $("enrol-qr").src = `data:image/svg+xml;base64,${btoa(started.qr_svg)}`;
  $("enrol-secret").textContent = started.secret;
  $("enrol-code").focus();
}

$("enrol-confirm").addEventListener("click", async () => {
  const response = await postJSON("/mfa/totp/confirm", {
    mfa_token: pending.mfaToken,
    code: $("enrol-code").value.trim(),
  });
  if (!response.ok) {
    say(await explain(response));
    return;
  }
  const answer = await response.clone().json();
  if (await signedInWith(response)) {
    $("enrol-code").value = "";
    showRecoveryCodes(answer.recovery_codes);
    say("Your authenticator app is set up. Keep the recovery codes below.", true);
  }
});

$("mfa-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const code = form.code.value.trim();
  const recovery = form.recovery_code.value.trim();
  const body = { mfa_token: pending.mfaToken };
  if (code) body.code = code;
  else body.recovery_code = recovery;
  busy(form, true);
  try {
    if (await signedInWith(await postJSON("/login/mfa", body))) form.reset();
  } finally {
    busy(form, false);
  }
});

$("mfa-passkey").addEventListener("click", () => passkeyLogin(pending.mfaToken));
$("passkey-login").addEventListener("click", () => passkeyLogin(null));

// -- the "Second factors" card ----------------------------------------------------------

function password() {
  return $("factor-password").value;
}

function renderPasskeys(passkeys) {
  const list = $("passkeys");
  list.replaceChildren();
  for (const passkey of passkeys) {
    const item = document.createElement("li");
    const info = document.createElement("span");
    info.className = "session-info";
    const used = passkey.last_used_at ? new Date(passkey.last_used_at).toLocaleString() : "never";
    info.textContent = `${passkey.name} · added ${new Date(passkey.created_at).toLocaleDateString()} · last used ${used}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "danger";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove passkey ${passkey.name}`);
    remove.addEventListener("click", () => removePasskey(passkey));
    item.append(info, remove);
    list.append(item);
  }
}

export async function showFactors() {
  const response = await call("/mfa");
  if (!response.ok) return;
  const factors = await response.json();
  const app = factors.totp && factors.totp.confirmed;
  const parts = [app ? "Authenticator app: on." : "Authenticator app: off."];
  parts.push(`Passkeys: ${factors.passkeys.length}.`);
  if (app || factors.passkeys.length) parts.push(`Recovery codes left: ${factors.recovery_codes_left}.`);
  if (factors.required) parts.push("A second factor is required of this account.");
  $("mfa-status").textContent = parts.join(" ");
  $("totp-start").hidden = Boolean(app);
  $("totp-remove").hidden = !app;
  $("recovery-regenerate").hidden = !(app || factors.passkeys.length);
  renderPasskeys(factors.passkeys);
}

function showRecoveryCodes(codes) {
  const list = $("recovery-codes");
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    const text = document.createElement("code");
    text.textContent = code;
    item.append(text);
    return item;
  }));
  $("recovery-box").hidden = false;
}

$("totp-start").addEventListener("click", async () => {
  const response = await call("/mfa/totp", { method: "POST", body: { password: password() } });
  if (!response.ok) {
    say(await explain(response));
    return;
  }
  const started = await response.json();
  $("totp-qr").src = `data:image/svg+xml;base64,${btoa(started.qr_svg)}`;
  $("totp-secret").textContent = started.secret;
  $("totp-setup").hidden = false;
  $("recovery-box").hidden = true;
  $("totp-code").focus();
});

$("totp-confirm").addEventListener("click", async () => {
  const response = await call("/mfa/totp/confirm", { method: "POST", body: { code: $("totp-code").value.trim() } });
  if (!response.ok) {
    say(await explain(response));
    return;
  }
  $("totp-setup").hidden = true;
  $("totp-code").value = "";
  showRecoveryCodes((await response.json()).recovery_codes);
  say("Your authenticator app is set up. Logins now ask for its code.", true);
  await showFactors();
});

$("totp-remove").addEventListener("click", async () => {
  const response = await call("/mfa/totp", { method: "DELETE", body: { password: password() } });
  if (!response.ok) say(await explain(response));
  else say("The authenticator app is removed.", true);
  await showFactors();
});

$("recovery-regenerate").addEventListener("click", async () => {
  const response = await call("/mfa/recovery-codes", { method: "POST", body: { password: password() } });
  if (!response.ok) {
    say(await explain(response));
    return;
  }
  showRecoveryCodes((await response.json()).recovery_codes);
  say("New recovery codes: the old ones no longer work.", true);
  await showFactors();
});

$("passkey-add").addEventListener("click", async () => {
  const options = await call("/webauthn/register/options", { method: "POST" });
  if (!options.ok) {
    say(await explain(options));
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: creationOptions(await options.json()) });
  } catch (error) {
    say(`No passkey was made (${error.name}).`);
    return;
  }
  const response = await call("/webauthn/register", {
    method: "POST",
    body: { credential: credentialJSON(credential), name: $("passkey-name").value || "Passkey" },
  });
  if (!response.ok) say(await explain(response));
  else say("Passkey added. You can log in with it, or use it after your password.", true);
  await showFactors();
});

async function removePasskey(passkey) {
  const response = await call(`/mfa/webauthn/${encodeURIComponent(passkey.id)}`, {
    method: "DELETE",
    body: { password: password() },
  });
  if (!response.ok) say(await explain(response));
  else say(`Passkey ${passkey.name} removed.`, true);
  await showFactors();
}
