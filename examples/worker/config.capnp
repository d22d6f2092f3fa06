# workerd configuration for the example Worker.
#   node examples/worker/build.mjs
#   node_modules/workerd/bin/workerd serve examples/worker/config.capnp
# Listens on 127.0.0.1:8787 (override: --socket-addr http=127.0.0.1:PORT).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The Worker's outbound fetches go here. "local" and "private" let it reach
    # loopback upstreams; a deployed Worker talks to the public internet instead.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "main"),
  ],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.bundle.js"),
  ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "internet",
);
