// @ts-check
// Create an account. The password rules are on screen before the first keystroke;
// if the backend still refuses, its reason appears under the field concerned.

import * as api from "../api.js";
import { navigate } from "../router.js";
import { signIn } from "../session.js";
import { rulesPanel } from "../passwords.js";
import { busy, field, flash, h, passwordField, showError } from "../ui.js";

/** @type {import("../router.js").View} */
export function registerView(ctx) {
  const email = field({
    label: "E-mail address",
    name: "email",
    type: "email",
    autocomplete: "email",
    inputmode: "email",
    required: true,
  });
  const password = passwordField({
    label: "Password",
    name: "password",
    autocomplete: "new-password",
    required: true,
  });
  const rules = rulesPanel(password.input, () => email.input.value);
  email.input.addEventListener("input", rules.update);
  password.error.before(rules.panel);

  const messages = h("div", { class: "form-messages" });
  const submit = h("button", { type: "submit", class: "primary wide" }, "Create account");
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Create an account" },
    email.wrap,
    password.wrap,
    messages,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = { email: email.input.value.trim(), password: password.input.value };
    const fields = { email, password };
    const missing = [];
    if (!values.email) missing.push({ field: "email", message: "Enter your e-mail address." });
    else if (!email.input.checkValidity()) {
      missing.push({ field: "email", message: "This is not a valid e-mail address." });
    }
    if (!values.password) missing.push({ field: "password", message: "Choose a password." });
    if (missing.length) {
      showError({ fields: missing }, fields, messages);
      return;
    }
    showError({ fields: [] }, fields, messages);
    await busy(submit, "Creating your account…", async () => {
      try {
        await api.register(values.email, values.password);
      } catch (caught) {
        const err = api.apiError(caught);
        if (err.code === "email_taken") {
          err.fields = [{ field: "email", message: "An account with this e-mail address already exists. Sign in instead?" }];
        }
        showError(err, fields, messages);
        return;
      }
      try {
        await signIn(values.email, values.password);
      } catch {
        flash("Your account was created. Please sign in.", "success");
        navigate(`/sign-in?email=${encodeURIComponent(values.email)}`, { replace: true });
        return;
      }
      flash("Welcome! Your account is ready.", "success");
      navigate("/notes", { replace: true });
    });
  });

  return h(
    "section",
    { class: "auth-card card" },
    h("h1", {}, "Create an account"),
    h("p", { class: "lead" }, "Keep your notes in one place, on any device."),
    ctx.flash,
    form,
    h("p", { class: "switch" }, "Already have an account? ", h("a", { href: "/sign-in" }, "Sign in")),
  );
}
