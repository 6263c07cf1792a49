# The Starlette backend: the `mainplatform` console script (serve, migrate,
# create-admin, check-config) and its importable package.
{
  lib,
  python3Packages,
}:

let
  pyproject = lib.importTOML ../../backend/pyproject.toml;
  deps = import ./python-deps.nix python3Packages;
in
python3Packages.buildPythonApplication {
  pname = pyproject.project.name;
  inherit (pyproject.project) version;
  pyproject = true;

  src = lib.fileset.toSource {
    root = ../../backend;
    fileset = lib.fileset.unions [
      ../../backend/pyproject.toml
      ../../backend/README.md
      ../../backend/src
    ];
  };

  build-system = [ python3Packages.hatchling ];

  dependencies = deps.runtime;

  # The test suite needs PostgreSQL and Redis; it runs in
  # checks.<system>.backend-tests instead.
  doCheck = false;

  pythonImportsCheck = [ "mainplatform" ];

  meta = {
    description = pyproject.project.description;
    license = lib.licenses.mit;
    mainProgram = "mainplatform";
    platforms = lib.platforms.linux;
  };
}
