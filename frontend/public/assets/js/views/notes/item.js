// @ts-check
// One note in the list: its title, text, when it was written or edited, and its Edit
// and Delete buttons (named after the note, for screen readers).

import { clear, h, timeElement } from "../../ui.js";

/**
 * Draw `note` into its list item, replacing what was there (e.g. the edit form).
 * Returns the Edit button, which takes focus when editing ends.
 * @param {HTMLLIElement} li
 * @param {import("../../api.js").Note} note
 * @param {{ edit: () => void, remove: (button: HTMLButtonElement) => void }} actions
 * @returns {HTMLButtonElement}
 */
export function drawNote(li, note, actions) {
  const edited = note.updated_at !== note.created_at;
  const edit = h("button", { type: "button", class: "secondary small" }, "Edit");
  const remove = h("button", { type: "button", class: "danger-quiet small" }, "Delete");
  edit.setAttribute("aria-label", `Edit “${note.title}”`);
  remove.setAttribute("aria-label", `Delete “${note.title}”`);
  edit.addEventListener("click", () => actions.edit());
  remove.addEventListener("click", () => actions.remove(remove));
  clear(li).append(
    h(
      "article",
      {},
      h("h3", { class: "note-title" }, note.title),
      note.body ? h("p", { class: "note-body" }, note.body) : null,
      h(
        "div",
        { class: "note-footer" },
        h("p", { class: "note-meta" }, edited ? "Edited " : "Written ", timeElement(edited ? note.updated_at : note.created_at)),
        h("div", { class: "actions" }, edit, remove),
      ),
    ),
  );
  return edit;
}
