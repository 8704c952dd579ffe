"""A private OpenSSH server on 127.0.0.1 for the vendor-delivery tests: the vendor's SFTP endpoint.

Debian's `openssh-server` (scripts/services/install_debian_packages.sh installs it) runs from a temporary folder
with its own config, a fresh ed25519 host key and one authorized client key; it serves SFTP (internal-sftp) to the
user running the tests, as root or not. `drop_connections()` kills the server's per-connection processes, which
cuts every open session the way a network drop or a vendor restart does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")
SSH_KEYGEN = "ssh-keygen"
_START_SECONDS = 30.0


class SshdUnavailableError(RuntimeError):
    """OpenSSH's server is not installed, or did not start."""


@dataclass(frozen=True)
class SftpServer:
    """A running sshd and what a client needs to reach it."""

    host: str
    port: int
    user: str
    client_key: Path
    """Private key the server accepts (OpenSSH format, no passphrase)."""
    host_key: str
    """The server's public host key as `<type> <base64>`, the value delivery settings pin."""
    root: Path
    """A folder the SFTP user can write to: the vendor's side."""
    pid: int
    log_path: Path
    """sshd's log, with one line per SFTP operation."""

    def sftp_log(self) -> list[str]:
        """The SFTP operations logged so far (`open "..." flags ...`, `posix-rename old "..." new "..."`, ...)."""
        path = self.log_path.with_name("sftp.log")
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def session_pids(self) -> list[int]:
        """The server's per-connection processes (children of the listener, and theirs)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        found: list[int] = []
        pending = list(children.get(self.pid, []))
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending.extend(children.get(pid, []))
        return found

    def drop_connections(self) -> int:
        """Kill every open session at once (the listener stays up for the next connection); returns how many."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def public_key_text(private_key: Path) -> str:
    """`<type> <base64>` of a key pair's public half, without its comment."""
    kind, blob = private_key.with_suffix(".pub").read_text().split()[:2]
    return f"{kind} {blob}"


def new_key_pair(folder: Path, name: str) -> Path:
    """A fresh ed25519 key pair under folder; returns the private key's path."""
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / name
    _keygen(private, name)
    return private


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            return connection.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@contextlib.contextmanager
def running_sshd(workdir: Path) -> Iterator[SftpServer]:
    """Start a private sshd under workdir; stopped (with its sessions) on exit."""
    if not SSHD.exists():
        raise SshdUnavailableError(
            f"{SSHD} is missing: run scripts/services/install_debian_packages.sh (Debian package openssh-server)"
        )
    if os.geteuid() == 0:
        # sshd running as root insists on its privilege-separation folder; Debian creates it only when the service
        # starts, which never happens in a container.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = new_key_pair(workdir / "server", "host_key")
    client_key = new_key_pair(workdir / "client", "vendor_delivery")
    authorized = workdir / "server" / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    root = workdir / "vendor"
    root.mkdir()
    port = _free_port()
    config = workdir / "server" / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {host_key}",
                f"PidFile {workdir / 'server' / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "AuthenticationMethods publickey",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                # The temporary folders are not root-owned with strict modes; this server lives for one test.
                "StrictModes no",
                "UsePAM no",
                "AllowTcpForwarding no",
                "X11Forwarding no",
                "PrintMotd no",
                # OpenSSH's sftp-server logs every operation (open, rename, remove) at INFO; -e sends it to stderr,
                # which sshd runs through the user's shell, so a test can read what the client did, in order.
                f"Subsystem sftp {SFTP_SERVER} -e -l INFO 2>>{workdir / 'server' / 'sftp.log'}",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    log_path = workdir / "server" / "sshd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + _START_SECONDS
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SshdUnavailableError(f"sshd did not start on port {port}: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield SftpServer(
            host="127.0.0.1",
            port=port,
            # The account sshd runs as (not $USER, which a runner may leave stale): the only one it can log in.
            user=pwd.getpwuid(os.geteuid()).pw_name,
            client_key=client_key,
            host_key=public_key_text(host_key),
            root=root,
            pid=process.pid,
            log_path=log_path,
        )
    finally:
        server = SftpServer("127.0.0.1", port, "", client_key, "", root, process.pid, log_path)
        server.drop_connections()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
