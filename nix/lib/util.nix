# Small helpers over builtins (no nixpkgs `lib` here: this directory must
# evaluate with a bare `nix-instantiate`).
rec {
  # Merge `overrides` into `defaults`, recursing into attribute sets.
  # A key of `overrides` that `defaults` does not have is an error, so a typo
  # in a setting is reported instead of silently ignored. Keys listed in
  # `freeform` (by dotted path) accept any attributes.
  strictMerge =
    {
      defaults,
      overrides,
      path ? "",
      freeform ? [ ],
    }:
    let
      unknown = builtins.filter (name: !(builtins.hasAttr name defaults)) (
        builtins.attrNames overrides
      );
      mergeOne =
        name:
        let
          here = if path == "" then name else "${path}.${name}";
          old = defaults.${name};
          new = overrides.${name};
        in
        if builtins.elem here freeform then
          (if builtins.isAttrs old && builtins.isAttrs new then old // new else new)
        else if builtins.isAttrs old && builtins.isAttrs new then
          strictMerge {
            defaults = old;
            overrides = new;
            path = here;
            inherit freeform;
          }
        else
          new;
    in
    if !(builtins.isAttrs overrides) then
      throw "settings${if path == "" then "" else " at ${path}"}: expected an attribute set"
    else if unknown != [ ] && !(builtins.elem path freeform) then
      throw "settings: unknown setting ${
        builtins.concatStringsSep ", " (map (n: if path == "" then n else "${path}.${n}") unknown)
      }"
    else
      defaults
      // builtins.listToAttrs (
        map (name: {
          inherit name;
          value = if builtins.hasAttr name defaults then mergeOne name else overrides.${name};
        }) (builtins.attrNames overrides)
      );

  # `optionalAttrs cond set`: `set` when `cond`, else `{ }`.
  optionalAttrs = cond: set: if cond then set else { };

  # `optionals cond list`: `list` when `cond`, else `[ ]`.
  optionals = cond: list: if cond then list else [ ];

  # "host:port" as Traefik, Prometheus and nginx write it.
  hostPort = host: port: "${host}:${toString port}";

  # Remove duplicates from a list, keeping the first occurrence.
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  # Names that occur more than once in a list of strings or numbers.
  duplicates =
    list:
    unique (
      builtins.filter (x: builtins.length (builtins.filter (y: y == x) list) > 1) list
    );

  # A list from a value that may be null, a single item or a list.
  toList =
    x:
    if x == null then
      [ ]
    else if builtins.isList x then
      x
    else
      [ x ];
}
