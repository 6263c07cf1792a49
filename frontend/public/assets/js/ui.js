// @ts-check
// Small DOM helpers shared by the views: building elements, messages, field
// errors, busy buttons, the progress bar and a confirmation dialog.
// Nothing here writes inline styles (the CSP forbids them): state is shown with
// classes and the `hidden` attribute.

/**
 * An attribute for h(): null, undefined and false leave it out, true sets it empty,
 * functions under on* names are listeners, `dataset` takes an object.
 * @typedef {string | number | boolean | null | undefined | ((event: any) => unknown)
 *   | Record<string, string | number>} AttrValue
 * @typedef {Record<string, AttrValue>} Attrs
 * What h() appends: nodes, text (numbers too), nested lists; null, undefined and false
 * are skipped.
 * @typedef {Node | string | number | null | undefined | false} ChildItem
 * @typedef {ChildItem | ChildItem[] | ChildItem[][]} Child
 */

/**
 * A labelled form control with its error (and hint), as field() makes it.
 * @template {HTMLInputElement | HTMLTextAreaElement} [E=HTMLInputElement | HTMLTextAreaElement]
 * @typedef {{ wrap: HTMLDivElement, input: E, error: HTMLParagraphElement }} Field
 */

/**
 * What showError() shows: an ApiError, or field errors the view found itself.
 * @typedef {{ fields?: import("./api.js").FieldError[], status?: number,
 *   retryAfter?: number, message?: string }} Problem
 */

let uid = 0;
/**
 * A document-unique id with a readable prefix.
 * @param {string} prefix
 */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * h("button", { class: "primary", type: "submit", onclick: fn }, "Save")
 * Attributes: `class`, `text`, `dataset`, on* listeners, booleans (true sets, false omits).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset" && typeof value === "object") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {HTMLElement} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Empty an element; returns it.
 * @template {Element} T
 * @param {T} el
 * @returns {T}
 */
export function clear(el) {
  el.replaceChildren();
  return el;
}

// -- announcements and flash messages ------------------------------------------------------

/**
 * The element of index.html with this id (the page always has it).
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page has no element #${id}.`);
  return el;
}

/**
 * Say something to screen-reader users without moving focus.
 * @param {string} message
 */
export function announce(message) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  // A fresh text node after a tick makes repeated messages heard again.
  setTimeout(() => {
    live.textContent = message;
  }, 50);
}

/** @typedef {"info" | "success" | "error" | "warning"} NoticeKind */

/** @type {{ message: string, kind: NoticeKind } | null} */
let pendingFlash = null;

/**
 * A message for the next view that is shown (e.g. "You are signed out").
 * With ifEmpty, an earlier message that is still waiting wins.
 * @param {string} message
 * @param {NoticeKind} [kind]
 * @param {{ ifEmpty?: boolean }} [options]
 */
export function flash(message, kind = "info", { ifEmpty = false } = {}) {
  if (ifEmpty && pendingFlash) return;
  pendingFlash = { message, kind };
}

/**
 * The pending flash message as an element (or null), consumed.
 * @returns {HTMLElement | null}
 */
export function takeFlash() {
  if (!pendingFlash) return null;
  const { message, kind } = pendingFlash;
  pendingFlash = null;
  return notice(message, kind);
}

/**
 * A message box. kind: info, success, error, warning. Errors are announced at once.
 * @param {string} message
 * @param {NoticeKind} [kind]
 * @param {...Child} extra
 */
