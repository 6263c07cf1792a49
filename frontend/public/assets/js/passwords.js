// The password rules, shown before the user submits. The backend is the judge
// (it also refuses commonly used passwords, which only it can check); these
// checks mirror its rules so people see what is wrong while they type.

import { h } from "./ui.js";

// The backend's default PASSWORD_MIN_LENGTH. If an operator raises it, the
// backend's own message ("Use at least N characters") still says so on submit.
export const MIN_LENGTH = 12;

function normalized(password) {
  return password.normalize("NFKC");
}

function isSequence(text) {
  const codes = [...text].map((c) => c.codePointAt(0));
  const steps = new Set();
  for (let i = 1; i < codes.length; i += 1) steps.add(codes[i] - codes[i - 1]);
  return steps.size === 1 && (steps.has(1) || steps.has(-1));
}

function isEmail(password, email) {
  const address = (email || "").trim().toLowerCase();
  if (!address) return false;
  const local = address.split("@")[0];
  return password === address || (local.length >= 4 && password.split(local).join("") === "");
}

/** Each rule: id, text, and check(password, email) → true (met), false (not met) or null (unknown). */
const RULES = [
  {
    id: "length",
    text: (pw) => {
      const n = [...pw].length;
      return `At least ${MIN_LENGTH} characters${n ? ` (${n} so far)` : ""}`;
    },
    check: (pw) => (pw ? [...pw].length >= MIN_LENGTH : null),
  },
  {
    id: "pattern",
    text: () => "Not one or two repeated characters, and not a run like “abcdef” or “98765”",
    check: (pw) => {
      if (!pw) return null;
      const lowered = pw.toLowerCase();
      return new Set(lowered).size > 2 && !isSequence(lowered);
    },
  },
  {
    id: "email",
    text: () => "Not your e-mail address",
    check: (pw, email) => (pw && email ? !isEmail(pw.toLowerCase(), email) : null),
  },
  {
    id: "common",
    text: () => "Not a commonly used password (checked when you submit)",
    check: () => null,
  },
];

/**
 * A live checklist for a new-password input. `emailOf` returns the e-mail address
 * the password must differ from (or "").
 */
export function rulesPanel(input, emailOf = () => "") {
  const id = `${input.id}-rules`;
  const items = RULES.map((rule) => {
    const state = h("span", { class: "visually-hidden" });
    const label = h("span", {});
    const li = h("li", { class: "rule" }, h("span", { class: "rule-mark", "aria-hidden": "true" }), label, state);
    return { rule, li, label, state };
  });
  const panel = h(
    "div",
    { class: "rules", id },
    h("p", { class: "rules-title" }, "Your password needs to be:"),
    h("ul", {}, items.map((i) => i.li)),
    h("p", { class: "hint" }, "Tip: a few unrelated words make a strong password that is easy to remember. No symbols or capitals are required."),
  );
  const update = () => {
    const pw = normalized(input.value);
    for (const { rule, li, label, state } of items) {
      const met = rule.check(pw, emailOf());
      label.textContent = rule.text(pw);
      li.classList.toggle("is-met", met === true);
      li.classList.toggle("is-unmet", met === false);
      state.textContent = met === true ? " (done)" : met === false ? " (not yet)" : "";
    }
  };
  input.addEventListener("input", update);
  const describedBy = input.getAttribute("aria-describedby") || "";
  input.setAttribute("aria-describedby", `${id} ${describedBy}`.trim());
  update();
  return { panel, update };
}
