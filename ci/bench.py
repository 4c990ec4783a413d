#!/usr/bin/env python3
"""runw's benchmark suite, all measured in one run; ci/bench builds and then calls this.

Prints one table: medians over repeated runs, as ratios against references measured in the
same run. Rows:
  start-to-exit latency (hyperfine): `runc run` of a native static hello bundle (the
    reference for a container start), `runw run` of the same bundle; per executor built,
    hello.wasm and big.wasm (a ~6 MB Rust program) in a rootfs holding only the module,
    cold (compile cache cleared before every run) and warm, and the executor alone on the
    host (compiling, and loading the artifact the cache holds) to show the container's share;
  memory: peak RSS of one `runw run` of hello.wasm (GNU time), and the total PSS of 100 idle
    wasm containers started at once against 100 idle native containers under runc;
  CPU-bound: SHA-256 of 100 MB in a container (warm) against the same executor on the host,
    as measured and less the container's share of any start (warm hello in a container
    minus the same executor loading hello's artifact on the host);
  many starts at once: 100 `run`s (start to exit) of a bundle, 8 and then 16 at a time: wall
    time for all 100 and the p99 of one run's latency, for runc and runw of native hello and
    runw of hello.wasm (warm) per executor; every subject once per round, rounds repeated
    (runs / 10, at least 3) so that a change in the machine's load falls on all alike, state
    roots of both runtimes under /run (as on nodes, where it is a tmpfs): the median wall time
    over rounds, the p99 over all runs of all rounds.
  services (issue 11): wrk (16 connections, 10 s) requests/s and p50/p99 latency against
    the `http_proxy` test component served by `runw run` (runw's default executor,
    wasmtime-exec), against the same component under `wasmtime serve` on the host (the
    wasmtime-cli of the executor's wasmtime version, WASMTIME_CLI), and against a native
    hyper server (integration/bench-server, static) in a `runc run` container; the time from
    `run` to the first 200, warm (cache filled) and cold (cache cleared), against the native
    server under `runc run`. Containers are on the host's network, as `wasmtime serve` is.
Then checks the targets: warm hello no slower than `runc run` of native hello; warm at
least 5x faster than cold on big.wasm; CPU-bound code within 2 percent; 100 wasm starts at
once at least at runc's rate (wall time and p99 no longer than runc's for native hello; runw's
native hello too); serving
throughput at least `wasmtime serve`'s (within 5%); warm time to the first response at most
2x the native server's.

Usage: ci/bench.py [runs] [concurrent|services]   (default 30; cold big.wasm runs a fifth of
that, at least 3; `concurrent` or `services` measures and checks only those rows)
"""

import json
import math
import os
import re
import signal
import socket
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


TARGET = os.environ["CARGO_TARGET_DIR"]
RUNW = os.environ["RUNW_BIN"]
WASM_DIR = f"{TARGET}/wasm32-wasip1/release"
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
ONLY = sys.argv[2] if len(sys.argv) > 2 else None
EXECUTORS = [e for e in ("wasmtime-exec", "wasmer-exec", "wasmedge-exec")
             if os.access(f"{TARGET}/release/{e}", os.X_OK)]
IDLE = 100
CONCURRENT = 100
PARALLEL = (8, 16)
WORK = tempfile.mkdtemp(prefix="runw-bench.")


def bundle(name, args, annotations, files):
    """A bundle whose rootfs holds `files` ({container path: host path}), running `args`."""
    path = f"{WORK}/{name}"
    os.makedirs(f"{path}/rootfs")
    subprocess.run([RUNW, "spec", "--bundle", path], check=True)
    with open(f"{path}/config.json") as f:
        config = json.load(f)
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    config["annotations"] = annotations
    with open(f"{path}/config.json", "w") as f:
        json.dump(config, f)
    for dest, src in files.items():
        os.makedirs(os.path.dirname(f"{path}/rootfs{dest}"), exist_ok=True)
        shutil.copy(src, f"{path}/rootfs{dest}")
    return path


def native_bundle(name, args):
    return bundle(name, args, {}, {"/bin/busybox": "/bin/busybox"})


def wasm_bundle(name, module, args=()):
    return bundle(name, [f"/{module}.wasm", *args], {"module.wasm.image/variant": "compat"},
                  {f"/{module}.wasm": f"{WASM_DIR}/{module}.wasm"})


