// The dashboard: the user's notes, newest first. Create at the top, edit in
// place, delete after a confirmation, and "Load more" for older pages.

import * as api from "../api.js";
import { currentUser } from "../session.js";
import {
  announce,
  busy,
  clear,
  confirmAction,
  field,
  h,
  newId,
  notice,
  setFieldError,
  showError,
  showMessage,
  timeElement,
} from "../ui.js";

export const PAGE_SIZE = 10;

function noteFields(note = { title: "", body: "" }) {
  const title = field({
    label: "Title",
    name: "title",
    required: true,
    maxlength: 200,
    autocomplete: "off",
    value: note.title,
  });
  const body = field({
    label: "Text",
    name: "body",
    multiline: true,
    rows: 4,
    maxlength: 20000,
  });
  body.input.value = note.body;
  return { title, body };
}

function checkTitle(fields, messages) {
  if (fields.title.input.value.trim()) return true;
  showError({ fields: [{ field: "title", message: "Give the note a title." }] }, fields, messages);
  return false;
}

export function notesView(ctx) {
  const user = currentUser();
  const name = user && user.display_name ? user.display_name : "";
  let cursor = null;
  const shown = new Set();

  // -- compose --------------------------------------------------------------------------
  const compose = noteFields();
  const composeMessages = h("div", { class: "form-messages" });
  const add = h("button", { type: "submit", class: "primary" }, "Add note");
  const composeHeading = newId("compose-heading");
  const composeForm = h(
    "form",
    { class: "card compose", novalidate: true, "aria-labelledby": composeHeading },
    h("h2", { id: composeHeading }, "New note"),
    compose.title.wrap,
    compose.body.wrap,
    composeMessages,
    h("div", { class: "actions" }, add),
  );

  // -- list -------------------------------------------------------------------------------
  const listHeading = newId("list-heading");
  const list = h("ul", { class: "note-list", "aria-labelledby": listHeading });
  const listStatus = h("p", { class: "list-status", role: "status" }, "Loading your notes…");
  const listMessages = h("div", { class: "form-messages" });
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
    listStatus.textContent =
      n === 0 ? "" : `${n} note${n === 1 ? "" : "s"} shown${cursor ? "; older notes are below the list" : ""}.`;
    listStatus.hidden = n === 0;
    more.hidden = cursor === null;
  }

  function focusAfterRemoval(next) {
    const target = next && next.querySelector("button");
    (target || compose.title.input).focus();
  }

  function showNote(li, note) {
    const edited = note.updated_at !== note.created_at;
    const edit = h("button", { type: "button", class: "secondary small" }, "Edit");
    const remove = h("button", { type: "button", class: "danger-quiet small" }, "Delete");
    edit.setAttribute("aria-label", `Edit “${note.title}”`);
    remove.setAttribute("aria-label", `Delete “${note.title}”`);
    edit.addEventListener("click", () => editNote(li, note));
    remove.addEventListener("click", () => deleteNote(li, note, remove));
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

  function noteItem(note) {
    shown.add(note.id);
    const li = h("li", { class: "note card", dataset: { id: note.id } });
    showNote(li, note);
    return li;
  }

  function editNote(li, note) {
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
    const close = (current) => showNote(li, current).focus();
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
          showError(err, fields, messages);
        }
      });
    });
    clear(li).append(form);
    fields.title.input.focus();
  }

  async function deleteNote(li, note, button) {
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
      } catch (err) {
        if (err.status !== 404) {
          showMessage(listMessages, err.message, "error");
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

  async function loadPage() {
    showMessage(listMessages, null);
    try {
      const page = await api.listNotes(PAGE_SIZE, cursor);
      for (const note of page.items) {
        if (!shown.has(note.id)) list.append(noteItem(note));
      }
      cursor = page.next_cursor;
      updateStatus();
      return page.items.length;
    } catch (err) {
      if (err.status === 401) return 0; // the session ended; the router shows sign-in
      const retry = h("button", { type: "button", class: "secondary small" }, "Try again");
      retry.addEventListener("click", () => busy(retry, "Loading…", loadPage));
      listStatus.hidden = true;
      clear(listMessages).append(notice(`Your notes could not be loaded. ${err.message}`, "error", retry));
      return 0;
    }
  }

  more.addEventListener("click", async () => {
    const before = list.children.length;
    const added = await busy(more, "Loading…", loadPage);
    const first = list.children[before];
    if (added && first) first.querySelector("button").focus();
  });

  composeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkTitle(compose, composeMessages)) return;
    setFieldError(compose.title, "");
    showMessage(composeMessages, null);
    await busy(add, "Adding…", async () => {
      try {
        const note = await api.createNote(compose.title.input.value.trim(), compose.body.input.value);
        const li = noteItem(note);
        li.classList.add("is-new");
        list.prepend(li);
        compose.title.input.value = "";
        compose.body.input.value = "";
        updateStatus();
        announce(`Note “${note.title}” added.`);
        compose.title.input.focus();
      } catch (err) {
        showError(err, compose, composeMessages);
      }
    });
  });

  loadPage();

  return h(
    "div",
    { class: "page notes-page" },
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, name ? `${name}’s notes` : "Your notes"),
      h("p", { class: "lead" }, "Jot something down; only you can see your notes."),
    ),
    ctx.flash,
    composeForm,
    h(
      "section",
      { class: "notes", "aria-labelledby": listHeading },
      h("h2", { id: listHeading }, "Notes"),
      listStatus,
      listMessages,
      empty,
      list,
      h("div", { class: "more" }, more),
    ),
  );
}
