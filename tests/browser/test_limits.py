"""The limits the forms show come from the backend, not from the JavaScript: the password
policy from GET /api/auth/providers (its minimum follows PASSWORD_MIN_LENGTH), the
maximum lengths of a note's title and text and of a display name from the OpenAPI
document. Forms are drawn before those answers arrive and take the limits when they do."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ContextFactory
from tests.support import STRONG_PASSWORD, Services, backend_env, start_backend, stop_process
from tests.support.browser import screenshot
from tests.support.users import api_register
from tests.support.web import nginx_running


def sign_in(page: Page, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/notes$"))


def test_limits_come_from_the_backend(services: Services, new_context: ContextFactory) -> None:
    services.reset()
    proc, url = start_backend(backend_env(services, PASSWORD_MIN_LENGTH="14"))
    try:
        with nginx_running(api_upstream=url) as own:
            context, _ = new_context(own.url)
            page = context.new_page()

            # The form is there while the policy is still on its way, and says so.
            held: list[Any] = []
            page.route("**/api/auth/providers", lambda route: held.append(route))
            page.goto("/register")
            length = page.locator('.rule[data-rule="length"]')
            expect(length).to_have_text(re.compile(r"^Long enough \(checking"))
            password = page.get_by_label("Password", exact=True)
            expect(password).to_be_editable()
            held[0].continue_()
            page.unroute("**/api/auth/providers")

            # The backend's minimum (14 here, not its default 12), and its maximum.
            expect(length).to_contain_text("At least 14 characters")
            expect(page.get_by_text("At least 12 characters")).to_have_count(0)
            password.fill("quiet meadow!")  # 13 characters
            expect(length).to_contain_text("At least 14 characters (13 so far)")
            expect(length).to_have_class(re.compile(r"\bis-unmet\b"))
            password.fill("quiet meadows!")
            expect(length).to_have_class(re.compile(r"\bis-met\b"))
            password.fill("x y z " * 43)  # 258 characters
            expect(length).to_contain_text("At most 256 characters (258 so far)")
            expect(length).to_have_class(re.compile(r"\bis-unmet\b"))
            password.fill("quiet meadow!")
            screenshot(page, "27-register-min-length-14")

            # The notes' and the display name's maximum lengths: the OpenAPI document's.
            api_register(url, "max@example.org")
            sign_in(page, "max@example.org")
            compose = page.get_by_role("form", name="New note")
            expect(compose.get_by_label("Title")).to_have_attribute("maxlength", "200")
            expect(compose.get_by_label("Text")).to_have_attribute("maxlength", "20000")
            page.get_by_role("link", name="Account").click()
            expect(page.get_by_label("Display name")).to_have_attribute("maxlength", "100")
    finally:
        stop_process(proc)


def test_maximum_lengths_follow_the_openapi_document(
    app: str, new_context: ContextFactory, backend_url: str
) -> None:
    """The same document with other numbers gives other maxlength attributes: they are
    read from it, not typed into the JavaScript."""
    api_register(backend_url, "nia@example.org")
    context, _ = new_context(app)
    page = context.new_page()

    def other_limits(route: Any) -> None:
        doc = route.fetch().json()
        schemas = doc["components"]["schemas"]
        schemas["NoteCreate"]["properties"]["title"]["maxLength"] = 42
        schemas["NoteCreate"]["properties"]["body"]["maxLength"] = 4321
        schemas["ProfileUpdate"]["properties"]["display_name"]["maxLength"] = 33
        route.fulfill(status=200, content_type="application/json", body=json.dumps(doc))

    page.route("**/api/openapi.json", other_limits)
    sign_in(page, "nia@example.org")
    compose = page.get_by_role("form", name="New note")
    expect(compose.get_by_label("Title")).to_have_attribute("maxlength", "42")
    expect(compose.get_by_label("Text")).to_have_attribute("maxlength", "4321")
    compose.get_by_label("Title").press_sequentially("x" * 50)
    expect(compose.get_by_label("Title")).to_have_value("x" * 42)
    compose.get_by_role("button", name="Add note").click()
    page.get_by_role("button", name=f"Edit “{'x' * 42}”").click()
    editor = page.get_by_role("form", name=f"Edit “{'x' * 42}”")
    expect(editor.get_by_label("Title")).to_have_attribute("maxlength", "42")
    expect(editor.get_by_label("Text")).to_have_attribute("maxlength", "4321")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_label("Display name")).to_have_attribute("maxlength", "33")