export function notice(message, kind = "info", ...extra) {
  return h(
    "div",
    { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("p", {}, message),
    ...extra,
  );
}

// -- progress --------------------------------------------------------------------------------

let progressTimer = 0;
/**
 * Show the thin bar at the top while requests run (after 150 ms, so fast ones don't flicker).
 * @param {number} inFlight
 */
export function showProgress(inFlight) {
  const bar = document.getElementById("progress");
  if (!bar) return;
  clearTimeout(progressTimer);
  if (inFlight > 0) {
    document.body.setAttribute("aria-busy", "true");
    progressTimer = setTimeout(() => {
      bar.hidden = false;
    }, 150);
  } else {
    document.body.removeAttribute("aria-busy");
    bar.hidden = true;
  }
}

/**
 * Mark a button busy while `work` runs; returns work's result.
 * @template T
 * @param {HTMLButtonElement} button
 * @param {string} label
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
export async function busy(button, label, work) {
  const original = button.textContent;
  button.disabled = true;
  button.classList.add("is-busy");
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.classList.remove("is-busy");
    button.removeAttribute("aria-busy");
    button.textContent = original;
  }
}

// -- forms -------------------------------------------------------------------------------------

/**
 * field()'s options: the label, the name (also the id's prefix), the input's type,
 * a hint, multiline (a textarea), and any other attribute for h().
 * @typedef {{ label: string, name: string, type?: string, hint?: string,
 *   multiline?: boolean } & Attrs} FieldOptions
 */

/**
 * A labelled input with a place for its error and an optional hint.
 * Returns { wrap, input, error }.
 * @overload
 * @param {FieldOptions & { multiline: true }} options
 * @returns {Field<HTMLTextAreaElement>}
 */
/**
 * @overload
 * @param {FieldOptions & { multiline?: false }} options
 * @returns {Field<HTMLInputElement>}
 */
/**
 * @param {FieldOptions} options
 * @returns {Field}
 */
export function field({ label, name, type = "text", hint, multiline = false, ...attrs }) {
  const id = newId(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  /** @type {HTMLInputElement | HTMLTextAreaElement} */
  const control = multiline
    ? h("textarea", { id, name, ...attrs })
    : h("input", { id, name, type, ...attrs });
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const wrap = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    control,
    error,
  );
  return { wrap, input: control, error };
}

/**
 * A password field with a "Show" toggle.
 * @param {FieldOptions & { multiline?: false }} options
 * @returns {Field<HTMLInputElement>}
 */
export function passwordField(options) {
  const f = field({ type: "password", spellcheck: "false", ...options });
  const toggle = h("button", {
    type: "button",
    class: "reveal",
    "aria-pressed": "false",
    "aria-label": `Show ${options.label.toLowerCase()}`,
    text: "Show",
  });
  toggle.addEventListener("click", () => {
    const showing = f.input.type === "text";
    f.input.type = showing ? "password" : "text";
    toggle.textContent = showing ? "Show" : "Hide";
    toggle.setAttribute("aria-pressed", String(!showing));
  });
  const row = h("div", { class: "with-button" });
  f.input.replaceWith(row);
  row.append(f.input, toggle);
  return f;
}

/**
 * @param {Field} f
 * @param {string | null | undefined} message nothing clears the error
 */
export function setFieldError(f, message) {
  if (message) {
    f.error.textContent = message;
    f.error.hidden = false;
    f.input.setAttribute("aria-invalid", "true");
  } else {
    f.error.textContent = "";
    f.error.hidden = true;
    f.input.removeAttribute("aria-invalid");
  }
}

/**
 * Show an error: field errors next to their fields (by API field name), the rest
 * in the form's message area. Focuses the first field in error, if any.
 * fields: { apiName: fieldObject }, area: element for form-level messages.
 * @param {Problem} err
 * @param {Record<string, Field>} fields
 * @param {HTMLElement} area
 */
export function showError(err, fields, area) {
  for (const f of Object.values(fields)) setFieldError(f, "");
  /** @type {Field | null} */
  let first = null;
  const unplaced = [];
  for (const { field: name, message } of err.fields || []) {
    const f = fields[name];
    if (f) {
      setFieldError(f, message);
      first = first || f;
    } else unplaced.push(message);
  }
  if (first) {
    showMessage(area, null);
    first.input.focus();
    if (unplaced.length) showMessage(area, unplaced.join(" "), "error");
    return;
  }
  if (err.status === 429 && err.retryAfter) {
    countdown(area, err.retryAfter);
  } else {
    showMessage(area, err.message, "error");
  }
}

/**
 * Put a message (or nothing) in a form's message area.
 * @param {HTMLElement} area
 * @param {string | null | undefined} message
 * @param {NoticeKind} [kind]
 */
export function showMessage(area, message, kind = "error") {
  clear(area);
  if (message) area.append(notice(message, kind));
}

/**
 * "Too many attempts. Please wait 42 seconds": counts down, then invites a retry.
 * @param {HTMLElement} area
 * @param {number} secondsLeft
 */
export function countdown(area, secondsLeft) {
  let left = secondsLeft;
  const text = h("p", {});
  const box = h("div", { class: "notice notice-warning", role: "alert" }, text);
  const render = () => {
    text.textContent =
      left > 0
        ? `Too many attempts. Please wait ${left} second${left === 1 ? "" : "s"} before trying again.`
        : "You can try again now.";
  };
  render();
  clear(area).append(box);
  const timer = setInterval(() => {
    left -= 1;
    if (!box.isConnected) return clearInterval(timer);
    if (left <= 0) {
      clearInterval(timer);
      box.className = "notice notice-info";
      box.setAttribute("role", "status");
    }
    render();
  }, 1000);
}

// -- dialog -----------------------------------------------------------------------------------

/**
 * Ask before something that cannot be undone. Resolves true if confirmed.
 * @param {{ title: string, message: string, confirm?: string, danger?: boolean }} question
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, message, confirm = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = newId("dialog-title");
    const ok = h("button", { type: "button", class: danger ? "danger" : "primary" }, confirm);
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, message),
      h("div", { class: "actions" }, cancel, ok),
    );
    // Whatever had focus (an HTML or SVG element: both can take it back).
    const opener = /** @type {HTMLElement | null} */ (document.activeElement);
    /** @param {boolean} answer */
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    ok.addEventListener("click", () => close(true));
    cancel.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// -- formatting -----------------------------------------------------------------------------

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

/** @param {string} iso a date and time as the API writes it */
export function timeElement(iso) {
  const date = new Date(iso);
  return h("time", { datetime: date.toISOString() }, dateFormat.format(date));
}

export const clockTime = (date = new Date()) => timeFormat.format(date);

/** @param {number} totalSeconds */
export function duration(totalSeconds) {
  const s = Math.floor(totalSeconds);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}
