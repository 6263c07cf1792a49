from __future__ import annotations

from mainplatform.cli import main

raise SystemExit(main())
