// The authorization endpoint's second step with a passkey (issue 18). The page carries the
// WebAuthn request options the server made for this login (data-options); the browser asks
// the passkey, and the form posts its answer with the signed form token, like a code.
// Without script the button stays hidden and the page's code fields still work.

import { credentialJSON, requestOptions } from "./webauthn.js";

const form = document.getElementById("passkey-form");
const note = document.getElementById("passkey-note");

if (form && window.PublicKeyCredential) {
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.textContent = "";
    try {
      const options = requestOptions(JSON.parse(form.dataset.options));
      const credential = await navigator.credentials.get({ publicKey: options });
      form.elements.credential.value = JSON.stringify(credentialJSON(credential));
      form.submit();
    } catch (error) {
      note.textContent = `The passkey did not answer (${error.name}). Try again, or use a code.`;
    }
  });
}
