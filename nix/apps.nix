# `nix run .#dev`: the whole platform on loopback (the same code as
# `mainplatform dev`), with every program it starts taken from nixpkgs.
# `nix run` (default): the backend's CLI.
{
  pkgs,
  packages,
  # nixosConfigurations.vm-<system> (nix/hosts/vm.nix)
  vm,
}:

let
  dev = pkgs.writeShellApplication {
    name = "mainplatform-dev";
    runtimeInputs = [
      packages.dev
      pkgs.nix # nix-instantiate renders nix/lib for the local stack
      pkgs.postgresql_16
      pkgs.redis
      pkgs.nginx
      pkgs.traefik
      pkgs.prometheus
      pkgs.prometheus-node-exporter
      pkgs.prometheus-postgres-exporter
      pkgs.prometheus-redis-exporter
      pkgs.grafana
    ];
    # Run from the project checkout: it serves frontend/ and renders nix/lib from there.
    text = ''
      exec ${packages.dev}/bin/mainplatform-dev "$@"
    '';
  };
  # `nix run .#vm`: the oci host in a local QEMU VM (nix/hosts/vm.nix).
  runVm =
    let
      inherit (vm.config.system) name;
      domain = vm.config.services.mainplatform.domain;
      ports = vm.config.services.mainplatform.finalSettings.ports;
      # The port of this machine that nix/hosts/vm.nix forwards to the VM's `guest`.
      forwarded =
        guest:
        toString
          (builtins.head (
            builtins.filter (f: f.guest.port == guest) vm.config.virtualisation.vmVariant.virtualisation.forwardPorts
          )).host.port;
      https = forwarded ports.websecure;
    in
    pkgs.writeShellApplication {
      name = "mainplatform-vm";
      text = ''
        state="''${MAINPLATFORM_VM_STATE:-$PWD/.state/vm}"
        mkdir -p "$state"
        export NIX_DISK_IMAGE="$state/${name}.qcow2"
        cat <<EOF
        Main Platform in a local VM: the oci configuration, built for this machine
          app      https://${domain}:${https}/  (a self-signed certificate, made on first boot)
          API      https://${domain}:${https}/api/health
          SSH      ssh -p ${forwarded ports.ssh} root@127.0.0.1  (the keys of nix/hosts/oci.nix)
          console  this terminal, logged in as root; Ctrl-A X stops the VM
          disk     $NIX_DISK_IMAGE (kept between runs; delete it to start over)
        The first boot takes a minute or two (secrets, PostgreSQL, migrations).
        EOF
        exec ${vm.config.system.build.vm}/bin/run-${name}-vm "$@"
      '';
    };
in
{
  deploy = {
    type = "app";
    program = "${packages.deploy}/bin/mainplatform-deploy";
    meta.description = "Deploy .#oci to a host, wait until it is healthy, roll back if it is not";
  };
  vm = {
    type = "app";
    program = "${runVm}/bin/mainplatform-vm";
    meta.description = "The oci host in a local QEMU VM, ports forwarded to 127.0.0.1";
  };
  dev = {
    type = "app";
    program = "${dev}/bin/mainplatform-dev";
    meta.description = "Main Platform on loopback: PostgreSQL, Redis, API, nginx, Traefik, Prometheus, Grafana";
  };
  default = {
    type = "app";
    program = "${packages.backend}/bin/mainplatform";
    meta.description = "The mainplatform CLI (serve, migrate, create-admin, backup, check-config)";
  };
}
