"""``python -m mainplatform_dev`` (what ``mainplatform dev`` runs)."""

from __future__ import annotations

import sys

from mainplatform_dev.cli import main

sys.exit(main())
