// @ts-check
// Administration: every account, its role, and whether it may sign in.
// Only offered to users whose role is "admin"; the backend checks again on every call.

import * as api from "../api.js";
import { currentUser } from "../session.js";
import { announce, busy, clear, confirmAction, h, newId, notice, showMessage, timeElement } from "../ui.js";

const PAGE_SIZE = 25;

/** @type {import("../router.js").View} */
export function adminView(ctx) {
  // The route needs an administrator: the guard checks before this runs.
  const me = /** @type {import("../api.js").User} */ (currentUser());
  /** @type {string | null} */
  let cursor = null;
  const messages = h("div", { class: "page-messages" });
  const rows = h("tbody", {});
  const status = h("p", { class: "list-status", role: "status" }, "Loading users…");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more users");

  /** @param {import("../api.js").User} user */
  function userRow(user) {
    const self = user.id === me.id;
    const label = user.display_name ? `${user.display_name} (${user.email})` : user.email;
    const roleId = newId("role");
    const role = h(
      "select",
      { id: roleId, disabled: self, "aria-label": `Role of ${label}` },
      h("option", { value: "user", selected: user.role === "user" }, "User"),
      h("option", { value: "admin", selected: user.role === "admin" }, "Administrator"),
    );
    const state = h("span", { class: `badge ${user.disabled ? "badge-off" : "badge-on"}` }, user.disabled ? "Disabled" : "Active");
    const toggle = h("button", { type: "button", class: "small" });
    const setToggle = () => {
      toggle.textContent = user.disabled ? "Enable" : "Disable";
      toggle.className = `small ${user.disabled ? "secondary" : "danger-quiet"}`;
      toggle.setAttribute("aria-label", `${user.disabled ? "Enable" : "Disable"} ${label}`);
      state.textContent = user.disabled ? "Disabled" : "Active";
      state.className = `badge ${user.disabled ? "badge-off" : "badge-on"}`;
    };
    setToggle();

    role.addEventListener("change", async () => {
      // One of the two options above.
      const wanted = /** @type {"user" | "admin"} */ (role.value);
      role.disabled = true;
      try {
        Object.assign(user, await api.updateUser(user.id, { role: wanted }));
        showMessage(messages, `${user.email} is now ${wanted === "admin" ? "an administrator" : "a user"}.`, "success");
      } catch (err) {
        role.value = user.role;
        showMessage(messages, `The role of ${user.email} was not changed. ${api.apiError(err).message}`, "error");
      } finally {
        role.disabled = false;
      }
    });

    toggle.addEventListener("click", async () => {
      const disabling = !user.disabled;
      if (disabling) {
        const ok = await confirmAction({
          title: `Disable ${user.email}?`,
          message: "They are signed out everywhere at once and cannot sign in until you enable the account again. Their notes are kept.",
          confirm: "Disable account",
          danger: true,
        });
        if (!ok) return;
      }
      await busy(toggle, disabling ? "Disabling…" : "Enabling…", async () => {
        try {
          Object.assign(user, await api.updateUser(user.id, { disabled: disabling }));
          showMessage(messages, `${user.email} is ${user.disabled ? "disabled and signed out" : "enabled again"}.`, "success");
          announce(`${user.email} ${user.disabled ? "disabled" : "enabled"}.`);
        } catch (err) {
          showMessage(messages, `${user.email} was not changed. ${api.apiError(err).message}`, "error");
        }
      });
      setToggle();
      toggle.focus();
    });

    return h(
      "tr",
      { dataset: { email: user.email } },
      h(
        "th",
        { scope: "row", "data-label": "User" },
        h("span", { class: "user-email" }, user.email),
        self ? h("span", { class: "badge badge-you" }, "You") : null,
        user.email_verified
          ? h("span", { class: "badge badge-verified", title: "The address was confirmed" }, "Verified")
          : h("span", { class: "badge badge-unverified", title: "The address was never confirmed" }, "Not verified"),
        user.display_name ? h("span", { class: "user-name" }, user.display_name) : null,
      ),
      h("td", { "data-label": "Role" }, role),
      h("td", { "data-label": "Status" }, state),
      h("td", { "data-label": "Joined" }, timeElement(user.created_at)),
      h(
        "td",
        { "data-label": "Access", class: "cell-actions" },
        self ? h("span", { class: "muted small-text" }, "Your own account") : toggle,
      ),
    );
  }

  async function loadPage() {
    try {
      const page = await api.listUsers(PAGE_SIZE, cursor);
      for (const user of page.items) rows.append(userRow(user));
      cursor = page.next_cursor;
      const n = rows.children.length;
      status.textContent = `${n} account${n === 1 ? "" : "s"} shown${cursor ? "; more below" : ""}.`;
      more.hidden = cursor === null;
    } catch (caught) {
      const err = api.apiError(caught);
      if (err.status === 401) return;
      status.textContent = "";
      const retry = h("button", { type: "button", class: "secondary small" }, "Try again");
      retry.addEventListener("click", () => busy(retry, "Loading…", loadPage));
      clear(messages).append(notice(`The users could not be loaded. ${err.message}`, "error", retry));
    }
  }

  more.addEventListener("click", () => busy(more, "Loading…", loadPage));
  loadPage();

  const captionId = newId("users");
  return h(
    "div",
    { class: "page admin-page" },
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Users"),
      h("p", { class: "lead" }, "Change who is an administrator, and disable accounts that should no longer sign in. Disabling signs the person out everywhere at once."),
    ),
    ctx.flash,
    messages,
    h(
      "div",
      { class: "card table-card" },
      h(
        "table",
        { class: "users", "aria-describedby": captionId },
        h("caption", { id: captionId, class: "visually-hidden" }, "All accounts, oldest first"),
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Joined"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Access"))),
        ),
        rows,
      ),
    ),
    status,
    h("div", { class: "more" }, more),
  );
}
