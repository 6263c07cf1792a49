"""nix/lib: every function evaluates (builtins only) for a local and a production
settings set, and what it renders says what the platform promises."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.headers import api_headers, frontend_headers, traefik_header_names
from tests.support.layout import NIX_LIB
from tests.support.nix import lib_call, nix_eval, nix_eval_error, to_nix

LOCAL: dict[str, Any] = {"mode": "local"}
PRODUCTION: dict[str, Any] = {
    "mode": "production",
    "domain": "platform.example.org",
    "acmeEmail": "ops@example.org",
    "paths": {"prometheusRules": ["/etc/mainplatform/rules/*.yml"]},
}
SETTINGS = {"local": LOCAL, "production": PRODUCTION}

# Every function nix/lib exposes, with how to call it. A new function must be
# added here, or test_every_function_is_covered fails.
NGINX_ARGS = {
    "listen": "127.0.0.1:8081",
    "root": "/srv/www",
    "serverFragment": "/srv/server.conf",
    "mimeTypes": "/etc/nginx/mime.types",
}
CALLS: dict[str, str] = {
    "mkSettings": "l.mkSettings S",
    "defaultsFor": "l.defaultsFor S.mode",
    "services": "l.services S",
    "publicTcpPorts": "l.publicTcpPorts S",
    "routes": "l.routes S",
    "upstreams": "l.upstreams S",
    "traefikStatic": "l.traefikStatic S",
    "traefikDynamic": "l.traefikDynamic S",
    "prometheusConfig": "l.prometheusConfig S",
    "alertmanagerConfig": "l.alertmanagerConfig S",
    "grafanaDatasources": "l.grafanaDatasources S",
    "grafanaDashboardProviders": "l.grafanaDashboardProviders S",
    "grafanaServer": "l.grafanaServer S",
    "nginxMainConf": f"l.nginxMainConf {to_nix(NGINX_ARGS)}",
    "frontendNginxConf": "l.frontendNginxConf S "
    + to_nix({k: v for k, v in NGINX_ARGS.items() if k != "listen"}),
    "render": "l.render S",
}


def call(name: str, mode: str) -> Any:
    expr = CALLS[name]
    return nix_eval(f"let l = import {NIX_LIB}; S = {to_nix(SETTINGS[mode])}; in {expr}")


def test_every_function_is_covered() -> None:
    functions = nix_eval(
        f"let l = import {NIX_LIB}; in "
        "builtins.filter (n: builtins.isFunction l.${n}) (builtins.attrNames l)"
    )
    assert sorted(functions) == sorted(CALLS)


@pytest.mark.parametrize("mode", ["local", "production"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_function_evaluates(name: str, mode: str) -> None:
    result = call(name, mode)
    if name == "publicTcpPorts" and mode == "local":
        assert result == []  # nothing is public locally
    else:
        assert result not in (None, "", [], {})


def test_the_examples_evaluate() -> None:
    examples = nix_eval(f"(import {NIX_LIB}).examples")
    assert examples["local"]["mode"] == "local"
    assert examples["production"]["mode"] == "production"


def test_settings_are_idempotent() -> None:
    for settings in SETTINGS.values():
        once = lib_call("mkSettings", settings)
        assert lib_call("mkSettings", once) == once


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "production"}, "acmeEmail"),
        ({"mode": "production", "domain": "localhost", "acmeEmail": "a@b.c"}, "real domain"),
        ({"mode": "staging"}, "mode must be one of"),
        ({"portz": {}}, "unknown setting portz"),
        ({"ports": {"backend": 8081}}, "share a port"),
        ({"ports": {"backend": 70000}}, "1..65535"),
        ({"paths": {"nope": "/x"}}, "unknown setting paths.nope"),
        ({"acmeServer": "http://ca.test/dir"}, "https:// ACME directory URL"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    settings: dict[str, Any], message: str
) -> None:
    assert message in nix_eval_error(f"(import {NIX_LIB}).traefikStatic ({to_nix(settings)})")


def test_the_acme_server_is_lets_encrypt_unless_set() -> None:
    """No caServer by default (Traefik's default is Let's Encrypt production); a set
    acmeServer is the resolver's caServer and nothing else changes."""
    default = lib_call("traefikStatic", PRODUCTION)["certificatesResolvers"]
    ((name, resolver),) = default.items()
    assert "caServer" not in resolver["acme"]
    url = "https://acme-staging-v02.api.letsencrypt.org/directory"
    other = lib_call("traefikStatic", PRODUCTION | {"acmeServer": url})["certificatesResolvers"]
    assert other[name]["acme"] == resolver["acme"] | {"caServer": url}


def test_only_ssh_http_https_are_public_in_production() -> None:
    assert lib_call("publicTcpPorts", PRODUCTION) == [22, 80, 443]
    assert lib_call("publicTcpPorts", LOCAL) == []
    public = [s for s in lib_call("services", PRODUCTION) if s["public"]]
    assert sorted(s["port"] for s in public) == [80, 443]
    for service in lib_call("services", PRODUCTION):
        if not service["public"]:
            assert service["address"] == "127.0.0.1", service
    for service in lib_call("services", LOCAL):
        assert service["address"] == "127.0.0.1", service


