# mainplatform-dev: the local stack (`mainplatform dev`, `nix run .#dev`) and
# the tests' throwaway PostgreSQL and Redis. A separate package from the
# runtime `mainplatform`, so no image or host carries development tools.
{
  lib,
  python3Packages,
  backend,
}:

let
  pyproject = lib.importTOML ../../backend/dev/pyproject.toml;
in
python3Packages.buildPythonApplication {
  pname = pyproject.project.name;
  inherit (pyproject.project) version;
  pyproject = true;

  src = lib.fileset.toSource {
    root = ../../backend/dev;
    fileset = lib.fileset.unions [
      ../../backend/dev/pyproject.toml
      ../../backend/dev/src
    ];
  };

  build-system = [ python3Packages.hatchling ];

  # The runtime package as a Python dependency (it is built as an application).
  dependencies = [ (python3Packages.toPythonModule backend) ];

  doCheck = false;

  pythonImportsCheck = [ "mainplatform_dev" ];

  meta = {
    description = pyproject.project.description;
    license = lib.licenses.mit;
    mainProgram = "mainplatform-dev";
    platforms = lib.platforms.linux;
  };
}
