// @ts-check
// The list of notes, newest first: pages of PAGE_SIZE with "Load more" for older ones,
// editing in place, deleting after a confirmation, and a status line that says how
// many are shown.

import * as api from "../../api.js";
import { announce, busy, clear, confirmAction, h, newId, notice, showMessage } from "../../ui.js";
import { editForm } from "./form.js";
import { drawNote } from "./item.js";

/** @typedef {import("../../api.js").Note} Note */

export const PAGE_SIZE = 10;

/**
 * The "Notes" section. `focusElsewhere()` takes focus when the last note is deleted.
 * add(note) puts a new note on top; load() fetches the next page (the first, at first).
 * @param {{ focusElsewhere: () => void }} options
 * @returns {{ section: HTMLElement, add: (note: Note) => void, load: () => Promise<number> }}
 */
export function noteList({ focusElsewhere }) {
  /** @type {string | null} */
  let cursor = null;
  /** @type {Set<number>} */
  const shown = new Set();

  const heading = newId("list-heading");
  const list = h("ul", { class: "note-list", "aria-labelledby": heading });
  const status = h("p", { class: "list-status", role: "status" }, "Loading your notes…");
  const messages = h("div", { class: "form-messages" });
  const empty = h(
    "div",
    { class: "empty", hidden: true },
    h("p", { class: "empty-title" }, "No notes yet"),
    h("p", {}, "Write your first note above; it will appear here."),
  );
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more notes");

  function updateStatus() {
    const n = list.children.length;
    empty.hidden = n > 0 || cursor !== null;
    status.textContent =
      n === 0 ? "" : `${n} note${n === 1 ? "" : "s"} shown${cursor ? "; older notes are below the list" : ""}.`;
    status.hidden = n === 0;
    more.hidden = cursor === null;
  }

  /** @param {Element | null} next */
  function focusAfterRemoval(next) {
    const target = next && next.querySelector("button");
    if (target) target.focus();
    else focusElsewhere();
  }

  /**
   * @param {HTMLLIElement} li
   * @param {Note} note
   */
  function show(li, note) {
    return drawNote(li, note, {
      edit: () => edit(li, note),
      remove: (button) => remove(li, note, button),
    });
  }

  /** @param {Note} note */
  function item(note) {
    shown.add(note.id);
    const li = h("li", { class: "note card", dataset: { id: note.id } });
    show(li, note);
    return li;
  }

  /**
   * @param {HTMLLIElement} li
   * @param {Note} note
   */
  function edit(li, note) {
    const editor = editForm(note, (current) => show(li, current).focus());
    clear(li).append(editor.form);
    editor.focus();
  }

  /**
   * @param {HTMLLIElement} li
   * @param {Note} note
   * @param {HTMLButtonElement} button
   */
  async function remove(li, note, button) {
    const ok = await confirmAction({
      title: "Delete this note?",
      message: `“${note.title}” will be deleted for good. This cannot be undone.`,
      confirm: "Delete note",
      danger: true,
    });
    if (!ok) return;
    await busy(button, "Deleting…", async () => {
      try {
        await api.deleteNote(note.id);
      } catch (caught) {
        const err = api.apiError(caught);
        if (err.status !== 404) {
          showMessage(messages, err.message, "error");
          return;
        }
      }
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      shown.delete(note.id);
      updateStatus();
      announce("Note deleted.");
      focusAfterRemoval(next);
    });
  }

  /** @returns {Promise<number>} how many notes the page had */
  async function load() {
    showMessage(messages, null);
    try {
      const page = await api.listNotes(PAGE_SIZE, cursor);
      for (const note of page.items) {
        if (!shown.has(note.id)) list.append(item(note));
      }
      cursor = page.next_cursor;
      updateStatus();
      return page.items.length;
    } catch (caught) {
      const err = api.apiError(caught);
      if (err.status === 401) return 0; // the session ended; the router shows sign-in
      const retry = h("button", { type: "button", class: "secondary small" }, "Try again");
      retry.addEventListener("click", () => busy(retry, "Loading…", load));
      status.hidden = true;
      clear(messages).append(notice(`Your notes could not be loaded. ${err.message}`, "error", retry));
      return 0;
    }
  }

  more.addEventListener("click", async () => {
    const before = list.children.length;
    const added = await busy(more, "Loading…", load);
    const first = list.children[before];
    if (added && first) first.querySelector("button")?.focus();
  });

  /** @param {Note} note */
  function add(note) {
    const li = item(note);
    li.classList.add("is-new");
    list.prepend(li);
    updateStatus();
  }

  const section = h(
    "section",
    { class: "notes", "aria-labelledby": heading },
    h("h2", { id: heading }, "Notes"),
    status,
    messages,
    empty,
    list,
    h("div", { class: "more" }, more),
  );
  return { section, add, load };
}
