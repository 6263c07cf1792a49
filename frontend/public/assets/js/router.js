// @ts-check
// The router: real paths (/notes, /account …) through the History API; nginx
// answers every unknown path with index.html, so a reload or a bookmark works.
// After each navigation the page title changes and focus moves to the new
// view's heading, so keyboard and screen-reader users know where they are.

import { byId, clear, takeFlash } from "./ui.js";

/**
 * What a view gets: the path, its query, the flash message waiting for it (the view
 * places it, or it goes on top), and onLeave(fn) to run fn when the user navigates away.
 * @typedef {{ path: string, query: URLSearchParams, flash: HTMLElement | null,
 *   onLeave: (fn: () => void) => void }} ViewContext
 * @typedef {(ctx: ViewContext) => HTMLElement} View
 * @typedef {{ title?: string, auth?: boolean, admin?: boolean, guest?: boolean,
 *   open?: boolean }} RouteOptions
 * @typedef {{ path: string, view: View } & RouteOptions} Route
 * @typedef {null | { redirect: string } | { view: View, title: string }} GuardOutcome
 * @typedef {(route: Route, where: Location) => Promise<GuardOutcome>} Guard
 */

/** @type {Map<string, Route>} */
const routes = new Map();
/** @type {Guard} */
let guard = async () => null;
/** @type {(path: string) => void} */
let afterRender = () => {};
/** @type {(() => void)[]} */
let cleanups = [];
let generation = 0;

/**
 * Register a view. options: title, auth (needs a session), admin (needs the admin
 * role), guest (only when signed out), open (render without waiting for the session).
 * The view is fn(ctx) returning an element; ctx = { query, path, flash, onLeave }.
 * @param {string} path a path, or "*" for every other one
 * @param {View} view
 * @param {RouteOptions} [options]
 */
export function define(path, view, options = {}) {
  routes.set(path, { path, view, ...options });
}

/**
 * guardFn(route, location) resolves to null, { redirect: "/path" } or { view, title }.
 * @param {Guard} guardFn
 */
export function setGuard(guardFn) {
  guard = guardFn;
}

/** @param {(path: string) => void} fn runs after every render */
export function onRender(fn) {
  afterRender = fn;
}

/**
 * @param {string} to
 * @param {{ replace?: boolean }} [options]
 */
export function navigate(to, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  return render();
}

/** Render the current location again (e.g. after signing out). */
export function refresh() {
  return render();
}

export function currentPath() {
  return location.pathname;
}

/** @param {MouseEvent} event */
function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (!(event.target instanceof Element)) return;
  const link = event.target.closest("a[href]");
  if (!(link instanceof HTMLAnchorElement) || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api")) return;
  if (url.hash && url.pathname === location.pathname) return; // in-page anchors (skip link)
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export function start() {
  document.addEventListener("click", onLinkClick);
  window.addEventListener("popstate", () => render());
  return render({ initial: true });
}

/**
 * @param {{ initial?: boolean }} [options]
 * @returns {Promise<void>}
 */
async function render({ initial = false } = {}) {
  const mine = ++generation;
  for (const fn of cleanups) fn();
  cleanups = [];

  let route = routes.get(location.pathname) || routes.get("*");
  if (!route) throw new Error(`No route for ${location.pathname} and no "*" route.`);
  const outcome = await guard(route, location);
  if (mine !== generation) return; // a newer navigation won
  if (outcome && "redirect" in outcome) {
    history.replaceState(null, "", outcome.redirect);
    return render({ initial });
  }
  if (outcome && "view" in outcome) route = { ...route, ...outcome };

  const root = clear(byId("view"));
  /** @type {ViewContext} */
  const ctx = {
    path: location.pathname,
    query: new URLSearchParams(location.search),
    flash: takeFlash(),
    onLeave: (fn) => cleanups.push(fn),
  };
  const content = route.view(ctx);
  root.append(content);
  if (ctx.flash && !ctx.flash.isConnected) root.prepend(ctx.flash);
  document.title = route.title ? `${route.title} · Main Platform` : "Main Platform";
  afterRender(location.pathname);

  if (!initial) {
    const heading = root.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
}
