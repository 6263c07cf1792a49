# Stand-in for nixpkgs' package set in the real-declarations evaluation
# (tests/modules/real/eval.nix). Nixpkgs itself cannot be had here, so every
# package is a fake derivation: an attribute set that the module system's
# `types.package` accepts and whose `outPath` is a made-up store path. The
# builders (writeText, runCommand, ...) compute that path from everything they
# are given, so forcing a path forces its contents: a configuration file
# rendered by a real nixpkgs module is evaluated in full, types and all.
#
# Only pkgs.formats is real: nixpkgs' own pkgs/pkgs-lib/formats.nix, from the
# directory the harness is pointed at. Nothing here builds anything.
{
  lib,
  nixpkgs,
  # config.nixpkgs.hostPlatform of the evaluated host (elaborated).
  hostPlatform,
}:

let
  store = builtins.storeDir;
  digest = s: builtins.substring 0 32 (builtins.hashString "sha256" s);

  # A derivation-like attribute set. `seed` is what its contents depend on.
  fake =
    name: seed: extra:
    let
      self = {
        type = "derivation";
        inherit name;
        pname = name;
        version = "0";
        outPath = "${store}/${digest "${name}:${seed}"}-${name}";
        drvPath = "${store}/${digest "${name}:${seed}:drv"}-${name}.drv";
        outputs = [ "out" ];
        outputName = "out";
        meta = {
          mainProgram = name;
          platforms = lib.platforms.all;
        };
        passthru = { };
        override = _: self;
        overrideAttrs = _: self;
        overrideDerivation = _: self;
        withPackages = _: self;
        withPlugins = _: self;
        withJIT = self;
        withoutJIT = self;
        jitSupport = false;
        pkgs = packages;
        psqlSchema = "16";
        installedExtensions = [ ];
        modules = [ ];
        # Outputs and common package attributes resolve to the package itself.
        out = self;
        bin = self;
        dev = self;
        lib = self;
        man = self;
        doc = self;
        cli = self;
        dist = self;
        python = self;
        interpreter = "${self}/bin/${name}";
        shellPath = "/bin/sh";
        src = self;
      }
      // extra;
    in
    self;

  # Everything about a value that can be turned into text, forced.
  seedOf = value: builtins.toJSON value;

  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      checkPhase ? "",
      ...
    }:
    fake name (seedOf [
      text
      executable
      destination
      checkPhase
    ]) { inherit text; };

  runCommandWith =
    name: env: script:
    fake name (seedOf [
      (removeAttrs env [
        "passthru"
        "meta"
      ])
      script
    ]) (env.passthru or { });


  # Package names the real modules and ours refer to. A missing one fails
  # with "attribute 'x' missing": add it here.
  names = [
    "nix-info"
    "mailcap"
    "writers"
    "tzdata"
    "acl"
    "attr"
    "bash"
    "bashInteractive"
    "black"
    "bzip2"
    "coreutils"
    "coreutils-full"
    "cpio"
    "curl"
    "perl"
    "pgbackrest"
    "rsync"
    "strace"
    "diffutils"
    "e2fsprogs"
    "envsubst"
    "fail2ban"
    "findutils"
    "fish"
    "gawk"
    "getconf"
    "getent"
    "glibc"
    "gnugrep"
    "gnupatch"
    "gnused"
    "gnutar"
    "grafana"
    "gzip"
    "iproute2"
    "ipset"
    "iptables"
    "iptables-legacy"
    "iptables-nftables-compat"
    "jq"
    "kmod"
    "less"
    "libcap"
    "libxml2Python"
    "lndir"
    "mainplatform"
    "mainplatform-frontend"
    "mkpasswd"
    "ncurses"
    "netcat"
    "nftables"
    "nginx"
    "nginxStable"
    "nix"
    "nushell"
    "openssh"
    "openresty"
    "mailcap"
    "openssl"
    "postgresql"
    "postgresql_13"
    "postgresql_14"
    "postgresql_15"
    "postgresql_16"
    "postgresql_17"
    "postgresql_18"
    "procps"
    "prometheus"
    "prometheus-alertmanager"
    "prometheus-node-exporter"
    "prometheus-postgres-exporter"
    "prometheus-redis-exporter"
    "python3"
    "redis"
    "restic"
    "remarshal"
    "remarshal_0_17"
    "shadow"
    "su"
    "sudo"
    "sudo-rs"
    "systemd"
    "systemdMinimal"
    "time"
    "traefik"
    "util-linux"
    "utillinux"
    "valkey"
    "which"
    "xauth"
    "xonsh"
    "xz"
    "yj"
    "zsh"
    "zstd"
  ];

  packages =
    lib.genAttrs names (name: fake name "" { })
    // {
      inherit lib writeTextFile;
      # Modules compare these versions.
      nix = fake "nix" "" { version = "2.31.0"; };
      # grow-partition.nix uses cloud-utils' `guest` output (growpart).
      cloud-utils = fake "cloud-utils" "" { guest = fake "cloud-utils-guest" "" { }; };
      systemd = fake "systemd" "" { version = "259.3"; };
      config = {
        allowAliases = false;
      };
      stdenv = {
        inherit hostPlatform;
        buildPlatform = hostPlatform;
        targetPlatform = hostPlatform;
        isLinux = true;
        shell = "/bin/sh";
        cc = fake "cc" "" { libc = packages.glibc; };
        mkDerivation = attrs: runCommandWith (attrs.name or attrs.pname or "derivation") attrs "";
      };
      inherit (hostPlatform) system;
      buildPackages = packages;
      pkgsBuildBuild = packages;
      pkgsBuildHost = packages;
      pkgsHostTarget = packages;
      python3Packages = { };
      xorg.lndir = packages.lndir;
      linuxPackages = {
        kernel = fake "linux" "" {
          version = "6.12.0";
          modDirVersion = "6.12.0";
          features.efiBootStub = true;
          config = {
            isYes = _: true;
            isNo = _: false;
            isModule = _: false;
            isEnabled = _: true;
            isSet = _: true;
            getValue = _: null;
          };
        };
        extend = _: packages.linuxPackages;
      };
      linuxPackages_latest = packages.linuxPackages;
      linuxPackagesFor = _: packages.linuxPackages;
      formats = import (nixpkgs + "/pkgs/pkgs-lib/formats.nix") {
        inherit lib;
        pkgs = packages;
      };
      # A function is called with fake packages; a package file of nixpkgs
      # (not copied here) becomes a fake package of its directory's name.
      callPackage =
        f: args:
        if lib.isFunction f then
          lib.callPackageWith packages f args
        else
          fake (baseNameOf (dirOf (toString f))) (toString f) { };

      writeText = name: text: writeTextFile { inherit name text; };
      writers.writeNginxConfig = name: text: writeTextFile { inherit name text; };
      nginxModules = { };
      writeTextDir =
        path: text:
        writeTextFile {
          name = baseNameOf path;
          inherit text;
          destination = "/${path}";
        };
      writeScript =
        name: text:
        writeTextFile {
          inherit name text;
          executable = true;
        };
      writeShellScript = name: text: writeTextFile {
        inherit name;
        text = "#!/bin/sh\n${text}";
        executable = true;
      };
      writeScriptBin =
        name: text:
        writeTextFile {
          inherit name text;
          executable = true;
          destination = "/bin/${name}";
        };
      writeShellScriptBin = name: text: writeTextFile {
        inherit name;
        text = "#!/bin/sh\n${text}";
        executable = true;
        destination = "/bin/${name}";
      };
      writeShellApplication =
        {
          name,
          text,
          runtimeInputs ? [ ],
          ...
        }:
        writeTextFile {
          inherit name;
          text = "#!/bin/sh\nPATH=${lib.makeBinPath runtimeInputs}\n${text}";
          executable = true;
          destination = "/bin/${name}";
        };
      runCommand = runCommandWith;
      runCommandLocal = runCommandWith;
      runCommandNoCC = runCommandWith;
      runCommandNoCCLocal = runCommandWith;
      symlinkJoin = args: runCommandWith args.name args "";
      buildEnv = args: runCommandWith args.name args "";
      linkFarm = name: entries: runCommandWith name { inherit entries; } "";
      replaceVars = path: vars: runCommandWith (baseNameOf (toString path)) vars (toString path);
      substituteAll = args: runCommandWith (args.name or "substituted") args "";
      concatText = name: files: runCommandWith name { inherit files; } "";
    };
in
packages
