"""Main Platform's development tools: the local stack (``mainplatform dev``) and the throwaway
PostgreSQL and Redis servers the tests start. Not part of the runtime: the Nix package and
the OCI image ship ``mainplatform`` only, and ``mainplatform`` never imports this package."""
