"""The single-page app in headless Chromium, served by nginx with the project's
fragment and talking to the real backend. Screenshots go to tests/artifacts/browser/."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.backend.fake_idp import FakeIdP
from tests.browser.conftest import ContextFactory
from tests.support import (
    STRONG_PASSWORD,
    Services,
    backend_env,
    make_admin,
    start_backend,
    stop_process,
)
from tests.support.browser import screenshot
from tests.support.users import api_notes, api_register, api_token
from tests.support.web import nginx_running

NEW_PASSWORD = "a quieter horse grazes at dawn"


def sign_in(page: Page, email: str, password: str = STRONG_PASSWORD) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/notes$"))
    expect(page.locator(".list-status:not([hidden]), .empty:not([hidden])")).to_be_visible()


def add_note(page: Page, title: str, body: str) -> None:
    compose = page.get_by_role("form", name="New note")
    compose.get_by_label("Title").fill(title)
    compose.get_by_label("Text").fill(body)
    compose.get_by_role("button", name="Add note").click()
    expect(page.locator(".note-list > li").first).to_contain_text(title)


def test_register_write_notes_paginate_reload_and_sign_out(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    context, watch = new_context(app)
    page = context.new_page()
    page.goto("/register")
    # The rules are on screen before anything is typed or sent.
    expect(page.get_by_text("At least 12 characters")).to_be_visible()
    expect(page.get_by_text("Not a commonly used password")).to_be_visible()
    screenshot(page, "01-register")

    email = "ada@example.org"
    page.get_by_label("E-mail address").fill(email)
    password = page.get_by_label("Password", exact=True)
    password.fill("abcdefghijklmnop")
    expect(page.locator(".rule.is-unmet")).to_contain_text("a run like")
    # The backend refuses it; its reason appears under the password field.
    watch.expect(422, "/api/auth/register")
    page.get_by_role("button", name="Create account").click()
    error = page.locator(".field-error:not([hidden])")
    expect(error).to_have_text("This password is a simple sequence; choose another.")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_be_focused()
    screenshot(page, "02-register-refused")

    password.fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{app}/notes")
    expect(page.get_by_text("No notes yet")).to_be_visible()
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()
    screenshot(page, "03-notes-empty")

    # Create, edit, delete.
    add_note(page, "Groceries", "Milk\nBread")
    add_note(page, "Ideas", "Write a calm frontend")
    notes = page.locator(".note-list > li")
    expect(notes).to_have_count(2)
    expect(page.get_by_text("No notes yet")).to_be_hidden()
    expect(notes.first).to_contain_text("Ideas")

    page.get_by_role("button", name="Edit “Groceries”").click()
    editor = page.get_by_role("form", name="Edit “Groceries”")
    expect(editor.get_by_label("Title")).to_be_focused()
    editor.get_by_label("Title").fill("Groceries for Sunday")
    editor.get_by_label("Text").fill("Milk\nBread\nApples")
    editor.get_by_role("button", name="Save").click()
    edited = notes.filter(has_text="Groceries for Sunday")
    expect(edited).to_contain_text("Apples")
    expect(edited).to_contain_text("Edited")
    expect(page.get_by_role("button", name="Edit “Groceries for Sunday”")).to_be_focused()

    page.get_by_role("button", name="Delete “Ideas”").click()
    dialog = page.get_by_role("dialog", name="Delete this note?")
    expect(dialog).to_be_visible()
    screenshot(page, "04-notes-delete-confirm", full_page=False)
    dialog.get_by_role("button", name="Delete note").click()
    expect(dialog).to_have_count(0)
    expect(notes).to_have_count(1)

    # Eleven more notes (written elsewhere), then a reload: still signed in, paginated.
    api_notes(backend_url, api_token(backend_url, email), [f"Note {i:02d}" for i in range(1, 12)])
    page.reload()
    expect(page).to_have_url(f"{app}/notes")
    expect(notes).to_have_count(10)
    expect(notes.first).to_contain_text("Note 11")
    more = page.get_by_role("button", name="Load more notes")
    more.click()
    expect(notes).to_have_count(12)
    expect(more).to_be_hidden()
    expect(notes.last).to_contain_text("Groceries for Sunday")
    expect(page.get_by_text("12 notes shown.")).to_be_visible()
    screenshot(page, "05-notes")

    # The account view, then sign out.
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_focused()
    expect(page).to_have_title("Account · Main Platform")
    screenshot(page, "06-account")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(f"{app}/sign-in")
    expect(page.get_by_text("You are signed out on this device.")).to_be_visible()
    expect(page.get_by_role("link", name="Notes")).to_have_count(0)

    # A protected view sends to sign-in, and back after signing in.
    page.goto("/account")
    expect(page).to_have_url(f"{app}/sign-in?next=%2Faccount")
    expect(page.get_by_text("Please sign in to continue.")).to_be_visible()
    screenshot(page, "07-sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    expect(page).to_have_url(f"{app}/account")
    expect(page.locator(".account-email").first).to_have_text(email)

    # An address that is no page of the app.
    page.goto("/no/such/page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page).to_have_title("Page not found · Main Platform")
    screenshot(page, "24-not-found")


def test_wrong_password_and_empty_fields(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    api_register(backend_url, "bob@example.org")
    context, watch = new_context(app)
    page = context.new_page()
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("Enter your e-mail address.")).to_be_visible()
    expect(page.get_by_text("Enter your password.")).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_be_focused()
    assert "/api/auth/login" not in watch.request_paths()  # checked here, nothing sent

    watch.expect(401, "/api/auth/login")
    page.get_by_label("E-mail address").fill("bob@example.org")
    page.get_by_label("Password", exact=True).fill("not my password at all")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".notice-error")).to_have_text("Wrong e-mail address or password.")
    expect(page.get_by_text("Enter your password.")).to_be_hidden()
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_value("")
    expect(password).to_be_focused()
    expect(page).to_have_url(f"{app}/sign-in")
    screenshot(page, "08-sign-in-wrong-password")


def test_rate_limit_says_how_long_to_wait(services: Services, new_context: ContextFactory) -> None:
    services.reset()
    proc, url = start_backend(backend_env(services, RATE_LIMIT_LOGIN_ACCOUNT="3/minute"))
    try:
        api_register(url, "carol@example.org")
        with nginx_running(api_upstream=url) as own:
            context, watch = new_context(own.url)
            watch.expect(401, "/api/auth/login")
            watch.expect(429, "/api/auth/login")
            page = context.new_page()
            page.goto("/sign-in")
            page.get_by_label("E-mail address").fill("carol@example.org")
            statuses = []
            for _ in range(4):
                page.get_by_label("Password", exact=True).fill("wrong password, again")
                with page.expect_response("**/api/auth/login") as answer:
                    page.get_by_role("button", name="Sign in", exact=True).click()
                statuses.append(answer.value.status)
            assert statuses == [401, 401, 401, 429]
            warning = page.locator(".notice-warning")
            expect(warning).to_have_text(
                re.compile(
                    r"Too many attempts\. Please wait \d{1,2} seconds? before trying again\."
                )
            )
            screenshot(page, "09-sign-in-rate-limited")
    finally:
        stop_process(proc)


def test_changing_the_password_ends_the_other_browsers_session(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    email = "dan@example.org"
    api_register(backend_url, email)
    here, _ = new_context(app)
    there, there_watch = new_context(app)
    a = here.new_page()
    b = there.new_page()
    sign_in(a, email)
    sign_in(b, email)

    a.get_by_role("link", name="Account").click()
    form = a.get_by_role("form", name="Change password")
    form.get_by_label("Current password", exact=True).fill(STRONG_PASSWORD)
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    expect(form.locator(".rule.is-met")).to_have_count(3)
    form.get_by_role("button", name="Change password").click()
    expect(form.locator(".notice-success")).to_contain_text("signed out on your other devices")
    expect(form.get_by_label("New password", exact=True)).to_have_value("")
    screenshot(a, "10-account-password-changed")

    # The other browser learns on its next request: one refresh, refused, then sign-in.
    there_watch.expect(401, "/api/notes")
    b.get_by_role("link", name="Notes").click()
    expect(b).to_have_url(re.compile(r"/sign-in\?next=%2Fnotes$"))
    expect(
        b.get_by_text(re.compile(r"^Your session has ended: .* Please sign in again\.$"))
    ).to_be_visible()
    expect(b.get_by_label("E-mail address")).to_have_value(email)
    screenshot(b, "11-other-browser-signed-out")

    # This browser stays signed in, across a reload too.
    a.reload()
    expect(a).to_have_url(f"{app}/account")
    expect(a.get_by_role("heading", name="Your account")).to_be_visible()

    # The old password no longer works; the new one does.
    sign_in(b, email, NEW_PASSWORD)


def test_admin_sees_the_admin_view_and_a_user_does_not(
    app: str, new_context: ContextFactory, backend_url: str, services: Services
) -> None:
    admin_id = api_register(backend_url, "root@example.org")
    make_admin(services, admin_id)
    api_register(backend_url, "eve@example.org")
    api_register(backend_url, "frank@example.org")

    # A normal user: no link, and the page itself says it is for admins.
    user_ctx, user_watch = new_context(app)
    eve = user_ctx.new_page()
    sign_in(eve, "eve@example.org")
    expect(eve.get_by_role("link", name="Users")).to_have_count(0)
    eve.goto("/admin")
    expect(eve.get_by_role("heading", name="For administrators only")).to_be_visible()
    assert not [p for p in user_watch.request_paths() if p.startswith("/api/admin")]
    screenshot(eve, "12-admin-refused-for-user")
    eve.get_by_role("link", name="Back to your notes").click()
    expect(eve).to_have_url(f"{app}/notes")

    # The admin.
    admin_ctx, _ = new_context(app)
    page = admin_ctx.new_page()
    sign_in(page, "root@example.org")
    page.get_by_role("link", name="Users").click()
    expect(page).to_have_url(f"{app}/admin")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    own = rows.filter(has_text="root@example.org")
    expect(own.get_by_text("You", exact=True)).to_be_visible()
    expect(own.get_by_role("combobox")).to_be_disabled()
    expect(own.get_by_role("button")).to_have_count(0)
    expect(own).to_contain_text("Your own account")
    screenshot(page, "13-admin")

    page.get_by_label("Role of frank@example.org").select_option("admin")
    expect(page.locator(".notice-success")).to_have_text(
        "frank@example.org is now an administrator."
    )

    eve_row = rows.filter(has_text="eve@example.org")
    eve_row.get_by_role("button", name="Disable eve@example.org").click()
    dialog = page.get_by_role("dialog", name="Disable eve@example.org?")
    dialog.get_by_role("button", name="Disable account").click()
    expect(eve_row.get_by_text("Disabled", exact=True)).to_be_visible()
    expect(eve_row.get_by_role("button", name="Enable eve@example.org")).to_be_focused()
    screenshot(page, "14-admin-after-changes")

    # Eve's open page loses its session at the next request; she cannot sign in again.
    user_watch.expect(401, "/api/notes")
    user_watch.expect(403, "/api/auth/login")
    eve.get_by_role("link", name="Account").click()
    eve.get_by_role("link", name="Notes").click()
    expect(eve).to_have_url(re.compile(r"/sign-in"))
    eve.get_by_label("E-mail address").fill("eve@example.org")
    eve.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    eve.get_by_role("button", name="Sign in", exact=True).click()
    expect(eve.locator(".notice-error")).to_have_text("This account is disabled.")

    # The new admin sees the admin view after signing in.
    frank_ctx, _ = new_context(app)
    frank = frank_ctx.new_page()
    sign_in(frank, "frank@example.org")
    expect(frank.get_by_role("link", name="Users")).to_be_visible()


def test_status_view_shows_the_api_down_when_the_backend_stops(
    services: Services, new_context: ContextFactory
) -> None:
    proc, url = start_backend(backend_env(services))
    try:
        with nginx_running(api_upstream=url) as own:
            context, watch = new_context(own.url)
            page = context.new_page()
            page.goto("/status")
            summary = page.locator(".summary")
            expect(summary).to_have_text("All systems are working.")
            tiles = page.locator(".tile")
            expect(tiles.nth(0)).to_contain_text("Up")
            expect(tiles.nth(1)).to_contain_text("Working")
            expect(tiles.nth(2)).to_contain_text("Working")
            expect(tiles.nth(3)).to_contain_text(re.compile(r"\d+\.\d+"))
            screenshot(page, "15-status")

            stop_process(proc)
            # nginx answers 502 for the stopped backend; Chromium logs each as an error.
            for path in ("/api/health", "/api/auth/refresh"):
                watch.expect(502, path)
            page.get_by_role("button", name="Check now").click()
            expect(summary).to_contain_text("The API is down")
            expect(tiles.nth(0)).to_contain_text("Down")
            expect(tiles.nth(0)).to_contain_text("The server did not answer (HTTP 502).")
            expect(tiles.nth(1)).to_contain_text("Unknown")
            screenshot(page, "16-status-api-down")

            page.reload()
            expect(summary).to_contain_text("The API is down")
            page.goto("/notes")
            expect(page.get_by_role("heading", name=re.compile("reach the server"))).to_be_visible()
            screenshot(page, "17-unreachable")
    finally:
        stop_process(proc)


def test_reused_refresh_token_ends_the_session_for_safety(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    api_register(backend_url, "gina@example.org")
    context, _ = new_context(app)
    page = context.new_page()
    sign_in(page, "gina@example.org")
    (old,) = [c for c in context.cookies() if c["name"] == "mp_refresh"]
    assert old["httpOnly"] and old["sameSite"] == "Strict" and old["path"] == "/api/auth"

    for _ in range(2):  # rotated twice: the first token is now an old one, not the last
        with page.expect_response("**/api/auth/refresh") as rotated:
            page.reload()
        assert rotated.value.status == 200
        expect(page.get_by_role("heading", name="Your notes")).to_be_visible()

    # Someone replays the old (already used) refresh token.
    context.add_cookies([old])
    page.reload()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fnotes$"))
    expect(page.locator(".notice-error")).to_contain_text("Your session was ended for safety")
    screenshot(page, "18-sign-in-ended-for-safety")


def test_token_stays_in_memory_is_refreshed_before_expiry_and_a_401_is_retried_once(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    api_register(backend_url, "hal@example.org")
    context, watch = new_context(app)
    page = context.new_page()
    page.clock.install()
    sign_in(page, "hal@example.org")
    # The form's limits have arrived (GET /api/openapi.json): fast-forwarding the clock
    # below would otherwise time that request out, and the next notes view ask again.
    title = page.get_by_role("form", name="New note").get_by_label("Title")
    expect(title).to_have_attribute("maxlength", re.compile(r"^\d+$"))
    stored = page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie, indexedDB ? 1 : 0]"
    )
    assert stored[:3] == [0, 0, ""]  # the refresh cookie is HttpOnly, the token in memory

    # The access token lives 900 s; a minute before that, the app refreshes it.
    with page.expect_response("**/api/auth/refresh") as early:
        page.clock.fast_forward("14:01")
    assert early.value.status == 200

    # One 401 (forced here): one refresh, one retry, and the notes still load.
    refused: list[str] = []

    def once_unauthorized(route: Any) -> None:
        if not refused:
            refused.append(route.request.url)
            route.fulfill(
                status=401,
                content_type="application/json",
                body='{"error":{"code":"invalid_token","message":"expired"}}',
            )
        else:
            route.continue_()

    watch.expect(401, "/api/notes")
    page.route("**/api/notes?*", once_unauthorized)
    start = len(watch.request_paths())
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Notes").click()
    expect(page.get_by_text("No notes yet")).to_be_visible()
    after = [p for p in watch.request_paths()[start:] if p.startswith("/api/")]
    assert after == ["/api/notes", "/api/auth/refresh", "/api/notes"], after
    assert refused


def test_phone_width_dark_mode(
    app: str, new_context: ContextFactory, backend_url: str, services: Services
) -> None:
    email = "ivy.long-address-for-a-phone@example.org"
    user_id = api_register(backend_url, email)
    make_admin(services, user_id)
    api_register(backend_url, "jo@example.org")
    api_notes(
        backend_url,
        api_token(backend_url, email),
        ["Call the plumber", "A note with a long title that has to wrap on a small screen"],
    )
    context, _ = new_context(
        app, viewport={"width": 390, "height": 844}, color_scheme="dark", has_touch=True
    )
    page = context.new_page()
    page.goto("/sign-in")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 21, 27)"  # the dark palette
    screenshot(page, "19-phone-sign-in-dark")
    sign_in(page, email)
    expect(page.locator(".note-list > li")).to_have_count(2)

    def no_sideways_scroll() -> None:
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), (
            "the page scrolls sideways"
        )

    no_sideways_scroll()
    screenshot(page, "20-phone-notes-dark")
    for link, name in (
        ("Account", "21-phone-account-dark"),
        ("Users", "22-phone-admin-dark"),
        ("Status", "23-phone-status-dark"),
    ):
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_be_focused()
        page.wait_for_load_state("networkidle")
        no_sideways_scroll()
        screenshot(page, name)


def test_keyboard_only(app: str, new_context: ContextFactory, backend_url: str) -> None:
    api_register(backend_url, "kim@example.org")
    context, _ = new_context(app)
    page = context.new_page()
    page.goto("/sign-in")
    # Keys go nowhere until the view is drawn (it first asks whether a session exists).
    expect(page.get_by_label("E-mail address")).to_be_visible()
    kb = page.keyboard
    kb.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    kb.press("Enter")
    kb.press("Tab")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    kb.type("kim@example.org")
    kb.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    kb.type(STRONG_PASSWORD)
    kb.press("Enter")
    expect(page).to_have_url(f"{app}/notes")
    expect(page.get_by_role("heading", name="Your notes")).to_be_focused()

    kb.press("Tab")
    compose = page.get_by_role("form", name="New note")
    expect(compose.get_by_label("Title")).to_be_focused()
    kb.type("Typed, not clicked")
    kb.press("Tab")
    kb.type("Every step by keyboard.")
    kb.press("Tab")
    expect(compose.get_by_role("button", name="Add note")).to_be_focused()
    kb.press("Enter")
    expect(page.locator(".note-list > li")).to_have_count(1)
    expect(compose.get_by_label("Title")).to_be_focused()

    # Delete asks first; Escape keeps the note and gives focus back.
    delete = page.get_by_role("button", name="Delete “Typed, not clicked”")
    delete.focus()
    kb.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    kb.press("Escape")
    expect(dialog).to_have_count(0)
    expect(delete).to_be_focused()
    expect(page.locator(".note-list > li")).to_have_count(1)

    # Editing: Escape cancels, focus returns to the Edit button.
    edit = page.get_by_role("button", name="Edit “Typed, not clicked”")
    edit.focus()
    kb.press("Enter")
    kb.press("Escape")
    expect(edit).to_be_focused()


def test_tabs_take_turns_to_refresh(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    """Each refresh rotates the cookie, and a second use of an old one revokes the whole
    session, so two tabs must never refresh at once: the app takes a Web Lock for it."""
    api_register(backend_url, "lee@example.org")
    context, _ = new_context(app)
    first = context.new_page()
    sign_in(first, "lee@example.org")
    second = context.new_page()
    refreshes: list[str] = []
    second.on(
        "request",
        lambda r: refreshes.append(r.url) if r.url.endswith("/api/auth/refresh") else None,
    )

    # While the first tab holds the lock, the second one waits before refreshing ...
    first.evaluate(
        "() => new Promise(held => navigator.locks.request('mainplatform-refresh',"
        " () => new Promise(release => { window.releaseRefreshLock = release; held(); })))"
    )
    second.goto("/notes", wait_until="domcontentloaded")
    expect(second.locator(".loading")).to_be_visible()
    second.wait_for_timeout(500)
    assert refreshes == []
    # ... and goes ahead once it is free, with the cookie as the first tab left it.
    first.evaluate("() => window.releaseRefreshLock()")
    expect(second.get_by_role("heading", name="Your notes")).to_be_visible()
    assert len(refreshes) == 1
    first.reload()
    expect(first.get_by_role("heading", name="Your notes")).to_be_visible()


def test_sign_in_with_the_identity_provider(
    services: Services, new_context: ContextFactory
) -> None:
    services.reset()
    with FakeIdP("mainplatform", "client-secret-for-tests") as idp:
        proc, url = start_backend(
            backend_env(
                services,
                OIDC_ISSUER=idp.url,
                OIDC_CLIENT_ID=idp.client_id,
                OIDC_CLIENT_SECRET=idp.client_secret,
                OIDC_NAME="Example ID",
            )
        )
        try:
            with nginx_running(api_upstream=url) as own:
                context, watch = new_context(own.url)
                watch.allow_origin(idp.url)  # the browser visits the provider, by design
                page = context.new_page()
                page.goto("/sign-in")
                provider = page.get_by_role("link", name="Sign in with Example ID")
                expect(provider).to_be_visible()
                screenshot(page, "25-sign-in-with-provider")

                idp.user = {
                    "sub": "idp-7",
                    "email": "olga@example.org",
                    "email_verified": True,
                    "name": "Olga",
                }
                provider.click()
                expect(page).to_have_url(f"{own.url}/notes")
                expect(page.get_by_role("heading", name="Olga’s notes")).to_be_visible()  # noqa: RUF001
                page.get_by_role("link", name="Account").click()
                page.get_by_role("button", name="Sign out", exact=True).click()

                # A refusal comes back to the sign-in page with the reason.
                idp.user = {"sub": "idp-8", "email": "pat@example.org", "email_verified": False}
                page.get_by_role("link", name="Sign in with Example ID").click()
                expect(page).to_have_url(f"{own.url}/sign-in?error=oidc_email_not_verified")
                expect(page.locator(".notice-error")).to_contain_text(
                    "Your e-mail address is not verified at the identity provider"
                )
                screenshot(page, "26-sign-in-provider-refused")
        finally:
            stop_process(proc)
