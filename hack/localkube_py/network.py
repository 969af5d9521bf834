"""Node networking: kernel settings, the CNI bridge config, and the clean-up `down` needs.

The CNI conflist (bridge + host-local + portmap; containerd adds loopback itself) is read by containerd;
kube-proxy programs Services with iptables. `down` deletes the cni0 bridge and every KUBE-*/CNI-* chain
and rule so the host is as before. Called by `cluster`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from localkube_py.files import write_if_changed
from localkube_py.settings import CNI_BRIDGE, NODE_POD_CIDR, Layout
from localkube_py.shell import run

SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
}
OWNED_CHAIN = re.compile(r"(KUBE-|CNI-)[A-Za-z0-9_-]*")
CONFLIST_NAME = "10-modelops.conflist"


def prepare_kernel() -> None:
    """Load br_netfilter (bridged pod traffic must pass iptables for Services) and enable forwarding."""
    if not Path("/proc/sys/net/bridge").exists():
        run(["modprobe", "br_netfilter"])
    for key, value in SYSCTLS.items():
        Path("/proc/sys", key).write_text(value)


def conflist(ipam_dir: Path) -> dict[str, object]:
    """The CNI network: a bridge with hairpin mode so a pod can reach itself through its Service."""
    bridge = {
        "type": "bridge",
        "bridge": CNI_BRIDGE,
        "isGateway": True,
        "ipMasq": True,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": NODE_POD_CIDR}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": str(ipam_dir),
        },
    }
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}}
    return {"cniVersion": "1.0.0", "name": "modelops", "plugins": [bridge, portmap]}


def write_cni_config(layout: Layout) -> None:
    """Write the conflist where containerd's CRI plugin looks (its conf_dir)."""
    content = json.dumps(conflist(layout.state / "cni" / "ipam"), indent=2) + "\n"
    write_if_changed(layout.cni_conf_dir / CONFLIST_NAME, content)


def delete_bridge() -> None:
    """Remove the cni0 bridge if it exists."""
    if Path("/sys/class/net", CNI_BRIDGE).exists():
        run(["ip", "link", "delete", CNI_BRIDGE], check=False)


def _without_owned_chains(dump: str) -> str | None:
    """An iptables-save table dump minus our chains and every rule naming them; None if none found."""
    kept, changed = [], False
    for line in dump.splitlines():
        if line.startswith((":", "-A")) and OWNED_CHAIN.search(line):
            changed = True
            continue
        kept.append(line)
    return "\n".join(kept) + "\n" if changed else None


def remove_iptables_chains() -> None:
    """Drop the KUBE-* (kube-proxy) and CNI-* (bridge/portmap plugins) chains from every table."""
    for save, restore in (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore")):
        if shutil.which(save) is None:
            continue
        for table in ("nat", "filter", "mangle"):
            dump = run([save, "-t", table], check=False).stdout
            cleaned = _without_owned_chains(dump) if "*" + table in dump else None
            if cleaned is not None:
                _restore(restore, cleaned)


def _restore(command: str, content: str) -> None:
    subprocess.run([command], input=content, text=True, check=True, capture_output=True)
