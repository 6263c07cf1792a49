# The boot volume of the Oracle Cloud host, as disko (the flake's `disko`
# input) describes it. nixos-anywhere partitions and formats the volume
# from this file when it installs the host, and the same file gives NixOS
# its fileSystems, so what the installer writes and what the system mounts
# cannot drift apart (mounts are by GPT partition label: disk-main-ESP,
# disk-main-root).
{
  disko.devices.disk.main = {
    type = "disk";
    # The A1 boot volume, attached paravirtualised, is the first SCSI disk.
    device = "/dev/sda";
    content = {
      type = "gpt";
      partitions = {
        ESP = {
          type = "EF00";
          size = "512M";
          content = {
            type = "filesystem";
            format = "vfat";
            mountpoint = "/boot";
            mountOptions = [
              "fmask=0077"
              "dmask=0077"
            ];
          };
        };
        root = {
          size = "100%";
          content = {
            type = "filesystem";
            format = "ext4";
            mountpoint = "/";
          };
        };
      };
    };
  };
}
