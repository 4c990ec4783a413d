#!/usr/bin/env python3
"""runw's benchmark suite, all measured in one run; ci/bench builds and then calls this.

Prints one table: medians over repeated runs, as ratios against references measured in the
same run. Rows:
  start-to-exit latency (hyperfine): `runc run` of a native static hello bundle (the
    reference for a container start), `runw run` of the same bundle; per executor built,
    hello.wasm and big.wasm (a ~6 MB Rust program) in a rootfs holding only the module,
    cold (compile cache cleared before every run) and warm, and the executor alone on the
    host (compiling, and loading the artifact the cache holds) to show the container's share;
    for a compiling executor also big.wasm `exit` warm (the 6 MB module's start alone);
  memory: peak RSS of one `runw run` of hello.wasm (GNU time), and the total PSS of 100 idle
    wasm containers started at once against 100 idle native containers under runc;
  CPU-bound: SHA-256 of 100 MB (hash.wasm 100) in a container (warm) against the same
    executor on the host (with the artifact the cache holds), as measured and less the
    container's share of any start, in wall time and in CPU time (user+sys of the whole
    process tree: os.wait4's rusage of `runw run`, which waits for the container's init, so
    the container's processes are counted). The start share is the same module hashing
    nothing (hash.wasm 0) in a container less on the host. The four run in interleaved
    rounds (host, container, host 0, container 0; max(20, runs) rounds, 5 for an
    interpreter, whose 40 s runs make a start's error negligible but move by a few percent
    from one run to the next), so that a change in the
    machine's load falls on all alike and every container start comes as long after the
    previous cgroup move as the others: a `cgroup.procs` write waits for an RCU grace period
    (6-8 ms) when no move came in the last ~20 ms, so a start share taken from starts back
    to back (as the hello rows are) is short by that much. The target is checked on CPU time
    less the start's CPU, the code's own cost, which the load of other processes does not
    move; wall time is printed beside it (on an idle machine it is what a user sees, and
    it includes waits for a CPU and the start's blocking in the kernel, which are not code);
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
  warm starts of big.wasm: runw of native hello, and per compiling executor big.wasm `exit`
    (returns at once: the start of a 6 MB module) and big.wasm whole, warm, in interleaved
    rounds (max(40, runs)) so that load falls on all alike, each start 50 ms after the
    previous one ends (so each pays the cgroup move's RCU grace period, as a start on a node
    that is not starting containers back to back does); medians against runw's native start.
Then checks the targets: warm hello no slower than `runc run` of native hello; warm at
least 5x faster than cold on big.wasm; a warm start of big.wasm (`exit`) at most 1.5x runw's
native start, back to back (hyperfine rows) and spaced (interleaved rounds); CPU-bound code within 2 percent; 100 wasm starts at
once at least at runc's rate (wall time and p99 no longer than runc's for native hello; runw's
native hello too); serving
throughput at least `wasmtime serve`'s (within 5%); warm time to the first response at most
2x the native server's.

Usage: ci/bench.py [runs] [concurrent|services|cpu|big]   (default 30; cold big.wasm runs a
fifth of that, at least 3; `concurrent`, `services`, `cpu` or `big` measures and checks only
those rows)
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


CPU_ROUNDS = max(20, RUNS)
CPU_ROUNDS_INTERPRETED = 5


def wall_and_cpu_ms(argv, env):
    """Wall time and CPU time (user+sys) in ms of one run of `argv` to its exit. The CPU time
    is os.wait4's rusage of the child, which holds that of every descendant it waited for:
    `runw run` waits for the container's init (libcontainer clones it as runw's child), so
    the container's processes are counted."""
    with open(f"{WORK}/run.stderr", "w+") as stderr:
        began = time.monotonic()
        child = subprocess.Popen(argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            stderr.seek(0)
            sys.exit(f"bench: {' '.join(argv)} exited {child.returncode}: {stderr.read().strip()}")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def hash_commands(executor):
    """{(where, megabytes): (argv, env)}: `runw run` of hash.wasm 100 and 0 in a container
    (a bundle each), and the same executor running them on the host (with the artifact the
    cache holds, if it compiles)."""
    binary, src = f"{TARGET}/release/{executor}", f"{WASM_DIR}/hash.wasm"
    compiled = has_compiled_form(executor)
    art, digest = artifact(executor, "hash") if compiled else (None, None)
    commands = {}
    for megabytes in (100, 0):
        path = wasm_bundle(f"cpu-{executor}-hash{megabytes}", "hash", [str(megabytes)])
        commands[("container", megabytes)] = (
            [RUNW, "--root", f"{WORK}/s-cpu-{executor}", "run", "--bundle", path, "hash"], env_for(executor))
        commands[("host", megabytes)] = (
            ["sh", "-c", f"{binary} --precompiled 3:{digest} {src} -- hash {megabytes} 3<{art}"] if compiled
            else [binary, src, "--", "hash", str(megabytes)], {})
    return commands


def cpu_rounds(executor):
    """{(where, megabytes): [(wall ms, CPU ms)]} of hash.wasm 100 and 0 on the host and in a
    container, run in interleaved rounds in that order (the module's doc says why)."""
    commands = hash_commands(executor)
    order = [("host", 100), ("container", 100), ("host", 0), ("container", 0)]
    # The empty runs once first: they fill the compile cache (one entry per module, whatever
    # its arguments) and the page cache.
    for key in order[2:]:
        wall_and_cpu_ms(*commands[key])
    rounds = CPU_ROUNDS if has_compiled_form(executor) else CPU_ROUNDS_INTERPRETED
    runs = {key: [] for key in order}
    for _ in range(rounds):
        for key in order:
            runs[key].append(wall_and_cpu_ms(*commands[key]))
    return runs


BIG_ROUNDS = max(40, RUNS)


def big_module_starts():
    """Warm starts of big.wasm (6 MB) against runw's own native start, in interleaved rounds
    (runw native hello, then per compiled executor big.wasm `exit` and big.wasm whole), so that
    load falls on all alike: the start of a multi-MB module (`exit`: loaded, instantiated,
    returns at once) and the whole program (its own work included). Returns the target checks:
    a warm start of the module at most 1.5x runw's native start."""
    native = native_bundle("big-rounds-native", ["busybox", "echo", "hello"])
    subjects = {"native": ([RUNW, "--root", f"{WORK}/s-big-rounds", "run", "--bundle", native, "n"], {})}
    for ex in filter(has_compiled_form, EXECUTORS):
        for variant, args in (("exit", ["exit"]), ("whole", [])):
            path = wasm_bundle(f"big-rounds-{ex}-{variant}", "big", args)
            subjects[(ex, variant)] = (
                [RUNW, "--root", f"{WORK}/s-big-rounds", "run", "--bundle", path, "b"], env_for(ex))
    for argv, env in subjects.values():
        wall_and_cpu_ms(argv, env)  # fills the compile cache and the page cache
    walls = {key: [] for key in subjects}
    for _ in range(BIG_ROUNDS):
        for key, (argv, env) in subjects.items():
            # Every start comes as long after the previous one: a cgroup move waits for an RCU
            # grace period unless another came within ~20 ms (see the CPU-bound rows), so a
            # start right after a short one would be cheaper than one after a long one.
            time.sleep(0.05)
            walls[key].append(wall_and_cpu_ms(argv, env)[0])
    median = {key: statistics.median(values) for key, values in walls.items()}
    ref = median["native"]
    print(f"{'warm starts of big.wasm (6.0 MB)':<52} {'median ms':>10} {'vs runw':>8}")
    print(f"{'runw run, native hello (reference)':<52} {ref:>10.1f} {1:>7.2f}x")
    checks = []
    for key, value in median.items():
        if key == "native":
            continue
        ex, variant = key
        what = "start only (big.wasm exit)" if variant == "exit" else "whole program"
        print(f"{f'runw run, {what}, warm ({ex})':<52} {value:>10.1f} {value / ref:>7.2f}x")
        if variant == "exit":
            checks.append((f"warm start of a 6 MB module ({ex}), spaced, at most 1.5x runw's native start",
                           value <= 1.5 * ref, f"{value:.1f} vs {ref:.1f} ms ({value / ref:.2f}x)"))
    print(f"  (medians of {BIG_ROUNDS} interleaved rounds; the whole program adds its own work: parsing,")
    print("  a regex, assembling wasm)")
    print()
    return checks


def percent_change(value, reference):
    return f"{(value / reference - 1) * 100:+.1f}%"


def cpu_table(executor, runs):
    """The CPU-bound rows of `executor`, (label, wall ms, CPU ms), from cpu_rounds's runs:
    the host's (the reference), the container's, and the container's less its start share."""
    wall = {key: statistics.median(w for w, _ in values) for key, values in runs.items()}
    cpu = {key: statistics.median(c for _, c in values) for key, values in runs.items()}
    # What a container adds to any start (hash.wasm 0 in a container less on the host) is not
    # the cost of running code: the code's share is the rest.
    share_wall = wall[("container", 0)] - wall[("host", 0)]
    share_cpu = cpu[("container", 0)] - cpu[("host", 0)]
    how = "precompiled" if has_compiled_form(executor) else "interpreting"
    return [
        (f"{executor} on the host, {how} (reference)", wall[("host", 100)], cpu[("host", 100)]),
        (f"runw run, warm ({executor})", wall[("container", 100)], cpu[("container", 100)]),
        (f"  less the container start share ({share_wall:.1f} ms, CPU {share_cpu:.1f})",
         wall[("container", 100)] - share_wall, cpu[("container", 100)] - share_cpu),
    ]


def cpu_bound():
    """The CPU-bound table; returns its target checks, on CPU time (the module's doc says why)."""
    print(f"{'CPU-bound: SHA-256 of 100 MB':<52} {'median ms':>10} {'vs host':>8} {'CPU ms':>9} {'vs host':>8}")
    checks = []
    for ex in EXECUTORS:
        runs = cpu_rounds(ex)
        rows = cpu_table(ex, runs)
        (_, host_wall, host_cpu), (_, wall, cpu), (_, code_wall, code_cpu) = rows
        for label, w, c in rows:
            print(f"{label:<52} {w:>10.1f} {w / host_wall:>7.2f}x {c:>9.1f} {c / host_cpu:>7.2f}x")
        detail = (f"CPU {percent_change(code_cpu, host_cpu)}, wall {percent_change(code_wall, host_wall)} "
                  f"(start included: CPU {percent_change(cpu, host_cpu)}, "
                  f"wall {percent_change(wall, host_wall)}; {len(runs[('host', 100)])} rounds)")
        checks.append((f"CPU-bound code in a container ({ex}) within 2% of the host",
                       code_cpu <= 1.02 * host_cpu, detail))
    print("  (medians of interleaved rounds: host, container, and both with hash.wasm 0 for the start")
    print("  share; CPU = user+sys of the whole process tree; the target is checked on CPU time)")
    print()
    return checks


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
    if ONLY == "cpu":
        return report(cpu_bound())
    if ONLY == "big":
        return report(big_module_starts())
    rows = []  # (section, label, value, unit, ratio-reference key or None)
    results = {}

    native = native_bundle("native", ["busybox", "echo", "hello"])
    results["runc"] = hyperfine(f"runc --root {WORK}/s-runc run --bundle {native} n1", RUNS)
    rows.append(("start", "runc run, native hello (reference)", results["runc"], "runc"))
    results["runw-native"] = hyperfine(f"{RUNW} --root {WORK}/s-runw run --bundle {native} n2", RUNS)
    rows.append(("start", "runw run, native hello", results["runw-native"], "runc"))

    hello = wasm_bundle("hello", "hello")
    big = wasm_bundle("big", "big")
    big_exit = wasm_bundle("big-exit", "big", ["exit"])
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
        if has_compiled_form(ex):
            # The start of the 6 MB module alone: big.wasm `exit` returns at once.
            run = with_env(env, f"{RUNW} --root {WORK}/s-{ex} run --bundle {big_exit} big")
            results[f"{ex}-big-exit-warm"] = hyperfine(run, RUNS)
            rows.append(("start", f"runw run, big.wasm exit, warm ({ex})", results[f"{ex}-big-exit-warm"], "runc"))
        results[f"{ex}-rss"] = peak_rss_mib(f"{RUNW} --root {WORK}/s-{ex} run --bundle {hello} rss", env)

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
    big_checks = big_module_starts()
    cpu_checks = cpu_bound()
    checks = big_checks + many_starts() + services()
    for ex in EXECUTORS:
        checks += [
            (f"warm hello.wasm ({ex}) no slower than runc run of native hello",
             results[f"{ex}-hello-warm"] <= ref, f"{results[f'{ex}-hello-warm']:.1f} vs {ref:.1f} ms"),
            *([(f"warm start of a 6 MB module ({ex}), back to back, at most 1.5x runw's native start",
                results[f"{ex}-big-exit-warm"] <= 1.5 * results["runw-native"],
                f"{results[f'{ex}-big-exit-warm']:.1f} vs {results['runw-native']:.1f} ms "
                f"({results[f'{ex}-big-exit-warm'] / results['runw-native']:.2f}x)")]
              if has_compiled_form(ex) else []),
            (f"warm big.wasm ({ex}) at least 5x faster than cold",
             results[f"{ex}-big-cold"] >= 5 * results[f"{ex}-big-warm"] or not has_compiled_form(ex),
             f"{results[f'{ex}-big-cold'] / results[f'{ex}-big-warm']:.1f}x"
             + ("" if has_compiled_form(ex) else " (an interpreter: nothing to cache, not applicable)")),
        ]
    return report(checks + cpu_checks)


if __name__ == "__main__":
    sys.exit(main())
