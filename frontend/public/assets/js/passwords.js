// @ts-check
// The password rules, shown before the user submits. The backend is the judge
// (it also refuses commonly used passwords, which only it can check); these
// checks mirror its rules so people see what is wrong while they type. The
// lengths are the backend's own (GET /api/auth/providers, through limits.js),
// so an operator's PASSWORD_MIN_LENGTH shows here too.

import { passwordPolicy } from "./limits.js";
import { h } from "./ui.js";

/**
 * What the panel knows of the backend's policy: "loading" until it answers,
 * "unknown" if it could not be asked, else the policy itself.
 * @typedef {import("./limits.js").PasswordPolicy | "loading" | "unknown"} Policy
 * A rule: its text for this password, and check(password, email, policy) → true (met),
 * false (not met) or null (unknown).
 * @typedef {{ id: string, text: (pw: string, policy: Policy) => string,
 *   check: (pw: string, email: string, policy: Policy) => boolean | null }} Rule
 */

/** @param {string} password */
function normalized(password) {
  return password.normalize("NFKC");
}

/** @param {string} text */
function isSequence(text) {
  const codes = [...text].map((c) => /** @type {number} */ (c.codePointAt(0)));
  const steps = new Set();
  for (let i = 1; i < codes.length; i += 1) steps.add(codes[i] - codes[i - 1]);
  return steps.size === 1 && (steps.has(1) || steps.has(-1));
}

/**
 * @param {string} password
 * @param {string} email
 */
function isEmail(password, email) {
  const address = (email || "").trim().toLowerCase();
  if (!address) return false;
  const local = address.split("@")[0];
  return password === address || (local.length >= 4 && password.split(local).join("") === "");
}

/** @type {Rule[]} */
const RULES = [
  {
    id: "length",
    text: (pw, policy) => {
      const n = [...pw].length;
      const sofar = n ? ` (${n} so far)` : "";
      if (policy === "loading") return "Long enough (checking how long it must be…)";
      if (policy === "unknown") return "Long enough (checked when you submit)";
      if (n > policy.maxLength) return `At most ${policy.maxLength} characters${sofar}`;
      return `At least ${policy.minLength} characters${sofar}`;
    },
    check: (pw, _email, policy) => {
      if (!pw || typeof policy === "string") return null;
      const n = [...pw].length;
      return n >= policy.minLength && n <= policy.maxLength;
    },
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
 * the password must differ from (or ""). The lengths appear once the backend has
 * said them; until then the length rule says it is being checked.
 * @param {HTMLInputElement} input
 * @param {() => string} [emailOf]
 * @returns {{ panel: HTMLDivElement, update: () => void }}
 */
export function rulesPanel(input, emailOf = () => "") {
  const id = `${input.id}-rules`;
  /** @type {Policy} */
  let policy = "loading";
  const items = RULES.map((rule) => {
    const state = h("span", { class: "visually-hidden" });
    const label = h("span", {});
    const li = h("li", { class: "rule", dataset: { rule: rule.id } }, h("span", { class: "rule-mark", "aria-hidden": "true" }), label, state);
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
      const met = rule.check(pw, emailOf(), policy);
      label.textContent = rule.text(pw, policy);
      li.classList.toggle("is-met", met === true);
      li.classList.toggle("is-unmet", met === false);
      state.textContent = met === true ? " (done)" : met === false ? " (not yet)" : "";
    }
  };
  passwordPolicy().then(
    (known) => {
      policy = known;
      update();
    },
    () => {
      policy = "unknown";
      update();
    },
  );
  input.addEventListener("input", update);
  const describedBy = input.getAttribute("aria-describedby") || "";
  input.setAttribute("aria-describedby", `${id} ${describedBy}`.trim());
  update();
  return { panel, update };
}
