//! A CNI bridge network of a test's own, for containerd's pods: containernetworking-plugins'
//! `bridge`, `host-local` and `loopback` (Debian's, in `/usr/lib/cni`), a conflist in the
//! test's CNI config dir, its own bridge and /24, and IPAM state in the test's dir.
//!
//! The bridge is made here, with the host's address on it, before any pod: the plugin then
//! only attaches pods to it (`isGateway` would also turn on the host's IP forwarding, which
//! reaching a pod from the host does not need). Dropping it deletes the bridge; containerd
//! removes each pod's veth and network namespace (kept under its state dir) with the pod.

use std::path::Path;
use std::process::Command;

pub struct PodNetwork {
    /// The bridge's name (`runwcniN`).
    pub bridge: String,
    /// `10.213.N`: pods get `.2` on, the host has `.1`.
    prefix: String,
}

impl PodNetwork {
    /// Creates a bridge and subnet that no other test (of this or another process) holds.
    pub fn create() -> PodNetwork {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let salt = std::process::id() * 7;
        for _ in 0..200 {
            let n = (salt + NEXT.fetch_add(1, Ordering::Relaxed)) % 200 + 20;
            let bridge = format!("runwcni{n}");
            // `ip link add` fails if the name is taken: that subnet is someone else's.
            if ip(&["link", "add", "name", &bridge, "type", "bridge"]) {
                let network = PodNetwork {
                    bridge,
                    prefix: format!("10.213.{n}"),
                };
                let gateway = format!("{}/24", network.gateway());
                assert!(ip(&["addr", "add", &gateway, "dev", &network.bridge]));
                assert!(ip(&["link", "set", &network.bridge, "up"]));
                return network;
            }
        }
        panic!("no free runwcniN bridge name")
    }

    /// The host's address on the bridge.
    pub fn gateway(&self) -> String {
        format!("{}.1", self.prefix)
    }

    /// Whether `ip` is a pod's address on this network (in its /24, not the host's).
    pub fn holds(&self, ip: &str) -> bool {
        ip.starts_with(&format!("{}.", self.prefix)) && ip != self.gateway()
    }

    /// Writes the conflist into containerd's CNI config dir `conf_dir`; IPAM state goes to
    /// `state_dir`.
    pub fn write_conflist(&self, conf_dir: &Path, state_dir: &Path) {
        let conflist = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": self.bridge,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{
                            "subnet": format!("{}.0/24", self.prefix),
                            "gateway": self.gateway(),
                        }]],
                        "dataDir": state_dir.join("ipam"),
                    },
                },
                { "type": "loopback" },
            ],
        });
        std::fs::create_dir_all(conf_dir).unwrap();
        let path = conf_dir.join("10-runw-test.conflist");
        std::fs::write(path, serde_json::to_string_pretty(&conflist).unwrap()).unwrap();
    }
}

impl PodNetwork {
    /// The interfaces attached to the bridge (a pod's veth while the pod lives).
    pub fn attached(&self) -> String {
        let out = Command::new("ip")
            .args(["-o", "link", "show", "master", &self.bridge])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether host-local (state in `state_dir`) holds a lease for `ip`.
    pub fn leased(&self, state_dir: &Path, ip: &str) -> bool {
        state_dir.join("ipam").join(&self.bridge).join(ip).exists()
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        ip(&["link", "delete", &self.bridge]);
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}
