"""Recovering an account in headless Chromium, with the links read from the mails a real
SMTP server on loopback received: confirm the address after signing up, and reset a
forgotten password (which ends the sessions elsewhere)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import ContextFactory
from tests.support import (
    STRONG_PASSWORD,
    Services,
    backend_env,
    free_port,
    start_backend,
    stop_process,
)
from tests.support.browser import screenshot
from tests.support.mail import smtp_sink
from tests.support.web import nginx_running

NEW_PASSWORD = "a quieter horse grazes at dawn"


def test_verify_the_address_and_reset_a_forgotten_password(
    tools: str, services: Services, new_context: ContextFactory
) -> None:
    services.reset()
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    with smtp_sink() as sink:
        proc, url = start_backend(backend_env(services, PUBLIC_URL=site, **sink.env()))
        try:
            with nginx_running(port=port, api_upstream=url):
                context, watch = new_context(site)
                page = context.new_page()
                # Sign up; the verification mail arrives.
                page.goto("/register")
                page.get_by_label("E-mail address").fill("ada@example.org")
                page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
                page.get_by_role("button", name="Create account").click()
                expect(page).to_have_url(f"{site}/notes")
                mail = sink.wait("ada@example.org", "Confirm your e-mail address")
                link = mail.link("/verify-email")
                assert link.startswith(f"{site}/verify-email#token=")

                page.goto("/account")
                expect(page.locator(".verified-state")).to_contain_text("Not verified")
                page.goto(link)
                # The token leaves the address bar at once.
                expect(page).to_have_url(f"{site}/verify-email")
                screenshot(page, "30-verify-email")
                page.get_by_role("button", name="Confirm my e-mail address").click()
                expect(page.get_by_text("your e-mail address is confirmed")).to_be_visible()
                page.get_by_role("link", name="Back to your account").click()
                expect(page.locator(".verified-state")).to_contain_text(
                    "This address is confirmed."
                )

                # The same link again is refused, with a reason.
                watch.expect(400, "/api/auth/email/verify")
                page.goto(link)
                page.get_by_role("button", name="Confirm my e-mail address").click()
                expect(page.locator(".notice-error")).to_contain_text(
                    "invalid, expired or already used"
                )

                # Another browser forgets the password.
                other, other_watch = new_context(site)
                lost = other.new_page()
                lost.goto("/sign-in")
                lost.get_by_role("link", name="Forgot your password?").click()
                expect(lost).to_have_url(f"{site}/forgot-password")
                lost.get_by_label("E-mail address").fill("ada@example.org")
                lost.get_by_role("button", name="Send me a link").click()
                expect(lost.locator(".notice-success")).to_contain_text(
                    "If an account uses this address"
                )
                screenshot(lost, "31-forgot-password")
                reset = sink.wait("ada@example.org", "Reset your").link("/reset-password")
                lost.goto(reset)
                expect(lost).to_have_url(f"{site}/reset-password")
                new = lost.get_by_label("New password", exact=True)
                other_watch.expect(422, "/api/auth/password/reset")
                new.fill("abcdefghijklmnop")
                lost.get_by_role("button", name="Set new password").click()
                expect(lost.locator(".field-error:not([hidden])")).to_have_text(
                    "This password is a simple sequence; choose another."
                )
                new.fill(NEW_PASSWORD)
                lost.get_by_role("button", name="Set new password").click()
                expect(lost).to_have_url(f"{site}/sign-in")
                expect(lost.get_by_text("Your password is changed")).to_be_visible()
                screenshot(lost, "32-password-reset")
                lost.get_by_label("E-mail address").fill("ada@example.org")
                lost.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
                lost.get_by_role("button", name="Sign in", exact=True).click()
                expect(lost).to_have_url(re.compile(r"/notes$"))
                # That browser never signed in to this account before: the owner is told.
                new_device = sink.wait("ada@example.org", "New sign-in")
                assert "HeadlessChrome" in new_device.text and "127.0.0.1" in new_device.text

                # The first browser's session was ended by the reset.
                watch.expect(401, "/api/auth/refresh")
                page.goto("/notes")
                expect(page).to_have_url(re.compile(r"/sign-in\?next="))
                notice = sink.wait("ada@example.org", "password was changed")
                assert "If this was not you" in notice.text

                # A new address: unverified again, its own link, and the old one is told.
                lost.goto("/account")
                address = lost.get_by_role("region", name="E-mail address")
                address.get_by_label("New e-mail address").fill("ada@new.example")
                address.get_by_label("Current password", exact=True).fill(NEW_PASSWORD)
                address.get_by_role("button", name="Change e-mail address").click()
                expect(
                    lost.get_by_text("Your e-mail address is now ada@new.example")
                ).to_be_visible()
                expect(lost.locator(".verified-state")).to_contain_text("Not verified")
                told = sink.wait("ada@example.org", "e-mail address was changed")
                assert "a***@new.example" in told.text and "HeadlessChrome" in told.text
                confirm = sink.wait("ada@new.example", "Confirm").link("/verify-email")
                lost.goto(confirm)
                lost.get_by_role("button", name="Confirm my e-mail address").click()
                expect(lost.get_by_text("your e-mail address is confirmed")).to_be_visible()
                lost.goto("/account")
                expect(lost.locator(".verified-state")).to_contain_text(
                    "This address is confirmed."
                )
                screenshot(lost, "33-address-confirmed")
        finally:
            stop_process(proc)
