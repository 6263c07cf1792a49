// @ts-check
// Recovering an account by mail: ask for a password-reset link, choose a new
// password with it, and confirm an e-mail address. The links carry their token
// in the fragment (#token=…), which browsers never send to a server: it stays out
// of access logs and Referer headers, and the view drops it from the address bar
// at once.

import * as api from "../api.js";
import { rulesPanel } from "../passwords.js";
import { navigate } from "../router.js";
import { currentUser, reloadUser } from "../session.js";
import { busy, field, flash, h, passwordField, showError, showMessage } from "../ui.js";

/** The token of the link that opened this page, removed from the address bar. */
function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") || "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

/** @param {string} what */
function badLink(what) {
  return h(
    "div",
    { class: "notice notice-error", role: "alert" },
    h("p", {}, `This ${what} link is incomplete. Open the link from the mail again, or ask for a new one.`),
  );
}

/** @type {import("../router.js").View} */
export function forgotPasswordView(ctx) {
  const email = field({
    label: "E-mail address",
    name: "email",
    type: "email",
    autocomplete: "username",
    inputmode: "email",
    required: true,
    value: ctx.query.get("email") || "",
  });
  const messages = h("div", { class: "form-messages" });
  const submit = h("button", { type: "submit", class: "primary wide" }, "Send me a link");
  const form = h("form", { novalidate: true, "aria-label": "Reset your password" }, email.wrap, messages, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = email.input.value.trim();
    if (!value || !email.input.checkValidity()) {
      showError({ fields: [{ field: "email", message: "Enter the e-mail address of your account." }] }, { email }, messages);
      return;
    }
    showError({ fields: [] }, { email }, messages);
    await busy(submit, "Sending…", async () => {
      try {
        const { message } = await api.forgotPassword(value);
        showMessage(messages, message, "success");
      } catch (caught) {
        showError(api.apiError(caught), { email }, messages);
      }
    });
  });
  return h(
    "section",
    { class: "auth-card card" },
    h("h1", {}, "Forgot your password?"),
    h("p", { class: "lead" }, "Enter the address you sign in with. We mail you a link to choose a new password; it works once, for a short while (the mail says how long)."),
    ctx.flash,
    form,
    h("p", { class: "switch" }, "Remembered it? ", h("a", { href: "/sign-in" }, "Sign in")),
  );
}

/** @type {import("../router.js").View} */
export function resetPasswordView(ctx) {
  const token = takeToken();
  const password = passwordField({
    label: "New password",
    name: "new_password",
    autocomplete: "new-password",
    required: true,
  });
  const rules = rulesPanel(password.input);
  password.error.before(rules.panel);
  const messages = h("div", { class: "form-messages" });
  const submit = h("button", { type: "submit", class: "primary wide" }, "Set new password");
  const form = h("form", { novalidate: true, "aria-label": "Choose a new password" }, password.wrap, messages, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = { new_password: password };
    if (!password.input.value) {
      showError({ fields: [{ field: "new_password", message: "Choose a new password." }] }, fields, messages);
      return;
    }
    await busy(submit, "Saving…", async () => {
      try {
        await api.resetPassword(token, password.input.value);
      } catch (caught) {
        const err = api.apiError(caught);
        showError(err, fields, messages);
        if (err.code === "link_invalid") {
          messages.append(h("p", {}, h("a", { href: "/forgot-password" }, "Ask for a new link")));
        }
        return;
      }
      flash("Your password is changed, and every session of your account was ended. Sign in with the new password.", "success");
      navigate("/sign-in", { replace: true });
    });
  });
  return h(
    "section",
    { class: "auth-card card" },
    h("h1", {}, "Choose a new password"),
    h("p", { class: "lead" }, "Setting it signs your account out on every device."),
    ctx.flash,
    token ? form : badLink("password-reset"),
    h("p", { class: "switch" }, h("a", { href: "/forgot-password" }, "Ask for a new link")),
  );
}

/** @type {import("../router.js").View} */
export function verifyEmailView(ctx) {
  const token = takeToken();
  const messages = h("div", { class: "form-messages" });
  // A button, not an automatic request: mail scanners that open links do not confirm.
  const confirm = h("button", { type: "button", class: "primary wide" }, "Confirm my e-mail address");
  confirm.addEventListener("click", () =>
    busy(confirm, "Confirming…", async () => {
      try {
        await api.verifyEmail(token);
      } catch (caught) {
        showError(api.apiError(caught), {}, messages);
        return;
      }
      confirm.remove();
      if (currentUser()) await reloadUser().catch(() => null);
      showMessage(messages, "Thank you: your e-mail address is confirmed.", "success");
      messages.append(h("p", {}, h("a", { href: currentUser() ? "/account" : "/sign-in" }, currentUser() ? "Back to your account" : "Sign in")));
    }),
  );
  return h(
    "section",
    { class: "auth-card card" },
    h("h1", {}, "Confirm your e-mail address"),
    h("p", { class: "lead" }, "One click proves that this address is yours."),
    ctx.flash,
    token ? h("div", {}, confirm, messages) : badLink("verification"),
  );
}
