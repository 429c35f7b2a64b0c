"""A single-node Apache Kafka broker (KRaft) for development and tests, installed from Maven
Central and run as a plain Java process: no Docker, nothing downloaded from anywhere else.

Maven resolves ``org.apache.kafka:kafka_2.13`` and its runtime dependencies into a cache
folder once; the broker then runs ``kafka.Kafka`` from those jars with a generated
``server.properties``, its log and data in a state folder (``.altaviz/kafka`` by default).

>>> broker = LocalBroker(Path("/tmp/altaviz-kafka"), port=19092)  # doctest: +SKIP
>>> broker.start()  # doctest: +SKIP
'127.0.0.1:19092'
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from altaviz.core.errors import ServiceError
from altaviz.stream import StreamError

KAFKA_VERSION = "4.4.0"
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.17"
DEFAULT_PORT = 9092
START_TIMEOUT_S = 60.0

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.altaviz</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{slf4j}</version>
    </dependency>
  </dependencies>
</project>
"""

# Broker settings for one node. Retention is unlimited: replayed history carries its
# original (old) timestamps, which time-based retention would delete at once.
SERVER_PROPERTIES = """process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions={partitions}
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.ms=-1
log.message.timestamp.after.max.ms=86400000
"""

LOG4J2 = """Configuration:
  status: warn
  Appenders:
    File:
      name: file
      fileName: {log}
      PatternLayout:
        pattern: "%d{{ISO8601}} %p %c{{1}} %m%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        ref: file
"""


class BrokerError(StreamError, ServiceError):
    """The local broker cannot be installed or started; the message says why in one line."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    home: Path


def default_cache() -> Path:
    """Where the broker's jars are kept between runs (``$XDG_CACHE_HOME/altaviz``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "altaviz" / f"kafka-{KAFKA_VERSION}"


class LocalBroker:
    """A Kafka broker owned by this project: install, start, stop, status.

    ``home`` holds its data, configuration, log and PID file; ``port`` is the client port
    (the controller listens on ``port + 1``).
    """

    def __init__(
        self,
        home: Path,
        port: int = DEFAULT_PORT,
        partitions: int = 16,
        cache: Path | None = None,
    ) -> None:
        self.home = Path(home).absolute()
        self.port = port
        self.partitions = partitions
        self.cache = cache or default_cache()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def _pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    # ------------------------------------------------------------------ install

    def install(self) -> Path:
        """Resolve the broker's jars from Maven Central into the cache (once); their folder."""
        lib = self.cache / "lib"
        if (lib / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            return lib
        java, mvn = shutil.which("java"), shutil.which("mvn")
        if java is None or mvn is None:
            raise BrokerError("the local Kafka broker needs Java 17+ and Maven on the PATH")
        self.cache.mkdir(parents=True, exist_ok=True)
        (self.cache / "pom.xml").write_text(
            POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION)
        )
        staging = self.cache / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        done = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(self.cache / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            detail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise BrokerError(f"cannot fetch Kafka {KAFKA_VERSION} from Maven: {detail[0]}")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        return lib

    # ------------------------------------------------------------------ life cycle

    def status(self) -> BrokerStatus:
        pid = self._pid()
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.home)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Start the broker unless it runs already; its bootstrap address once it accepts."""
        if self._pid() is not None:
            return self.bootstrap
        if _listening(self.port):
            raise BrokerError(f"port {self.port} is taken by another process")
        lib = self.install()
        data = self.home / "data"
        config = self._configure(data)
        classpath = f"{lib}/*"
        if not (data / "meta.properties").exists():
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            # "=" keeps an ID that begins with "-" (base64url can) from reading as an option.
            format_args = [f"--cluster-id={cluster}", "-c", str(config)]
            formatted = subprocess.run(
                [*self._java(classpath), "kafka.tools.StorageTool", "format", *format_args],
                capture_output=True,
                text=True,
            )
            if formatted.returncode != 0:
                raise BrokerError(f"cannot format {data}: {formatted.stderr.strip()[-300:]}")
        with open(self.home / "broker.out", "ab") as sink:
            process = subprocess.Popen(
                [*self._java(classpath), "kafka.Kafka", str(config)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the caller's terminal leaves it running
            )
        self._pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._pid_file.unlink(missing_ok=True)
                raise BrokerError(f"the broker exited at start-up; see {self.log_file}")
            if _listening(self.port):
                return self.bootstrap
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"the broker did not listen on {self.port} within {timeout_s:g} s")

    def stop(self, timeout_s: float = 30.0, kill: bool = False) -> bool:
        """Stop the broker (SIGTERM, a clean shutdown; SIGKILL with ``kill`` or after the
        timeout). Returns whether one was running."""
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self._pid_file.unlink(missing_ok=True)
        return True

    def _configure(self, data: Path) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(
            SERVER_PROPERTIES.format(
                port=self.port, controller=self.port + 1, data=data, partitions=self.partitions
            )
        )
        (self.home / "log4j2.yaml").write_text(LOG4J2.format(log=self.log_file))
        return config

    def _java(self, classpath: str) -> list[str]:
        return [
            shutil.which("java") or "java",
            "-Xmx512m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
            "-cp",
            classpath,
        ]

    def _pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            self._pid_file.unlink(missing_ok=True)
            return None
        return pid


def free_port_pair() -> int:
    """A free port whose successor is free too (a broker's client and controller ports)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise BrokerError("no two adjacent free ports on 127.0.0.1")


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child once it has exited
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child: started by another process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) != "Z"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
