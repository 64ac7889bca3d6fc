"""Helpers of the cluster tests (a module of its own: tests/python has a conftest too): paths,
bundle building, an HTTP client, HAProxy's runtime socket, a started cluster's description and a
load generator that records every response. Environment: CASCADE_BIN (build/release/cascade)."""
import http.client
import json
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASCADE_BIN = Path(os.environ.get("CASCADE_BIN", ROOT / "build" / "release" / "cascade"))
SERVE_CLUSTER = ROOT / "scripts" / "serve_cluster.sh"
CLUSTER_RELOAD = ROOT / "scripts" / "cluster_reload.sh"
# A cheap funnel (two fast channels, the linear ranker twice) with small iALS factors.
FUNNEL = "popularity+ials > norm(quota=100,pool=50) > lr@30 > lr@10 > mmr(diversity=0.1)"
CACHE_TTL_MS = 200


def build_bundle(out: Path, seed: int) -> Path:
    r = subprocess.run([str(CASCADE_BIN), "bundle", "--data", str(ROOT / "data" / "ml-latest-small"),
                        "--dataset", "ml-latest", "--threads", "2", "--funnel", FUNNEL, "--lambdas", "0",
                        "--out", str(out), "recall.channels.ials.factors=16",
                        "recall.channels.ials.iters=5", f"seed={seed}",
                        f"mlruns={out.parent / 'mlruns'}"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, f"cascade bundle (seed {seed}) failed:\n{r.stderr[-3000:]}"
    return out


def http_json(port: int, method: str, path: str, body=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def hap(sock_path: str, command: str) -> str:
    """One command on HAProxy's runtime socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        s.sendall(command.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


@dataclass
class Cluster:
    run_dir: Path
    env: dict

    @property
    def port(self) -> int:
        return int(self.env["PORT"])

    @property
    def replica_ports(self) -> list:
        return [int(p) for p in self.env["REPLICA_PORTS"].split()]

    def replica_pid(self, i: int) -> int:
        """Pid of replica r{i} (1-based)."""
        return int((self.run_dir / f"replica-{i}.pid").read_text())

    def server_status(self, name: str) -> str:
        """HAProxy's status of server `name` in backend `replicas` (UP, DOWN, DRAIN, UP 1/2...)."""
        for line in hap(self.env["HAPROXY_SOCK"], "show stat").splitlines():
            f = line.split(",")
            if len(f) > 17 and f[0] == "replicas" and f[1] == name:
                return f[17]
        raise KeyError(name)


@dataclass
class Outcome:
    """One request of the load: when it started and ended (time.monotonic), and its answer."""
    user: str
    start: float
    end: float
    status: int = 0  # 0: no HTTP answer (connection refused, reset, timeout)
    error: str = ""
    version: str = ""
    items: tuple = ()

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Load:
    """Threads sending GET /recommend/{user}?k=10 over keep-alive connections, round robin over
    `users`, until stop(). A failed request (non-200 or no answer) is recorded and the
    connection reopened."""
    port: int
    users: list
    threads: int = 4
    outcomes: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(self.threads)]

    def _run(self, index: int):
        conn = None
        i = index
        mine = []
        while not self._stop.is_set():
            user = self.users[i % len(self.users)]
            i += self.threads
            o = Outcome(user, time.monotonic(), 0.0)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", f"/recommend/{user}?k=10")
                r = conn.getresponse()
                body = r.read()
                o.status = r.status
                if r.status == 200:
                    d = json.loads(body)
                    o.version = d["bundle_version"]
                    o.items = tuple(it["item_id"] for it in d["items"])
                else:
                    o.error = body.decode(errors="replace")[:200]
            except Exception as e:  # noqa: BLE001 -- any failure is a failed request, counted
                o.error = f"{type(e).__name__}: {e}"
                if conn is not None:
                    conn.close()
                conn = None
            o.end = time.monotonic()
            mine.append(o)
        if conn is not None:
            conn.close()
        with self._lock:
            self.outcomes.extend(mine)

    def start(self):
        for w in self._workers:
            w.start()
        return self

    def stop(self):
        self._stop.set()
        for w in self._workers:
            w.join(timeout=30)
        self.outcomes.sort(key=lambda o: o.start)
        return self.outcomes


def bundle_users(bundle: Path, n: int) -> list:
    """The first n raw user ids of the bundle."""
    lines = (bundle / "data" / "user_ids.tsv").read_text().splitlines()[1:]
    return [line.split("\t")[1] for line in lines[:n]]
