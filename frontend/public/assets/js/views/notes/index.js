// @ts-check
// The dashboard: the user's notes, newest first. Create at the top (form.js), the
// list below (list.js) with each note drawn by item.js: edit in place, delete after
// a confirmation, and "Load more" for older pages.

import { currentUser } from "../../session.js";
import { h } from "../../ui.js";
import { composeForm } from "./form.js";
import { noteList } from "./list.js";

/** @type {import("../../router.js").View} */
export function notesView(ctx) {
  const user = currentUser();
  const name = user && user.display_name ? user.display_name : "";
  const compose = composeForm((note) => list.add(note));
  const list = noteList({ focusElsewhere: () => compose.focus() });

  list.load();

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
    compose.form,
    list.section,
  );
}
