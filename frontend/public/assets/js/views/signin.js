// @ts-check
// Sign in: e-mail and password. Wrong credentials, a disabled account, rate
// limits and an unreachable server each get their own plain message.

import * as api from "../api.js";
import { navigate } from "../router.js";
import { problem, rememberedEmail, sessionState, signIn } from "../session.js";
import { busy, field, h, passwordField, showError, showMessage } from "../ui.js";

/**
 * Only paths inside this app may be a "next" target: never another site, never the API.
 * @param {URLSearchParams} query
 */
function safeNext(query) {
  const next = query.get("next") || "";
  return /^\/(?!\/)[^\\]*$/.test(next) && !next.startsWith("/api") ? next : "/notes";
}

// Why the identity provider's sign-in came back without a session (the backend
// redirects to /signin?error=<code>).
/** @type {Record<string, string>} */
const PROVIDER_ERRORS = {
  oidc_unavailable: "The identity provider could not be reached. Try again later, or sign in with your password.",
  oidc_failed: "Signing in with the identity provider did not work. Please try again.",
  oidc_email_not_verified: "Your e-mail address is not verified at the identity provider, so it cannot sign you in here. Verify it there first, or sign in with your password.",
  account_disabled: "This account is disabled.",
  rate_limited: "Too many attempts. Please wait a minute and try again.",
};

/** @param {string | null} code */
function providerError(code) {
  if (!code) return null;
  return (Object.hasOwn(PROVIDER_ERRORS, code) && PROVIDER_ERRORS[code]) || `Signing in with the identity provider did not work (${code}).`;
}

/** "Sign in with <provider>", shown only when the backend offers one. */
function providerChoice() {
  const box = h("div", { class: "provider", hidden: true });
  api
    .providers()
    .then(({ oidc }) => {
      if (!oidc || !oidc.enabled) return;
      box.append(
        h("p", { class: "divider" }, h("span", {}, "or")),
        h("a", { class: "button secondary wide", href: api.OIDC_LOGIN }, `Sign in with ${oidc.name || "your organisation"}`),
      );
      box.hidden = false;
    })
    .catch(() => {
      /* no provider offered, or the server is down: the password form is enough */
    });
  return box;
}

/**
 * The password was right but the address is not confirmed yet: say so, and offer a new link.
 * @param {string} email
 */
function unverifiedNotice(email) {
  const area = h("div", {});
  const again = h("button", { type: "button", class: "secondary" }, "Send the link again");
  again.addEventListener("click", () =>
    busy(again, "Sending…", async () => {
      try {
        const { message } = await api.requestVerification(email);
        showMessage(area, message, "success");
      } catch (caught) {
        showError(api.apiError(caught), {}, area);
      }
    }),
  );
  return h(
    "div",
    { class: "notice notice-warning", role: "alert" },
    h("p", {}, "Please confirm your e-mail address first: open the link in the mail we sent you when you signed up."),
    again,
    area,
  );
}

/** @type {import("../router.js").View} */
export function signInView(ctx) {
  const email = field({
    label: "E-mail address",
    name: "email",
    type: "email",
    autocomplete: "username",
    required: true,
    inputmode: "email",
    value: ctx.query.get("email") || rememberedEmail(),
  });
  const password = passwordField({
    label: "Password",
    name: "password",
    autocomplete: "current-password",
    required: true,
  });
  const messages = h("div", { class: "form-messages" });
  const submit = h("button", { type: "submit", class: "primary wide" }, "Sign in");
  const form = h("form", { novalidate: true, "aria-label": "Sign in" }, email.wrap, password.wrap, messages, submit);

  const lastProblem = problem();
  if (sessionState() === "unreachable" && lastProblem) {
    showMessage(messages, lastProblem.message, "error");
  }
  const fromProvider = providerError(ctx.query.get("error"));
  if (fromProvider) showMessage(messages, fromProvider, "error");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = { email: email.input.value.trim(), password: password.input.value };
    const missing = [];
    if (!values.email) missing.push({ field: "email", message: "Enter your e-mail address." });
    if (!values.password) missing.push({ field: "password", message: "Enter your password." });
    const fields = { email, password };
    if (missing.length) {
      showError({ fields: missing }, fields, messages);
      return;
    }
    showError({ fields: [] }, fields, messages);
    showMessage(messages, null);
    await busy(submit, "Signing in…", async () => {
      try {
        await signIn(values.email, values.password);
      } catch (caught) {
        const err = api.apiError(caught);
        if (err.code === "email_not_verified") {
          showMessage(messages, null);
          messages.append(unverifiedNotice(values.email));
          return;
        }
        showError(err, fields, messages);
        if (err.status === 401) {
          password.input.value = "";
          password.input.focus();
        }
        return;
      }
      navigate(safeNext(ctx.query), { replace: true });
    });
  });

  return h(
    "section",
    { class: "auth-card card" },
    h("h1", {}, "Sign in"),
    h("p", { class: "lead" }, "Welcome back. Sign in to see your notes."),
    ctx.flash,
    form,
    h("p", { class: "forgot" }, h("a", { href: "/forgot-password" }, "Forgot your password?")),
    providerChoice(),
    h("p", { class: "switch" }, "New here? ", h("a", { href: "/register" }, "Create an account")),
  );
}
