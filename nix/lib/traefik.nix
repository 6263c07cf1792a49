# Traefik v3 configuration, as attribute sets to be written as JSON (or YAML;
# JSON is valid YAML). `static` is the install configuration (entrypoints,
# providers, ACME, metrics); `dynamic` is what the file provider reads
# (routers, services, middlewares).
let
  util = import ./util.nix;
  settingsLib = import ./settings.nix;
  table = import ./table.nix;
  inherit (settingsLib) mkSettings isProduction;

  resolver = "letsencrypt";
in
{
  static =
    settings:
    let
      s = mkSettings settings;
      prod = isProduction s;
      aliasHeaders = util.optionalAttrs (s.aliasHeadersStrategy != null) {
        http.aliasHeadersStrategy = s.aliasHeadersStrategy;
      };
      # Merge two entrypoint sets, merging their `http` sections too.
      withHttp =
        a: b:
        a
        // b
        // util.optionalAttrs (a ? http || b ? http) {
          http = (a.http or { }) // (b.http or { });
        };
    in
    {
      global = {
        checkNewVersion = false;
        sendAnonymousUsage = false;
      };

      log = {
        level = s.logLevel;
        format = "common";
      };

      accessLog = {
        format = "json";
        fields = {
          defaultMode = "keep";
          headers = {
            defaultMode = "drop";
            names = {
              "X-Request-Id" = "keep";
              "User-Agent" = "keep";
              "Content-Type" = "keep";
            };
          };
        };
      }
      // util.optionalAttrs (s.paths.traefikAccessLog != null) {
        filePath = s.paths.traefikAccessLog;
      };

      entryPoints = {
        web = withHttp aliasHeaders (
          {
            address = util.hostPort s.publicAddress s.ports.web;
          }
          // util.optionalAttrs prod {
            http.redirections.entryPoint = {
              to = "websecure";
              scheme = "https";
              permanent = true;
            };
          }
        );

        # Loopback only: Prometheus scrapes /metrics here, health checks
        # use /ping. Never published, never routed.
        metrics.address = util.hostPort s.internalAddress s.ports.traefikMetrics;
      }
      // util.optionalAttrs prod {
        websecure = withHttp aliasHeaders {
          address = util.hostPort s.publicAddress s.ports.websecure;
          http.tls.certResolver = resolver;
        };
      };

      # No `api` section at all: the dashboard and the API are not served,
      # on any entrypoint.

      ping.entryPoint = "metrics";

      metrics.prometheus = {
        entryPoint = "metrics";
        addEntryPointsLabels = true;
        addRoutersLabels = true;
        addServicesLabels = true;
        buckets = [
          0.01
          0.025
          0.05
          0.1
          0.25
          0.5
          1.0
          2.5
          5.0
        ];
      };

      providers.file = {
        filename = s.paths.traefikDynamicConfig;
        watch = true;
      };
    }
    // util.optionalAttrs prod {
      certificatesResolvers.${resolver}.acme = {
        email = s.acmeEmail;
        storage = s.paths.acmeStorage;
        httpChallenge.entryPoint = "web";
      }
      // util.optionalAttrs (s.acmeServer != null) { caServer = s.acmeServer; };
    };

  dynamic =
    settings:
    let
      s = mkSettings settings;
      prod = isProduction s;
      entryPoint = if prod then "websecure" else "web";
      upstreams = table.upstreams s;

      router =
        r:
        {
          name = r.name;
          value = {
            inherit (r) rule service middlewares priority;
            entryPoints = [ entryPoint ];
          }
          // util.optionalAttrs prod {
            tls = {
              certResolver = resolver;
              domains = [ { main = s.domain; } ];
            };
          };
        };

      service = name: url: {
        loadBalancer = {
          servers = [ { inherit url; } ];
          passHostHeader = true;
        };
      };
    in
    {
      http = {
        routers = builtins.listToAttrs (map router (table.routes s));

        services = builtins.mapAttrs service upstreams // {
          backend = (service "backend" upstreams.backend) // {
            loadBalancer = (service "backend" upstreams.backend).loadBalancer // {
              healthCheck = {
                path = "/api/health";
                interval = "10s";
                timeout = "3s";
              };
            };
          };
        };

        middlewares = {
          # One owner per header: the content headers (CSP, Referrer-Policy,
          # Permissions-Policy, X-Frame-Options, nosniff, CORP/COOP) belong to
          # whoever made the response (the backend for /api, nginx's
          # frontend/nginx/server.conf for the app); Traefik, the TLS edge,
          # owns only HSTS and strips the server banners. Traefik's headers
          # middleware overwrites an upstream's header of the same name, so a
          # second owner here would silently weaken theirs.
          security-headers.headers = {
            customResponseHeaders = {
              # An empty value removes the header.
              "Server" = "";
              "X-Powered-By" = "";
            };
          }
          // util.optionalAttrs prod {
            stsSeconds = s.hsts.maxAge;
            stsIncludeSubdomains = s.hsts.includeSubdomains;
            stsPreload = s.hsts.preload;
          };

          api-ratelimit.rateLimit = {
            inherit (s.edgeRateLimit) average period burst;
            sourceCriterion.ipStrategy.depth = s.edgeRateLimit.ipDepth;
          };
        };
      };
    }
    // util.optionalAttrs prod {
      tls.options.default = {
        minVersion = "VersionTLS12";
        sniStrict = true;
      };
    };
}
