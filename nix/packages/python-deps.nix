# The backend's Python dependencies from nixpkgs, in one place: used by the
# package, the test check and the dev shell. Mirrors `dependencies` in
# backend/pyproject.toml (keep the two in step).
ps: {
  runtime = [
    ps.starlette
    ps.uvicorn
    ps.uvloop
    ps.httptools
    ps.psycopg
    ps.redis
    ps.hiredis
    ps.authlib
    ps.joserfc
    ps.argon2-cffi
    ps.prometheus-client
    ps.msgspec
    ps.itsdangerous
    ps.httpx2
  ]
  # psycopg[pool]: nixpkgs builds psycopg-pool from the psycopg source and
  # exposes it as this extra.
  ++ ps.psycopg.optional-dependencies.pool;

  test = [
    ps.pytest
    ps.hypothesis
    ps.pyyaml
    ps.pyflakes
    ps.schemathesis
    ps.openapi-spec-validator
    ps.aiosmtpd
  ];

  dev = [
    ps.mypy
  ];
}
