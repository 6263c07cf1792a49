# Declarations for the namespaces that no file of tests/modules/nixpkgs-files.txt
# declares, so that the real modules' own definitions there have somewhere to go.
# Each is as loose as the real one or looser (`anything`), so a stub can hide an
# error but never invent one; tests/modules/test_real_eval.py fails if a stub
# declares an option that a real file declares too.
#
# Two kinds:
# - `systemd`: nixos/modules/system/boot/systemd.nix is not loaded (its own
#   closure is most of NixOS), so its unit options are declared here with the
#   real types of nixos/lib/systemd-types.nix and the real unit rendering of
#   nixos/lib/systemd-lib.nix, as systemd.nix declares and renders them. Every
#   unit's text is therefore built by nixpkgs' code from checked options.
# - the rest: options that the real modules set in their `config` and that
#   belong to files not loaded (etc, activation, PAM, ...): free-form.
{
  config,
  lib,
  utils,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption types;
  inherit (utils) systemdUtils;
  free =
    description:
    mkOption {
      type = types.lazyAttrsOf types.anything;
      default = { };
      description = "Stub (not loaded here): ${description}";
    };
  anything =
    description: default:
    mkOption {
      type = types.anything;
      inherit default;
      description = "Stub (not loaded here): ${description}";
    };
  units = type: mkOption {
    default = { };
    inherit type;
    description = "Declared as in nixos/modules/system/boot/systemd.nix.";
  };
  cfg = config.systemd;

  # Options that the real modules define and whose declaring files are not
  # loaded: declared as `anything`, without a default (a module that reads
  # one fails with "used but not defined" instead of reading a made-up value).
  setOnly = [
    "services.displayManager"
    "networking.nftables.tables"
    "boot.readOnlyNixStore"
    "boot.nixStoreMountOpts"
    # nixos/modules/virtualisation/qemu-vm.nix (the VM tests' nodes) is not loaded.
    "virtualisation.memorySize"
    "virtualisation.cores"
    "virtualisation.diskSize"
    # Set by the VM tests' nodes; declared by files not loaded here
    # (nixos/lib/testing/network.nix, tasks/network-interfaces.nix,
    # config/networking.nix, security/ca.nix, system/activation/specialisation.nix).
    "networking.primaryIPAddress"
    "networking.nameservers"
    "networking.extraHosts"
    "security.pki.certificateFiles"
    "specialisation"
    # nix/hosts/vm.nix: build-vm.nix (qemu-vm.nix inside) and ttys/getty.nix.
    "virtualisation.vmVariant"
    "services.getty"
    "security.acme"
    "networking.firewall.extraInputRules"
    "networking.firewall.extraCommands"
    "networking.firewall.extraStopCommands"
    "hardware.rtl-sdr"
    "systemd.generatorPath"
    "programs.ssh.knownHosts"
    "systemd.additionalUpstreamUserUnits"
    "system.systemBuilderArgs"
    "system.boot"
    "services.geoclue2"
    "lib"
    "environment.profiles"
    "boot.loader.supportsInitrdSecrets"
    "boot.loader.grub.enable"
    "boot.initrd.systemd.services"
    "boot.initrd.systemd.contents"
    "boot.initrd.systemd.additionalUpstreamUnits"
    "boot.extraModprobeConfig"
    "boot.bootspec"
  ];

  # Options that the real modules read and whose declaring files are not
  # loaded, with the value the real declaration gives them by default.
  readOnlyDefaults = {
    "programs.bash.completion.enable" = false;
    "security.pki.caBundle" = "/etc/ssl/certs/ca-certificates.crt";
    "networking.proxy.envVars" = { };
    "boot.initrd.systemd.storePaths" = [ ];
    "services.syslog-ng.enable" = false;
    "services.rsyslogd.enable" = false;
    "services.firewalld.enable" = false;
    "networking.nftables.enable" = false;
    "users.defaultUserShell" = pkgs.bashInteractive;
    # nixos/modules/misc/ids.nix (not loaded): numbers for the names used here.
    "ids" =
      let
        numbered =
          names:
          lib.listToAttrs (lib.imap0 (i: n: lib.nameValuePair n (400 + i)) names)
          // {
            root = 0;
            nobody = 65534;
            nogroup = 65534;
            # nix-daemon.nix numbers the build users from here on.
            nixbld = 30000;
          };
        # every name the loaded files look up
        names = [
          "adm"
          "audio"
          "cdrom"
          "clock"
          "dialout"
          "disk"
          "floppy"
          "grafana"
          "input"
          "keys"
          "kmem"
          "kvm"
          "lp"
          "nginx"
          "nixbld"
          "nobody"
          "nogroup"
          "postgres"
          "prometheus"
          "render"
          "root"
          "sgx"
          "shadow"
          "systemd-journal"
          "systemd-network"
          "systemd-resolve"
          "tape"
          "tty"
          "users"
          "utmp"
          "uucp"
          "video"
          "wheel"
        ];
      in
      {
        uids = numbered names;
        gids = numbered names;
      };
    "services.postfix.enable" = false;
    "networking.enableIPv6" = true;
    "boot.initrd.systemd.enable" = false;
    # read by grow-partition.nix (the oci host grows its root partition)
    "boot.initrd.systemd.repart.enable" = false;
    "systemd.repart.enable" = false;
    "programs.ssh.package" = pkgs.openssh;
    "programs.ssh.setXAuthLocation" = false;
  };
