# The production host: an Oracle Cloud "Always Free" Ampere A1 instance
# (VM.Standard.A1.Flex, aarch64, UEFI, paravirtualized virtio boot volume).
# Used by flake.nix as nixosConfigurations.oci, with disko's module and the
# disk layout ./oci-disk.nix (which gives this host its fileSystems).
#
# ┌──────────────────────────────────────────────────────────────────────┐
# │ OPERATOR: every value marked "SET ME" must be changed before the     │
# │ first deployment (domain, e-mail, SSH keys). Secrets need nothing:   │
# │ they are generated on the host at first boot (README, "Deploying").  │
# └──────────────────────────────────────────────────────────────────────┘
#
# Installing (once): create the instance from Oracle's Ubuntu (aarch64) image
# with your SSH key, then nixos-anywhere installs this configuration, which
# repartitions the boot volume as ./oci-disk.nix says:
#   nix run github:nix-community/nixos-anywhere -- --flake .#oci --build-on remote root@<ip>
# Later changes: `nix run .#deploy -- root@<ip>` (switch, check, roll back).
# (nixos-infect, which converts Ubuntu in place, is not supported: its
# partitions are not the ones ./oci-disk.nix declares.)
{
  lib,
  modulesPath,
  ...
}:

{
  imports = [
    (modulesPath + "/profiles/qemu-guest.nix")
    # SSH keys only, fail2ban, kernel and Nix settings (the flake's
    # nixosModules.host-policy).
    ../../modules/host-policy.nix
  ];

  nixpkgs.hostPlatform = "aarch64-linux";

  # ── The platform ───────────────────────────────────────────────────────
  services.mainplatform = {
    enable = true;
    domain = "platform.example.org"; # SET ME: DNS A/AAAA record -> the instance's public IP
    acmeEmail = "ops@example.org"; # SET ME: Let's Encrypt account address
    workers = 2; # one per OCPU of the instance
    # Secrets: created on first boot under /var/lib/mainplatform-secrets
    # (mode 0400 root, never in the store). With sops-nix/agenix, point
    # secrets.jwtSecretFile, grafana.adminPasswordFile and
    # grafana.secretKeyFile at config.sops.secrets.<name>.path instead.
  };

  # ── Boot: UEFI (OCI A1 has no legacy BIOS) ─────────────────────────────
  # Compared setting by setting with nixpkgs' nixos/modules/virtualisation/
  # oci-common.nix (read at NixOS/nixpkgs@26ece4fd, the newest copy the
  # project's search index holds; not imported: it is GRUB-based and mounts
  # file systems by label, while this host boots systemd-boot and mounts
  # what ./oci-disk.nix declares):
  # - EFI as removable media: the firmware's variables are not relied on
  #   (oci-common: canTouchEfiVariables = false, efiInstallAsRemovable);
  #   bootctl installs the fallback EFI/BOOT/BOOTAA64.EFI, which the firmware
  #   boots without a boot entry.
  # - serial console ttyAMA0 and the NVMe shutdown timeouts: taken (below);
  #   libiscsi debugging: left out (A1 boot volumes are paravirtualised).
  # - the metadata NTP server 169.254.169.254: taken (Network).
  # - growing the root partition and file system: taken.
  # - qemu-guest profile: its virtio modules are listed explicitly below.
  # - networking.useNetworkd: left out; oci-common wants it for
  #   fetch-ssh-keys, which this host does not use (keys are in the config).
  boot.loader.systemd-boot.enable = true;
  boot.loader.systemd-boot.configurationLimit = 10;
  boot.loader.efi.canTouchEfiVariables = false;
  boot.growPartition = true;
  boot.initrd.availableKernelModules = [
    "xhci_pci"
    "virtio_pci"
    "virtio_scsi"
    "virtio_blk"
    "usbhid"
  ];
  boot.kernelParams = [
    # The OCI serial console (Console connection in the web console).
    "console=tty1"
    "console=ttyAMA0,115200"
    # From Oracle's own images: give NVMe/iSCSI time on shutdown, and run
    # the panic notifiers before a crash kernel would take over.
    "nvme.shutdown_timeout=10"
    "nvme_core.shutdown_timeout=10"
    "crash_kexec_post_notifiers"
  ];

  # The file systems are ./oci-disk.nix's (disko). Resize the boot volume
  # in the OCI console and reboot: the partition and ext4 follow.
  fileSystems."/".autoResize = true;
  # 24 GB of RAM: a small swap file only as a cushion.
  swapDevices = [
    {
      device = "/var/lib/swapfile";
      size = 2048;
    }
  ];

  # ── Network ────────────────────────────────────────────────────────────
  networking.hostName = "mainplatform"; # SET ME (optional)
  networking.useDHCP = lib.mkDefault true;
  # Oracle's NTP service, reachable from every instance.
  networking.timeServers = [ "169.254.169.254" ];
  # The OCI security list / network security group must also allow TCP 22,
  # 80 and 443 inbound; the host firewall opens exactly those.

  # ── Access ─────────────────────────────────────────────────────────────
  # Break-glass, off by default: a root password for the serial console only
  # (Console connection in the OCI web console), for when SSH is unreachable.
  # SSH stays keys-only whatever this is. Generate with `mkpasswd -m yescrypt`:
  #   users.users.root.hashedPassword = "$y$...";
  users.users.root.openssh.authorizedKeys.keys = [
    # SET ME: your public key(s); password and keyboard-interactive logins are off.
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPLACEHOLDERPLACEHOLDERPLACEHOLDERxx operator@example"
  ];

  # ── Housekeeping ───────────────────────────────────────────────────────
  nix.settings.experimental-features = [
    "nix-command"
    "flakes"
  ];
  nix.gc = {
    automatic = true;
    dates = "weekly";
    options = "--delete-older-than 14d";
  };
  services.journald.extraConfig = ''
    SystemMaxUse=500M
  '';
  time.timeZone = "UTC";

  # The NixOS release this host was installed with: never change it after
  # the first deployment (it pins state formats, e.g. PostgreSQL's).
  system.stateVersion = "26.05";
}
