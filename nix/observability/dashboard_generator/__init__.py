"""Generate the Grafana dashboards in nix/observability/dashboards/*.json (Python standard
library only, so a bare python3 runs it), from the repository root:

    python3 -m nix.observability.dashboard_generator          # rewrite dashboards/*.json
    python3 -m nix.observability.dashboard_generator --check  # exit 1 if a file is out of date

(or `python3 -m dashboard_generator` from nix/observability). The JSON files are committed
(Grafana's file provider reads them as they are); a test checks that the generator gives
exactly the committed files. Every panel uses the provisioned Prometheus datasource by uid
(`datasourceUid` in nix/lib/grafana.nix); no template variables, and rate windows are fixed
at 5m (four 15 s scrapes and more), so every query is plain PromQL that Prometheus itself
can evaluate.

    grafana      the small Grafana model: targets, timeseries and stat panels, the grid layout
    promql       selectors and expressions that several dashboards share
    overview, auth, traefik, postgres, redis, host
                 one module per dashboard, each with board() -> the dashboard
    cli          build() (file name -> dashboard), render() (the file's text), main()
"""

from __future__ import annotations

from .cli import build, main, render
from .grafana import DATASOURCE

__all__ = ["DATASOURCE", "build", "main", "render"]