def env_for(executor):
    return {"RUNW_EXECUTOR": f"{TARGET}/release/{executor}", "RUNW_CACHE_DIR": f"{WORK}/cache-{executor}"}


def with_env(env, cmd):
    return " ".join(["env", *(f"{k}={v}" for k, v in env.items()), cmd])


def hyperfine(cmd, runs, prepare=None):
    """Median wall time in ms of `cmd` over `runs` runs."""
    out = f"{WORK}/hf.json"
    args = ["hyperfine", "--shell=none", "--style", "none", "--runs", str(runs), "--export-json", out,
            "--output", "null", "--warmup", "0" if prepare else "3"]
    if prepare:
        args += ["--prepare", prepare]
    done = subprocess.run(args + [cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: {cmd} failed: {done.stderr.strip()}")
    with open(out) as f:
        return statistics.median(json.load(f)["results"][0]["times"]) * 1000


def peak_rss_mib(cmd, env):
    """Median over 5 runs of GNU time's maximum RSS (runw and the container it waits for)."""
    values = []
    for _ in range(5):
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "sh", "-c", cmd], env={**os.environ, **env},
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
        values.append(int(r.stderr.strip().splitlines()[-1]))
    return statistics.median(values) / 1024


def pss_mib(pid):
    """Proportional set size of a process, in MiB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def idle_fleet(runtime, root, path, env):
    """Starts IDLE detached containers of bundle `path` at once; returns (seconds to start
    them all, total PSS MiB of their processes), then removes them."""
    ids = [f"idle{i}" for i in range(IDLE)]
    def start(cid):
        subprocess.run([runtime, "--root", root, "run", "--detach", "--bundle", path, cid],
                       env={**os.environ, **env}, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=IDLE) as pool:
        list(pool.map(start, ids))
    elapsed = time.monotonic() - began
    time.sleep(1)
    total = 0.0
    for cid in ids:
        state = json.loads(subprocess.run([runtime, "--root", root, "state", cid], check=True,
                                          capture_output=True, text=True).stdout)
        total += pss_mib(state["pid"])
    for cid in ids:
        subprocess.run([runtime, "--root", root, "delete", "--force", cid], env={**os.environ, **env},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return elapsed, total


def p99(values):
    """The 99th percentile, nearest rank."""
    ranked = sorted(values)
    return ranked[math.ceil(0.99 * len(ranked)) - 1]


def concurrent_starts(runtime, root, path, env, parallel):
    """Runs CONCURRENT containers of bundle `path` to exit, `parallel` at a time; returns
    (seconds for all, the latency of each run in ms)."""
    def run(cid):
        began = time.monotonic()
        subprocess.run([runtime, "--root", root, "run", "--bundle", path, cid],
                       env={**os.environ, **env}, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return (time.monotonic() - began) * 1000
    ids = [f"many{parallel}-{i}" for i in range(CONCURRENT)]
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        latencies = list(pool.map(run, ids))
    return time.monotonic() - began, latencies


def filesystem(path):
    """The type of the filesystem holding `path` (as `stat -f` names it)."""
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                          check=True).stdout.strip()


def many_starts():
    """The many-starts table; returns its target checks (what, met, detail)."""
    native = native_bundle("many-native", ["busybox", "echo", "hello"])
    hello = wasm_bundle("many-hello", "hello")
    # Both runtimes keep their state where they do on a node: under /run.
    state = tempfile.mkdtemp(prefix="runw-bench.", dir="/run")
    subjects = [("runc, native hello (reference)", "runc", native, {}),
                ("runw, native hello", RUNW, native, {})]
    for ex in EXECUTORS:
        env = env_for(ex)
        # Warm the cache: one run of the module.
        subprocess.run([RUNW, "--root", f"{state}/warm", "run", "--bundle", hello, "warm"],
                       env={**os.environ, **env}, stdout=subprocess.DEVNULL, check=True)
        subjects.append((f"runw, hello.wasm, warm ({ex})", RUNW, hello, env))
    rounds = max(3, RUNS // 10)
    checks = []
    print(f"{CONCURRENT} runs to exit, N at a time: median of {rounds} interleaved rounds, "
          f"state roots under /run ({filesystem(state)})")
    print(f"{'':<52} {'wall s':>7} {'vs runc':>8} {'p99 ms':>7} {'vs runc':>8}")
    for parallel in PARALLEL:
        walls = [[] for _ in subjects]
        latencies = [[] for _ in subjects]
        for _ in range(rounds):
            for n, (_, runtime, path, env) in enumerate(subjects):
                wall, each = concurrent_starts(runtime, f"{state}/{n}", path, env, parallel)
                walls[n].append(wall)
                latencies[n] += each
        ref_wall, ref_p99 = statistics.median(walls[0]), p99(latencies[0])
        for n, (label, _, _, _) in enumerate(subjects):
            wall, tail = statistics.median(walls[n]), p99(latencies[n])
            print(f"{f'{parallel} at a time: {label}':<52} {wall:>7.2f} {wall / ref_wall:>7.2f}x "
                  f"{tail:>7.1f} {tail / ref_p99:>7.2f}x")
            if n > 0:
                checks.append((f"{CONCURRENT} starts at once, {parallel} at a time, at runc's rate and "
                               f"p99 ({label})", wall <= ref_wall and tail <= ref_p99,
                               f"{CONCURRENT / wall:.0f} vs {CONCURRENT / ref_wall:.0f} starts/s, "
                               f"p99 {tail:.0f} vs {ref_p99:.0f} ms"))
    shutil.rmtree(state, ignore_errors=True)
    print()
    return checks


COMPONENT = f"{TARGET}/wasm32-wasip2/release/http_proxy.wasm"
NATIVE_SERVER = f"{TARGET}/x86_64-unknown-linux-gnu/release/bench-http-server"
WASMTIME_CLI = os.environ.get("WASMTIME_CLI", os.path.expanduser("~/.cache/runw-bench/wasmtime-cli/bin/wasmtime"))
SERVE_PORT = 18480  # below the ephemeral range: a polling client never connects to itself
WRK_CONNECTIONS = 16
WRK_SECONDS = 10
FIRST_RESPONSE_RUNS = 10


def host_network(path):
    """Takes the container at `path` out of its own network namespace (the host's, as for
    `wasmtime serve`)."""
    with open(f"{path}/config.json") as f:
        config = json.load(f)
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
    with open(f"{path}/config.json", "w") as f:
        json.dump(config, f)
    return path


def component_bundle():
    """The HTTP component, served on SERVE_PORT."""
    path = bundle("serve-wasm", ["/proxy.wasm"], {"module.wasm.image/variant": "compat"},
                  {"/proxy.wasm": COMPONENT})
    with open(f"{path}/config.json") as f:
        config = json.load(f)
    config["process"]["env"] = [f"WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:{SERVE_PORT}"]
    with open(f"{path}/config.json", "w") as f:
        json.dump(config, f)
    return host_network(path)


def native_server_bundle():
    return host_network(bundle("serve-native", ["/server", f"127.0.0.1:{SERVE_PORT}"], {},
                               {"/server": NATIVE_SERVER}))


def get_200():
    """One GET / on SERVE_PORT: whether it answered 200 (False while nothing listens)."""
    try:
        with socket.create_connection(("127.0.0.1", SERVE_PORT), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Server:
    """A server process started by `argv`, stopped on exit from the `with`."""

    def __init__(self, argv, env=None, stop=None):
        self.argv, self.env, self.stop = argv, env or {}, stop

    def __enter__(self):
        self.began = time.monotonic()
        # runw's default executor, as on a node: never an inherited RUNW_EXECUTOR.
        environment = {k: v for k, v in os.environ.items() if k != "RUNW_EXECUTOR"}
        self.process = subprocess.Popen(self.argv, env={**environment, **self.env},
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        while not get_200():
            if self.process.poll() is not None:
                sys.exit(f"bench: {' '.join(self.argv)} exited {self.process.returncode}: "
                         f"{self.process.stderr.read().decode().strip()}")
            time.sleep(0.001)
        self.first_response = time.monotonic() - self.began
        return self

    def __exit__(self, *_):
        if self.stop:
            subprocess.run(self.stop, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        else:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def runw_server(path, env, cid):
    return Server([RUNW, "--root", f"{WORK}/s-serve", "run", "--bundle", path, cid], env,
                  [RUNW, "--root", f"{WORK}/s-serve", "kill", cid, "TERM"])


def runc_server(path, cid):
    return Server(["runc", "--root", f"{WORK}/s-serve-runc", "run", "--bundle", path, cid], {},
                  ["runc", "--root", f"{WORK}/s-serve-runc", "kill", cid, "KILL"])


def wrk():
    """(requests/s, p50 ms, p99 ms) of wrk against SERVE_PORT."""
    out = subprocess.run(["wrk", "-t2", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency",
                          f"http://127.0.0.1:{SERVE_PORT}/"], capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx|Socket errors", out):
        sys.exit(f"bench: wrk saw errors: {out}")
    def ms(percentile):
        found = re.search(percentile + r"\s+([\d.]+)(us|ms|s|m)\s", out)
        if not found:
            sys.exit(f"bench: no {percentile} latency in wrk's output: {out}")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, ms("50%"), ms("99%")


def services():
    """The services tables (issue 11); returns their target checks."""
    wasm = component_bundle()
    native = native_server_bundle()
    env = {"RUNW_CACHE_DIR": f"{WORK}/cache-serve"}
    throughput = []
    with runc_server(native, "wrk-native"):
        throughput.append(("native hyper server, runc run (reference)", wrk()))
    # ci/bench installs it; without it (ci/bench.py run by hand) the row is missing, and said so.
    has_serve = os.access(WASMTIME_CLI, os.X_OK)
    if has_serve:
        with Server([WASMTIME_CLI, "serve", "-Scli", "--addr", f"127.0.0.1:{SERVE_PORT}", COMPONENT]):
            throughput.append(("wasmtime serve, on the host (reference)", wrk()))
    with runw_server(wasm, env, "wrk-wasm"):
        throughput.append(("runw run, wasm component (default executor)", wrk()))
    native_rate, runw_rate = throughput[0][1][0], throughput[-1][1][0]
    serve_rate = throughput[1][1][0] if has_serve else None
    print(f"{f'HTTP, wrk {WRK_CONNECTIONS} connections {WRK_SECONDS} s':<52} {'req/s':>8} {'vs serve':>8} "
          f"{'vs native':>9} {'p50 ms':>7} {'p99 ms':>7}")
    for label, (rate, p50, p99_ms) in throughput:
        vs_serve = f"{rate / serve_rate:>7.2f}x" if serve_rate else f"{'-':>8}"
        print(f"{label:<52} {rate:>8.0f} {vs_serve} {rate / native_rate:>8.2f}x {p50:>7.2f} {p99_ms:>7.2f}")
    print()

    def first_response(server, prepare=None):
        times = []
        for i in range(FIRST_RESPONSE_RUNS):
            if prepare:
                subprocess.run(prepare, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
            with server(i) as s:
                times.append(s.first_response * 1000)
        return statistics.median(times)
    native_ms = first_response(lambda i: runc_server(native, f"first-native{i}"))
    cold_ms = first_response(lambda i: runw_server(wasm, env, f"first-cold{i}"), [RUNW, "cache", "clear"])
    warm_ms = first_response(lambda i: runw_server(wasm, env, f"first-warm{i}"))
    print(f"{'time from run to the first 200':<52} {'median ms':>10} {'vs native':>9}")
    for label, value in (("runc run, native hyper server (reference)", native_ms),
                         ("runw run, wasm component, cold", cold_ms),
                         ("runw run, wasm component, warm", warm_ms)):
        print(f"{label:<52} {value:>10.1f} {value / native_ms:>8.2f}x")
    print()
    serving = ((runw_rate >= 0.95 * serve_rate,
                f"{runw_rate:.0f} vs {serve_rate:.0f} requests/s ({(runw_rate / serve_rate - 1) * 100:+.1f}%)")
               if serve_rate else (False, f"not measured: no {WASMTIME_CLI} (ci/bench installs it)"))
    return [
        ("serving throughput (runw run) at least wasmtime serve's, within 5%", *serving),
        ("warm time to the first response at most 2x the native server's under runc", warm_ms <= 2 * native_ms,
         f"{warm_ms:.1f} vs {native_ms:.1f} ms ({warm_ms / native_ms:.2f}x)"),
    ]


def has_compiled_form(executor):
    """False for an interpreter (its --engine-id exits 3): nothing to cache or precompile."""
    return subprocess.run([f"{TARGET}/release/{executor}", "--engine-id"], stdout=subprocess.DEVNULL).returncode != 3


def artifact(executor, module):
    """The raw artifact `executor --precompile` makes of `module`, and the module's digest."""
    import blake3  # only here: the many-starts rows alone run without it
    src = f"{WASM_DIR}/{module}.wasm"
    out = f"{WORK}/{executor}-{module}.artifact"
    with open(src, "rb") as i, open(out, "wb") as o:
        subprocess.run([f"{TARGET}/release/{executor}", "--precompile"], stdin=i, stdout=o, check=True)
    with open(src, "rb") as f:
        return out, blake3.blake3(f.read()).hexdigest()


def report(checks):
    """Prints the targets; returns the exit status."""
    print("targets")
    failed = 0
    for what, ok, detail in checks:
        failed += not ok
        print(f"  {'met ' if ok else 'MISSED'} {what}: {detail}")
    shutil.rmtree(WORK, ignore_errors=True)
    return 1 if failed else 0


def main():
    if ONLY == "concurrent":
        return report(many_starts())
    if ONLY == "services":
        return report(services())
    rows = []  # (section, label, value, unit, ratio-reference key or None)
    results = {}

    native = native_bundle("native", ["busybox", "echo", "hello"])
    results["runc"] = hyperfine(f"runc --root {WORK}/s-runc run --bundle {native} n1", RUNS)
    rows.append(("start", "runc run, native hello (reference)", results["runc"], "runc"))
    results["runw-native"] = hyperfine(f"{RUNW} --root {WORK}/s-runw run --bundle {native} n2", RUNS)
    rows.append(("start", "runw run, native hello", results["runw-native"], "runc"))

    hello = wasm_bundle("hello", "hello")
    big = wasm_bundle("big", "big")
    hashing = wasm_bundle("hash", "hash", ["100"])
    for ex in EXECUTORS:
        env = env_for(ex)
        binary = f"{TARGET}/release/{ex}"
        clear = with_env(env, f"{RUNW} cache clear")
        for module, path, cold_runs in (("hello", hello, RUNS), ("big", big, max(3, RUNS // 5))):
            run = with_env(env, f"{RUNW} --root {WORK}/s-{ex} run --bundle {path} {module}")
            cold = hyperfine(run, cold_runs, prepare=clear)
            warm = hyperfine(run, RUNS)
            results[f"{ex}-{module}-cold"], results[f"{ex}-{module}-warm"] = cold, warm
            rows.append(("start", f"runw run, {module}.wasm, cold ({ex})", cold, "runc"))
            rows.append(("start", f"runw run, {module}.wasm, warm ({ex})", warm, "runc"))
            src = f"{WASM_DIR}/{module}.wasm"
            host_cold = hyperfine(f"{binary} {src} -- {module}", cold_runs)
            if has_compiled_form(ex):
                art, digest = artifact(ex, module)
                host_warm = hyperfine(f"sh -c '{binary} --precompiled 3:{digest} {src} -- {module} 3<{art}'", RUNS)
                rows.append(("start", f"{ex} on the host, {module}.wasm, compiling", host_cold, "runc"))
                rows.append(("start", f"{ex} on the host, {module}.wasm, precompiled", host_warm, "runc"))
            else:
                host_warm = host_cold
                rows.append(("start", f"{ex} on the host, {module}.wasm, interpreting", host_cold, "runc"))
            results[f"{ex}-{module}-host-warm"] = host_warm
        results[f"{ex}-rss"] = peak_rss_mib(f"{RUNW} --root {WORK}/s-{ex} run --bundle {hello} rss", env)

        run = with_env(env, f"{RUNW} --root {WORK}/s-{ex} run --bundle {hashing} hash")
        src = f"{WASM_DIR}/hash.wasm"
        cpu_runs = max(5, RUNS // 3) if has_compiled_form(ex) else 3
        results[f"{ex}-cpu-container"] = hyperfine(run, cpu_runs)
        if has_compiled_form(ex):
            art, digest = artifact(ex, "hash")
            host = f"sh -c '{binary} --precompiled 3:{digest} {src} -- hash 100 3<{art}'"
        else:
            host = f"{binary} {src} -- hash 100"
        results[f"{ex}-cpu-host"] = hyperfine(host, cpu_runs)

    runc_rss = peak_rss_mib(f"runc --root {WORK}/s-runc run --bundle {native} rss", {})
    idle_native = native_bundle("idle-native", ["busybox", "sleep", "600"])
    native_start, native_pss = idle_fleet("runc", f"{WORK}/s-idle-runc", idle_native, {})
    idle_wasm = wasm_bundle("idle-wasm", "idle", ["600"])
    fleets = {}
    for ex in EXECUTORS:
        env = env_for(ex)
        # Warm the cache for the idle module: one short run of it.
        short = wasm_bundle(f"idle-short-{ex}", "idle", ["0"])
        subprocess.run([RUNW, "--root", f"{WORK}/s-warm", "run", "--bundle", short, "short"],
                       env={**os.environ, **env}, stdout=subprocess.DEVNULL, check=True)
        fleets[ex] = idle_fleet(RUNW, f"{WORK}/s-idle-{ex}", idle_wasm, env)

    ref = results["runc"]
    print(f"{'start-to-exit latency':<52} {'median ms':>10} {'vs runc':>8}")
    for _, label, value, _ in rows:
        print(f"{label:<52} {value:>10.1f} {value / ref:>7.2f}x")
    print()
    print(f"{'memory':<52} {'MiB':>10} {'vs runc':>8}")
    print(f"{'peak RSS, runc run, native hello (reference)':<52} {runc_rss:>10.1f} {1:>7.2f}x")
    for ex in EXECUTORS:
        rss = results[f"{ex}-rss"]
        print(f"{f'peak RSS, runw run, hello.wasm ({ex})':<52} {rss:>10.1f} {rss / runc_rss:>7.2f}x")
    print(f"{f'{IDLE} idle native containers, runc: total PSS':<52} {native_pss:>10.1f} {1:>7.2f}x"
          f"   (started in {native_start:.1f} s)")
    for ex, (started, pss) in fleets.items():
        print(f"{f'{IDLE} idle wasm containers ({ex}): total PSS':<52} {pss:>10.1f} {pss / native_pss:>7.2f}x"
              f"   (started in {started:.1f} s, {pss / IDLE:.1f} MiB each)")
    print()
    print(f"{'CPU-bound: SHA-256 of 100 MB':<52} {'median ms':>10} {'vs host':>8}")
    for ex in EXECUTORS:
        host, container = results[f"{ex}-cpu-host"], results[f"{ex}-cpu-container"]
        # What a container adds to any start (warm hello in a container minus on the host)
        # is not the cost of running code: the code's share is the rest.
        start_share = results[f"{ex}-hello-warm"] - results[f"{ex}-hello-host-warm"]
        results[f"{ex}-cpu-code"] = container - start_share
        how = "precompiled" if has_compiled_form(ex) else "interpreting"
        print(f"{f'{ex} on the host, {how} (reference)':<52} {host:>10.1f} {1:>7.2f}x")
        print(f"{f'runw run, warm ({ex})':<52} {container:>10.1f} {container / host:>7.2f}x")
        print(f"{f'  less the container start share ({start_share:.1f} ms)':<52} "
              f"{container - start_share:>10.1f} {(container - start_share) / host:>7.2f}x")
    print()
    checks = many_starts() + services()
    for ex in EXECUTORS:
        checks += [
            (f"warm hello.wasm ({ex}) no slower than runc run of native hello",
             results[f"{ex}-hello-warm"] <= ref, f"{results[f'{ex}-hello-warm']:.1f} vs {ref:.1f} ms"),
            (f"warm big.wasm ({ex}) at least 5x faster than cold",
             results[f"{ex}-big-cold"] >= 5 * results[f"{ex}-big-warm"] or not has_compiled_form(ex),
             f"{results[f'{ex}-big-cold'] / results[f'{ex}-big-warm']:.1f}x"
             + ("" if has_compiled_form(ex) else " (an interpreter: nothing to cache, not applicable)")),
            (f"CPU-bound code in a container ({ex}) within 2% of the host",
             results[f"{ex}-cpu-code"] <= 1.02 * results[f"{ex}-cpu-host"],
             f"{(results[f'{ex}-cpu-code'] / results[f'{ex}-cpu-host'] - 1) * 100:+.1f}%"
             f" (start included: {(results[f'{ex}-cpu-container'] / results[f'{ex}-cpu-host'] - 1) * 100:+.1f}%)"),
        ]
    return report(checks)


if __name__ == "__main__":
    sys.exit(main())
