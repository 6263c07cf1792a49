# A stand-in for the few nixpkgs `lib` functions the module files call, so
# that each file's function can be applied here with a bare nix-instantiate.
# The mk* functions return tagged values as nixpkgs' do (`_type`), and
# `resolve` below folds them the way the module system would for a single
# definition: mkIf false disappears, priorities and orders are unwrapped.
# This proves what the module files assign; it does not prove that nixpkgs
# declares those options (see OPTION_PATHS in test_module_eval.py for that
# list, each checked against the nixpkgs source by hand).
rec {
  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkDefault = content: {
    _type = "override";
    priority = 1000;
    inherit content;
  };
  mkForce = content: {
    _type = "override";
    priority = 50;
    inherit content;
  };
  mkAfter = content: {
    _type = "order";
    priority = 1500;
    inherit content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: {
    _type = "option";
    type = types.bool;
    default = false;
    description = "Whether to enable ${name}.";
  };

  types = {
    str = "str";
    bool = "bool";
    package = "package";
    anything = "anything";
    ints.positive = "positive int";
    nullOr = t: "null or ${t}";
    attrsOf = t: "attribute set of ${t}";
    listOf = t: "list of ${t}";
  };

  optional = cond: x: if cond then [ x ] else [ ];
  optionalAttrs = cond: set: if cond then set else { };
  getExe' = pkg: name: "${pkg}/bin/${name}";
  concatStringsSep = builtins.concatStringsSep;
  mapAttrsToList = f: set: map (n: f n set.${n}) (builtins.attrNames set);
  escapeShellArg = arg: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";

  # Fold the tags away (one definition per option, as in these modules).
  resolve =
    value:
    if builtins.isAttrs value && value ? _type then
      if value._type == "if" then
        (if value.condition then resolve value.content else null)
      else if value._type == "override" || value._type == "order" then
        resolve value.content
      else if value._type == "merge" then
        builtins.foldl' (a: b: a // b) { } (
          builtins.filter (x: x != null) (map resolve value.contents)
        )
      else
        value
    else if builtins.isAttrs value && !(value ? outPath) then
      let
        resolved = builtins.mapAttrs (_: resolve) value;
      in
      builtins.removeAttrs resolved (
        builtins.filter (n: resolved.${n} == null) (builtins.attrNames resolved)
      )
    else if builtins.isList value then
      map resolve value
    else
      value;
}
