// @ts-check
// The notes view's forms: "New note" at the top, and the form that edits a note in
// place. Both have the same two fields, whose maximum lengths are the backend's.

import * as api from "../../api.js";
import { limitLength, noteLimits } from "../../limits.js";
import { announce, busy, field, h, newId, setFieldError, showError, showMessage } from "../../ui.js";

/** @typedef {import("../../api.js").Note} Note */
/**
 * @typedef {{ title: import("../../ui.js").Field<HTMLInputElement>,
 *   body: import("../../ui.js").Field<HTMLTextAreaElement> }} NoteFields
 */

/**
 * The title and text fields, filled from `note`; they get their maxlength once the
 * backend's limits are known (see limits.js).
 * @param {{ title: string, body: string }} [note]
 * @returns {NoteFields}
 */
function noteFields(note = { title: "", body: "" }) {
  const title = field({
    label: "Title",
    name: "title",
    required: true,
    autocomplete: "off",
    value: note.title,
  });
  const body = field({
    label: "Text",
    name: "body",
    multiline: true,
    rows: 4,
  });
  body.input.value = note.body;
  const limits = noteLimits();
  limitLength(title.input, limits.then((l) => l.title));
  limitLength(body.input, limits.then((l) => l.body));
  return { title, body };
}

/**
 * @param {NoteFields} fields
 * @param {HTMLElement} messages
 */
function checkTitle(fields, messages) {
  if (fields.title.input.value.trim()) return true;
  showError({ fields: [{ field: "title", message: "Give the note a title." }] }, fields, messages);
  return false;
}

/**
 * The "New note" form. `onCreated(note)` puts the note the backend made into the list;
 * then the form is emptied and its title has focus again.
 * @param {(note: Note) => void} onCreated
 * @returns {{ form: HTMLFormElement, focus: () => void }}
 */
export function composeForm(onCreated) {
  const compose = noteFields();
  const messages = h("div", { class: "form-messages" });
  const add = h("button", { type: "submit", class: "primary" }, "Add note");
  const heading = newId("compose-heading");
  const form = h(
    "form",
    { class: "card compose", novalidate: true, "aria-labelledby": heading },
    h("h2", { id: heading }, "New note"),
    compose.title.wrap,
    compose.body.wrap,
    messages,
    h("div", { class: "actions" }, add),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkTitle(compose, messages)) return;
    setFieldError(compose.title, "");
    showMessage(messages, null);
    await busy(add, "Adding…", async () => {
      try {
        const note = await api.createNote(compose.title.input.value.trim(), compose.body.input.value);
        onCreated(note);
        compose.title.input.value = "";
        compose.body.input.value = "";
        announce(`Note “${note.title}” added.`);
        compose.title.input.focus();
      } catch (err) {
        showError(api.apiError(err), compose, messages);
      }
    });
  });

  return { form, focus: () => compose.title.input.focus() };
}

/**
 * The form that edits `note` in place. `close(current)` ends editing and shows the note
 * as it is now: saved (the backend's answer), or as it was (Cancel, Escape).
 * @param {Note} note
 * @param {(current: Note) => void} close
 * @returns {{ form: HTMLFormElement, focus: () => void }}
 */
export function editForm(note, close) {
  const fields = noteFields(note);
  const messages = h("div", { class: "form-messages" });
  const save = h("button", { type: "submit", class: "primary small" }, "Save");
  const cancel = h("button", { type: "button", class: "secondary small" }, "Cancel");
  const form = h(
    "form",
    { class: "note-edit", novalidate: true, "aria-label": `Edit “${note.title}”` },
    fields.title.wrap,
    fields.body.wrap,
    messages,
    h("div", { class: "actions" }, cancel, save),
  );
  cancel.addEventListener("click", () => close(note));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close(note);
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkTitle(fields, messages)) return;
    await busy(save, "Saving…", async () => {
      try {
        const updated = await api.updateNote(note.id, {
          title: fields.title.input.value.trim(),
          body: fields.body.input.value,
        });
        close(updated);
        announce("Note saved.");
      } catch (err) {
        showError(api.apiError(err), fields, messages);
      }
    });
  });
  return { form, focus: () => fields.title.input.focus() };
}
