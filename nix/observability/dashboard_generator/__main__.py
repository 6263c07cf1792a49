"""python3 -m nix.observability.dashboard_generator [--check] (from the repository root)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
