// @ts-check
// The account: profile, e-mail address, password, and the two ways of signing
// out, each with what it does said plainly.

import * as api from "../api.js";
import { displayNameLimit, limitLength } from "../limits.js";
import { rulesPanel } from "../passwords.js";
import { navigate } from "../router.js";
import { currentUser, reloadUser, signOut, signOutEverywhere } from "../session.js";
import {
  announce,
  busy,
  confirmAction,
  field,
  h,
  newId,
  passwordField,
  showError,
  showMessage,
  timeElement,
} from "../ui.js";

/** @typedef {import("../api.js").User} User */

/**
 * @param {string} title
 * @param {string | null} intro
 * @param {...import("../ui.js").Child} content
 */
function card(title, intro, ...content) {
  const id = newId("card");
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h2", { id }, title),
    intro ? h("p", { class: "card-intro" }, intro) : null,
    ...content,
  );
}

/** @param {Record<string, import("../ui.js").Field>} fields */
function clearForm(fields) {
  for (const f of Object.values(fields)) f.input.value = "";
}

/** @param {User} user */
function profileCard(user) {
  const name = field({
    label: "Display name",
    name: "display_name",
    autocomplete: "nickname",
    hint: "Shown in the header and on your notes page. Leave empty to use your e-mail address.",
    value: user.display_name || "",
  });
  limitLength(name.input, displayNameLimit());
  const messages = h("div", { class: "form-messages" });
  const save = h("button", { type: "submit", class: "primary" }, "Save name");
  const form = h("form", { novalidate: true }, name.wrap, messages, h("div", { class: "actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(save, "Saving…", async () => {
      try {
        await api.updateMe({ display_name: name.input.value.trim() });
        await reloadUser();
        showMessage(messages, "Your display name is saved.", "success");
      } catch (err) {
        showError(api.apiError(err), { display_name: name }, messages);
      }
    });
  });
  const facts = h(
    "dl",
    { class: "facts" },
    h("dt", {}, "E-mail address"),
    h("dd", { class: "account-email" }, user.email),
    h("dt", {}, "Role"),
    h("dd", {}, user.role === "admin" ? "Administrator" : "User"),
    h("dt", {}, "Member since"),
    h("dd", {}, timeElement(user.created_at)),
  );
  return card("Profile", null, facts, form);
}

/** @param {User} user */
function emailCard(user) {
  const email = field({ label: "New e-mail address", name: "email", type: "email", autocomplete: "email", required: true });
  const current = passwordField({ label: "Current password", name: "current_password", autocomplete: "current-password", required: true });
  const fields = { email, current_password: current };
  const messages = h("div", { class: "form-messages" });
  const save = h("button", { type: "submit", class: "primary" }, "Change e-mail address");
  const form = h("form", { novalidate: true }, email.wrap, current.wrap, messages, h("div", { class: "actions" }, save));
  let state = verification(user);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const missing = [];
    if (!email.input.value.trim()) missing.push({ field: "email", message: "Enter the new e-mail address." });
    if (!current.input.value) missing.push({ field: "current_password", message: "Enter your current password." });
    if (missing.length) return showError({ fields: missing }, fields, messages);
    await busy(save, "Saving…", async () => {
      try {
        await api.updateMe({ email: email.input.value.trim(), current_password: current.input.value });
        const updated = await reloadUser();
        clearForm(fields);
        showError({ fields: [] }, fields, messages);
        document.querySelectorAll(".account-email").forEach((el) => {
          el.textContent = updated.email;
        });
        const fresh = verification(updated);
        state.replaceWith(fresh);
        state = fresh;
        showMessage(messages, `Your e-mail address is now ${updated.email}. Use it to sign in. We sent a link to it to confirm it, and told your old address about the change.`, "success");
      } catch (caught) {
        const err = api.apiError(caught);
        if (err.code === "email_taken") err.fields = [{ field: "email", message: err.message }];
        showError(err, fields, messages);
      }
    });
  });
  return card("E-mail address", `You sign in with ${user.email}. To change it, confirm with your password.`, state, form);
}

/**
 * Whether the address is confirmed, and (when not) a button for a new link.
 * @param {User} user
 */
function verification(user) {
  if (user.email_verified) {
    return h("p", { class: "verified-state" }, h("span", { class: "badge badge-verified" }, "Verified"), " This address is confirmed.");
  }
  const area = h("div", { class: "form-messages" });
  const send = h("button", { type: "button", class: "secondary" }, "Send a confirmation link");
  send.addEventListener("click", () =>
    busy(send, "Sending…", async () => {
      try {
        await api.requestVerification(user.email);
        showMessage(area, `We sent a link to ${user.email}. Open it to confirm the address.`, "success");
      } catch (err) {
        showError(api.apiError(err), {}, area);
      }
    }),
  );
  return h(
    "div",
    { class: "verified-state" },
    h("p", {}, h("span", { class: "badge badge-unverified" }, "Not verified"), " This address is not confirmed yet. Open the link we sent to it, or ask for a new one."),
    send,
    area,
  );
}

