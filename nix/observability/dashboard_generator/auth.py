# ruff: noqa: E501  (long query strings and panel descriptions read better unwrapped)
"""The Auth dashboard: sign-ins, refresh-token rotation and reuse, rate limits, account events,
password resets, e-mail verification and the mail they send."""

from __future__ import annotations

from .grafana import Dashboard, Panel, Steps, dashboard, stat, target, timeseries
from .promql import BACKEND, quantile


def auth_event(event: str) -> str:
    return f'mainplatform_auth_events_total{{{BACKEND},event="{event}"}}'


def per_minute(event: str) -> str:
    return f"sum(rate({auth_event(event)}[5m])) * 60 or vector(0)"


def count_in(event: str, window: str) -> str:
    return f"sum(increase({auth_event(event)}[{window}])) or vector(0)"


def mail_sent(result: str) -> str:
    return f'mainplatform_mail_sent_total{{{BACKEND},result=~"{result}"}}'


def count_stat(
    title: str, description: str, event: str, window: str, thresholds: Steps | None = None
) -> Panel:
    """A stat of how many `event`s there were in the last `window`, a whole number."""
    return stat(
        title, description, [target(count_in(event, window))], thresholds=thresholds, decimals=0
    )


def board() -> Dashboard:
    return dashboard(
        "mainplatform-auth",
        "Main Platform / Auth",
        "Sign-ins, refresh-token rotation and reuse, rate limiting, account events, password resets, e-mail verification and mail delivery.",
        [
            [
                count_stat(
                    "Logins OK (1h)",
                    "Successful sign-ins (password or OIDC) in the last hour.",
                    "login_success",
                    "1h",
                ),
                count_stat(
                    "Logins failed (1h)",
                    "Failed sign-ins in the last hour. Alert LoginFailureSpike: more than 50 in 10 minutes.",
                    "login_failure",
                    "1h",
                    thresholds=[(None, "green"), (20, "orange"), (50, "red")],
                ),
                count_stat(
                    "Refreshes (1h)",
                    "Refresh-token rotations in the last hour.",
                    "refresh",
                    "1h",
                ),
                count_stat(
                    "Reuse detected (24h)",
                    "Refresh tokens presented again after use (family revoked) in the last day. Alert RefreshTokenReuseDetected.",
                    "refresh_reuse_detected",
                    "24h",
                    thresholds=[(None, "green"), (1, "red")],
                ),
                count_stat(
                    "Rate limited (1h)",
                    "Requests answered 429 by the backend's rate limits in the last hour.",
                    "rate_limited",
                    "1h",
                    thresholds=[(None, "green"), (1, "orange")],
                ),
                count_stat(
                    "Registrations (24h)",
                    "New accounts in the last day.",
                    "register",
                    "24h",
                ),
            ],
            [
                timeseries(
                    "Logins per minute",
                    "Successful and failed sign-ins per minute (5-minute rate).",
                    [
                        target(per_minute("login_success"), "ok"),
                        target(per_minute("login_failure"), "failed"),
                    ],
                ),
                timeseries(
                    "Login failure ratio",
                    "Failed sign-ins as a share of all sign-in attempts (empty while there are none).",
                    [
                        target(
                            f"(sum(rate({auth_event('login_failure')}[5m])) or vector(0))"
                            f" / ((sum(rate({auth_event('login_failure')}[5m])) or vector(0))"
                            f" + (sum(rate({auth_event('login_success')}[5m])) or vector(0)))",
                            "failed / all",
                        )
                    ],
                    unit="percentunit",
                    max_value=1,
                ),
            ],
            [
                timeseries(
                    "Token refreshes per minute",
                    "Refresh-token rotations, retries answered with the same successor within the reuse grace window, and refreshes refused (expired, revoked or unknown token).",
                    [
                        target(per_minute("refresh"), "refreshed"),
                        target(per_minute("refresh_retried"), "retried (grace)"),
                        target(per_minute("refresh_rejected"), "rejected"),
                    ],
                ),
                timeseries(
                    "Refresh-token reuse detected",
                    "Reuse detections per 5 minutes: each one revoked a whole session family.",
                    [target(count_in("refresh_reuse_detected", "5m"), "reuse detected")],
                    bars=True,
                    decimals=0,
                ),
            ],
            [
                timeseries(
                    "Rate limited and rejected tokens per minute",
                    "429s from the backend's rate limits, and access tokens refused (bad signature, expired, revoked).",
                    [
                        target(per_minute("rate_limited"), "rate limited"),
                        target(per_minute("token_rejected"), "token rejected"),
                    ],
                ),
                timeseries(
                    "Account events per minute",
                    "Registrations, logouts, logouts everywhere and password changes.",
                    [
                        target(per_minute("register"), "register"),
                        target(per_minute("logout"), "logout"),
                        target(per_minute("logout_all"), "logout all"),
                        target(per_minute("password_changed"), "password changed"),
                    ],
                ),
            ],
            [
                count_stat(
                    "Reset requests (1h)",
                    "Password-reset mails asked for in the last hour (the same answer whether or not an account has the address). Alert PasswordResetSpike: more than 30 in 10 minutes.",
                    "password_reset_requested",
                    "1h",
                    thresholds=[(None, "green"), (30, "orange"), (100, "red")],
                ),
                count_stat(
                    "Passwords reset (24h)",
                    "Passwords set with a reset link in the last day (each ended every session of its account).",
                    "password_reset",
                    "24h",
                ),
                count_stat(
                    "Addresses verified (24h)",
                    "E-mail addresses confirmed with a verification link in the last day.",
                    "email_verified",
                    "24h",
                ),
                count_stat(
                    "Links refused (1h)",
                    "Reset or verification tokens refused in the last hour: tampered, expired, used already or of another purpose.",
                    "account_token_rejected",
                    "1h",
                    thresholds=[(None, "green"), (20, "orange")],
                ),
                stat(
                    "Mails lost (24h)",
                    "Mails given up (the relay refused for good, or MAIL_MAX_ATTEMPTS spent) or dropped (outbox full) in the last day. Alert MailDeliveryFailing.",
                    [target(f"sum(increase({mail_sent('failed|dropped')}[24h])) or vector(0)")],
                    thresholds=[(None, "green"), (1, "red")],
                    decimals=0,
                ),
                stat(
                    "Outbox",
                    "Mails waiting to be sent now (queued or waiting for a retry). Alert MailOutboxBacklog: more than 50 for 15 minutes.",
                    [target(f"max(mainplatform_mail_outbox_pending{{{BACKEND}}}) or vector(0)")],
                    thresholds=[(None, "green"), (10, "orange"), (50, "red")],
                    decimals=0,
                ),
            ],
            [
                timeseries(
                    "Mail per minute by outcome",
                    "Delivery attempts per minute: sent, retried (the relay was down or said try later), failed (given up), dropped (outbox full), skipped (nothing to send: unknown or already verified address).",
                    [
                        target(
                            f"sum by (result) (rate({mail_sent('.+')}[5m])) * 60",
                            "{{result}}",
                        )
                    ],
                    stack=True,
                ),
                timeseries(
                    "Resets and verifications per minute",
                    "Reset and verification mails asked for, passwords reset, addresses verified and links refused, per minute.",
                    [
                        target(per_minute("password_reset_requested"), "reset asked"),
                        target(per_minute("password_reset"), "password reset"),
                        target(per_minute("email_verification_requested"), "verification asked"),
                        target(per_minute("email_verified"), "verified"),
                        target(per_minute("account_token_rejected"), "link refused"),
                    ],
                ),
            ],
            [
                timeseries(
                    "All auth events per minute",
                    "Every mainplatform_auth_events_total event, per minute.",
                    [
                        target(
                            f"sum by (event) (rate(mainplatform_auth_events_total{{{BACKEND}}}[5m])) * 60",
                            "{{event}}",
                        )
                    ],
                    stack=True,
                ),
                timeseries(
                    "Auth routes p99 latency",
                    "99th percentile of /api/auth/* response times: login and register hash with Argon2 and queue under load.",
                    [
                        target(
                            quantile(
                                0.99,
                                f'mainplatform_http_request_duration_seconds_bucket{{{BACKEND},route=~"/api/auth/.*"}}',
                                "route",
                            ),
                            "{{route}}",
                        )
                    ],
                    unit="s",
                ),
            ],
        ],
    )
