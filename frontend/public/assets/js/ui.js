// Small DOM helpers shared by the views: building elements, messages, field
// errors, busy buttons, the progress bar and a confirmation dialog.
// Nothing here writes inline styles (the CSP forbids them): state is shown with
// classes and the `hidden` attribute.

let uid = 0;
/** A document-unique id with a readable prefix. */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * h("button", { class: "primary", type: "submit", onclick: fn }, "Save")
 * Attributes: `class`, `text`, `dataset`, on* listeners, booleans (true sets, false omits).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// -- announcements and flash messages ------------------------------------------------------

/** Say something to screen-reader users without moving focus. */
export function announce(message) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  // A fresh text node after a tick makes repeated messages heard again.
  setTimeout(() => {
    live.textContent = message;
  }, 50);
}

let pendingFlash = null;

/**
 * A message for the next view that is shown (e.g. "You are signed out").
 * With ifEmpty, an earlier message that is still waiting wins.
 */
export function flash(message, kind = "info", { ifEmpty = false } = {}) {
  if (ifEmpty && pendingFlash) return;
  pendingFlash = { message, kind };
}

/** The pending flash message as an element (or null), consumed. */
export function takeFlash() {
  if (!pendingFlash) return null;
  const { message, kind } = pendingFlash;
  pendingFlash = null;
  return notice(message, kind);
}

/** A message box. kind: info, success, error, warning. Errors are announced at once. */
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
/** Show the thin bar at the top while requests run (after 150 ms, so fast ones don't flicker). */
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

/** Mark a button busy while `work` runs; returns work's result. */
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
 * A labelled input with a place for its error and an optional hint.
 * Returns { wrap, input, error }.
 */
export function field({ label, name, type = "text", hint, multiline = false, ...attrs }) {
  const id = newId(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
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

/** A password field with a "Show" toggle. */
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
 */
export function showError(err, fields, area) {
  for (const f of Object.values(fields)) setFieldError(f, "");
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

/** Put a message (or nothing) in a form's message area. */
export function showMessage(area, message, kind = "error") {
  clear(area);
  if (message) area.append(notice(message, kind));
}

/** "Too many attempts. Please wait 42 seconds": counts down, then invites a retry. */
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

/** Ask before something that cannot be undone. Resolves true if confirmed. */
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
    const opener = document.activeElement;
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

export function timeElement(iso) {
  const date = new Date(iso);
  return h("time", { datetime: date.toISOString() }, dateFormat.format(date));
}

export const clockTime = (date = new Date()) => timeFormat.format(date);

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