/** @param {User} user */
function passwordCard(user) {
  const current = passwordField({ label: "Current password", name: "current_password", autocomplete: "current-password", required: true });
  const next = passwordField({ label: "New password", name: "new_password", autocomplete: "new-password", required: true });
  const rules = rulesPanel(next.input, () => user.email);
  next.error.before(rules.panel);
  const fields = { current_password: current, new_password: next };
  const messages = h("div", { class: "form-messages" });
  const save = h("button", { type: "submit", class: "primary" }, "Change password");
  // For password managers (and Chrome's advice): which account this password belongs to.
  const username = h("input", { type: "email", name: "username", autocomplete: "username", value: user.email, readonly: true, hidden: true, tabindex: "-1", "aria-hidden": "true" });
  const form = h("form", { novalidate: true, "aria-label": "Change password" }, username, current.wrap, next.wrap, messages, h("div", { class: "actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const missing = [];
    if (!current.input.value) missing.push({ field: "current_password", message: "Enter your current password." });
    if (!next.input.value) missing.push({ field: "new_password", message: "Choose a new password." });
    if (missing.length) return showError({ fields: missing }, fields, messages);
    await busy(save, "Changing password…", async () => {
      try {
        await api.changePassword(current.input.value, next.input.value);
        clearForm(fields);
        rules.update();
        showError({ fields: [] }, fields, messages);
        showMessage(messages, "Your password is changed. You were signed out on your other devices and browsers; you stay signed in here.", "success");
        announce("Password changed.");
      } catch (err) {
        showError(api.apiError(err), fields, messages);
      }
    });
  });
  return card(
    "Password",
    "Changing your password signs you out on every other device and browser. You stay signed in here.",
    form,
  );
}

function sessionsCard() {
  const messages = h("div", { class: "form-messages" });
  const one = h("button", { type: "button", class: "secondary" }, "Sign out");
  const all = h("button", { type: "button", class: "danger" }, "Sign out everywhere");
  one.addEventListener("click", () =>
    busy(one, "Signing out…", async () => {
      try {
        await signOut();
        navigate("/sign-in", { replace: true });
      } catch (err) {
        showMessage(messages, `You are still signed in. ${api.apiError(err).message}`, "error");
      }
    }),
  );
  all.addEventListener("click", async () => {
    const ok = await confirmAction({
      title: "Sign out everywhere?",
      message: "This ends every session of your account on every device and browser, including this one. You will need your password to sign in again.",
      confirm: "Sign out everywhere",
      danger: true,
    });
    if (!ok) return;
    await busy(all, "Signing out…", async () => {
      try {
        await signOutEverywhere();
        navigate("/sign-in", { replace: true });
      } catch (err) {
        showMessage(messages, `You are still signed in. ${api.apiError(err).message}`, "error");
      }
    });
  });
  return card(
    "Sessions",
    null,
    h(
      "div",
      { class: "session-actions" },
      h("div", { class: "session-action" }, h("div", {}, h("h3", {}, "This browser"), h("p", {}, "Ends your session here. Other devices where you are signed in stay signed in.")), one),
      h("div", { class: "session-action" }, h("div", {}, h("h3", {}, "Every device"), h("p", {}, "Ends every session of your account, including this one. Use it if you lost a device or signed in on a computer you do not trust.")), all),
    ),
    messages,
  );
}

/** @type {import("../router.js").View} */
export function accountView(ctx) {
  // The route needs a session: the guard sends anyone without one to sign-in first.
  const user = /** @type {User} */ (currentUser());
  return h(
    "div",
    { class: "page account-page" },
    h("div", { class: "page-head" }, h("h1", {}, "Your account"), h("p", { class: "lead" }, "Your profile, sign-in details and sessions.")),
    ctx.flash,
    h(
      "div",
      { class: "stack" },
      profileCard(user),
      // An account made through the identity provider has no password to confirm with.
      ...(user.has_password === false ? [providerCard(user)] : [passwordCard(user), emailCard(user)]),
      sessionsCard(),
    ),
  );
}

/** @param {User} user */
function providerCard(user) {
  return card(
    "Signing in",
    `You sign in as ${user.email} through your organisation's identity provider, so this account has no password here. Your e-mail address and password are managed by that provider.`,
  );
}