def test_traefik_static_production() -> None:
    static = lib_call("traefikStatic", PRODUCTION)
    eps = static["entryPoints"]
    assert eps["web"]["address"] == ":80"
    assert eps["websecure"]["address"] == ":443"
    assert eps["web"]["http"]["redirections"]["entryPoint"] == {
        "to": "websecure",
        "scheme": "https",
        "permanent": True,
    }
    assert eps["metrics"]["address"] == "127.0.0.1:8082"
    acme = static["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme["email"] == "ops@example.org"
    assert acme["httpChallenge"] == {"entryPoint": "web"}
    assert static["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert static["ping"] == {"entryPoint": "metrics"}
    assert "api" not in static  # no dashboard, no API, anywhere
    assert static["providers"]["file"]["filename"] == "/var/lib/mainplatform/traefik/dynamic.yml"


def test_traefik_static_local_is_plain_http_on_loopback() -> None:
    static = lib_call("traefikStatic", LOCAL)
    assert set(static["entryPoints"]) == {"web", "metrics"}
    assert static["entryPoints"]["web"] == {"address": "127.0.0.1:8080"}
    assert "certificatesResolvers" not in static
    assert "api" not in static


def test_traefik_dynamic_routes() -> None:
    for mode, settings in SETTINGS.items():
        dynamic = lib_call("traefikDynamic", settings)
        routers = dynamic["http"]["routers"]
        assert set(routers) == {"api", "frontend"}
        assert "PathPrefix(`/api`)" in routers["api"]["rule"]
        assert routers["api"]["service"] == "backend"
        assert "api-ratelimit" in routers["api"]["middlewares"]
        assert "!PathPrefix(`/metrics`)" in routers["frontend"]["rule"]
        assert routers["api"]["priority"] > routers["frontend"]["priority"]
        middlewares = dynamic["http"]["middlewares"]
        # /api keeps its prefix: no stripPrefix anywhere.
        assert all("stripPrefix" not in m for m in middlewares.values())
        headers = middlewares["security-headers"]["headers"]
        # The edge owns HSTS (production only) and removes the banners; nothing else.
        edge = {"server", "x-powered-by"} | (
            {"strict-transport-security"} if mode == "production" else set()
        )
        assert traefik_header_names(headers) == edge
        assert all(v == "" for v in headers["customResponseHeaders"].values())
        entry = "websecure" if mode == "production" else "web"
        assert all(r["entryPoints"] == [entry] for r in routers.values())


def test_grafana_route_is_opt_in() -> None:
    routed = dict(LOCAL, grafana={"routed": True})
    routers = lib_call("traefikDynamic", routed)["http"]["routers"]
    assert "PathPrefix(`/grafana`)" in routers["grafana"]["rule"]
    assert lib_call("grafanaServer", routed)["serve_from_sub_path"] is True


def test_prometheus_scrapes_what_is_enabled() -> None:
    def jobs(settings: dict[str, Any]) -> dict[str, list[str]]:
        config = lib_call("prometheusConfig", settings)
        return {
            j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]]
            for j in config["scrape_configs"]
        }

    local = jobs(LOCAL)
    assert local == {
        "backend": ["127.0.0.1:8000"],
        "traefik": ["127.0.0.1:8082"],
        "prometheus": ["127.0.0.1:9090"],
    }
    production = jobs(PRODUCTION)
    assert set(production) == {"backend", "traefik", "prometheus", "node", "postgres", "redis"}
    config = lib_call("prometheusConfig", PRODUCTION)
    assert config["rule_files"] == ["/etc/mainplatform/rules/*.yml"]


def test_nginx_conf_has_what_the_fragment_leaves_out() -> None:
    text = nix_eval(
        f"(import {NIX_LIB}).nginxMainConf "
        + to_nix(dict(NGINX_ARGS, apiUpstream="http://127.0.0.1:8000"))
    )
    assert "listen 127.0.0.1:8081;" in text
    assert "root /srv/www;" in text
    assert "include /srv/server.conf;" in text
    assert "proxy_pass http://127.0.0.1:8000;" in text
    assert "daemon off;" in text
    without_api = nix_eval(f"(import {NIX_LIB}).nginxMainConf {to_nix(NGINX_ARGS)}")
    assert "location /api" not in without_api


def test_each_security_header_has_one_owner() -> None:
    """nginx (app pages), the backend (/api) and Traefik (edge) set disjoint headers:
    Traefik's middleware overwrites an upstream's header of the same name, and two
    owners drift apart (they did: Referrer-Policy, CSP form-action, Permissions-Policy)."""
    edge = traefik_header_names(
        lib_call("traefikDynamic", PRODUCTION)["http"]["middlewares"]["security-headers"]["headers"]
    )
    app, api = set(frontend_headers()), set(api_headers())
    assert not edge & app, edge & app
    assert not edge & api, edge & api
    # nginx serves no /api response and the backend no page, so these two may share
    # names; each value is still written once, in its own layer.
    assert "content-security-policy" in app and "content-security-policy" in api