in
{
  imports = lib.mapAttrsToList (path: default: {
    options = lib.setAttrByPath (lib.splitString "." path) (mkOption {
      type = types.anything;
      inherit default;
      description = "Stub (declaring file not loaded): read by a real module; the real default.";
    });
  }) readOnlyDefaults
  ++ map (
    path:
    {
      options = lib.setAttrByPath (lib.splitString "." path) (mkOption {
        type = types.anything;
        description = "Stub (declaring file not loaded): set by a real module.";
      });
    }
  ) setOnly;

  options = {
    systemd = {
      units = units systemdUtils.types.units;
      targets = units systemdUtils.types.targets;
      services = units systemdUtils.types.services;
      sockets = units systemdUtils.types.sockets;
      timers = units systemdUtils.types.timers;
      paths = units systemdUtils.types.paths;
      slices = units systemdUtils.types.slices;
      mounts = mkOption {
        default = [ ];
        type = systemdUtils.types.mounts;
        description = "Declared as in nixos/modules/system/boot/systemd.nix.";
      };
      automounts = mkOption {
        default = [ ];
        type = systemdUtils.types.automounts;
        description = "Declared as in nixos/modules/system/boot/systemd.nix.";
      };
      packages = mkOption {
        default = [ ];
        type = types.listOf types.package;
        description = "Declared as in nixos/modules/system/boot/systemd.nix.";
      };
      globalEnvironment = mkOption {
        type =
          with types;
          attrsOf (
            nullOr (oneOf [
              str
              path
              package
            ])
          );
        default = { };
        description = "Declared as in nixos/modules/system/boot/systemd.nix.";
      };
      package = anything "systemd.nix" pkgs.systemd;
      additionalUpstreamSystemUnits = anything "systemd.nix" [ ];
      suppressedSystemUnits = anything "systemd.nix" [ ];
      enableStrictShellChecks = anything "systemd.nix" false;
      user = free "systemd/user.nix";
      network = free "systemd/networkd.nix";
      settings = free "systemd.nix";
      sleep = free "systemd.nix";
      generators = anything "systemd.nix" { };
      shutdown = anything "systemd.nix" { };
    };

    nixpkgs = {
      hostPlatform = mkOption {
        type = types.either types.str types.attrs;
        apply = lib.systems.elaborate;
        description = "Stub of nixos/modules/misc/nixpkgs.nix (which builds pkgs from the nixpkgs tree).";
      };
      buildPlatform = anything "misc/nixpkgs.nix" null;
      config = free "misc/nixpkgs.nix";
      overlays = anything "misc/nixpkgs.nix" [ ];
    };

    environment = {
      # The shape of system/etc/etc.nix's entries (text -> source), loosely.
      etc = mkOption {
        default = { };
        description = "Stub (not loaded here): system/etc/etc.nix.";
        type = types.attrsOf (
          types.submodule (
            { name, config, ... }:
            {
              freeformType = types.attrsOf types.anything;
              options.text = mkOption {
                type = types.nullOr types.lines;
                default = null;
              };
              options.source = mkOption { type = types.anything; };
              config.source = lib.mkIf (config.text != null) (
                lib.mkDefault (pkgs.writeText "etc-${baseNameOf name}" config.text)
              );
            }
          )
        );
      };
      variables = free "config/shells-environment.nix";
      sessionVariables = free "config/shells-environment.nix";
      shellAliases = free "config/shells-environment.nix";
      profileRelativeSessionVariables = free "config/shells-environment.nix";
    };
    security = {
      pam = free "security/pam.nix";
      wrappers = free "security/wrappers";
      polkit = free "security/polkit.nix";
    };
    system = {
      activationScripts = free "system/activation/activation-script.nix";
      userActivationScripts = free "system/activation/activation-script.nix";
      build = free "system/activation/top-level.nix";
      extraDependencies = anything "system/activation/top-level.nix" [ ];
      checks = anything "system/activation/top-level.nix" [ ];
      requiredKernelConfig = anything "system/boot/kernel_config.nix" [ ];
      systemBuilderCommands = anything "system/activation/top-level.nix" "";
      nssModules = {
        path = anything "config/nsswitch.nix" "";
        list = anything "config/nsswitch.nix" [ ];
      };
      nssDatabases = free "config/nsswitch.nix";
      fsPackages = anything "tasks/filesystems.nix" [ ];
    };
    services = {
      logrotate = free "services/logging/logrotate.nix";
      dbus = free "services/system/dbus.nix";
      udev = free "services/hardware/udev.nix";
    };
    fileSystems = anything "tasks/filesystems.nix" { };
    networking = {
      hostName = anything "tasks/network-interfaces.nix" "nixos";
      useDHCP = anything "tasks/network-interfaces.nix" true;
      timeServers = anything "services/networking/ntp/timesyncd.nix" [ ];
    };
    hardware.deviceTree = {
      enable = anything "hardware/device-tree.nix" false;
      name = anything "hardware/device-tree.nix" "none.dtb";
      package = anything "hardware/device-tree.nix" "/nix/store/00000000000000000000000000000000-dtbs";
    };
    # misc/meta.nix and modules/generic/meta-maintainers.nix are not loaded:
    # their types resolve lib.maintainers and lib.teams, which live outside lib/.
    meta = free "misc/meta.nix";
    documentation = free "misc/documentation.nix";
  };

  # What system/etc/etc.nix builds, as far as tmpfiles.nix reads it.
  config.system.build.etc = pkgs.runCommand "etc" { } "" // {
    passthru.targets = lib.mapAttrsToList (n: e: e.target or n) config.environment.etc;
  };

  # As nixos/modules/system/boot/systemd.nix renders every unit.
  config.systemd.units =
    let
      withName = toUnit: unit: lib.nameValuePair unit.name (toUnit unit);
      inherit (systemdUtils.lib)
        pathToUnit
        serviceToUnit
        sliceToUnit
        socketToUnit
        targetToUnit
        timerToUnit
        mountToUnit
        automountToUnit
        ;
    in
    lib.mapAttrs' (_: withName pathToUnit) cfg.paths
    // lib.mapAttrs' (_: withName serviceToUnit) cfg.services
    // lib.mapAttrs' (_: withName sliceToUnit) cfg.slices
    // lib.mapAttrs' (_: withName socketToUnit) cfg.sockets
    // lib.mapAttrs' (_: withName targetToUnit) cfg.targets
    // lib.mapAttrs' (_: withName timerToUnit) cfg.timers
    // lib.listToAttrs (map (withName mountToUnit) cfg.mounts)
    // lib.listToAttrs (map (withName automountToUnit) cfg.automounts);
}
