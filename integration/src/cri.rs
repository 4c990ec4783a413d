//! A CRI client doing what kubelet does, over containerd's unix socket (CRI v1, `k8s-cri`).
//! Calls block: tests are plain threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, LinuxContainerConfig, LinuxContainerSecurityContext,
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption,
    PodSandboxConfig, PodSandboxMetadata, PodSandboxStatusRequest, RemovePodSandboxRequest,
    RunPodSandboxRequest, StartContainerRequest, StopPodSandboxRequest,
};
use tonic::transport::{Channel, Endpoint, Uri};

pub use k8s_cri::v1::{ContainerStatus, LinuxContainerResources};

pub struct Cri {
    runtime: tokio::runtime::Runtime,
    client: RuntimeServiceClient<Channel>,
}

/// A pod as the test describes it.
pub struct PodSpec<'a> {
    pub name: &'a str,
    pub annotations: &'a [(&'a str, &'a str)],
    /// Where the containers' CRI logs go (kubelet's `/var/log/pods/...`).
    pub log_dir: &'a Path,
}

pub struct Pod {
    pub id: String,
    pub config: PodSandboxConfig,
}

impl Cri {
    pub fn connect(socket: &Path) -> Cri {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("CRI client: cannot start a tokio runtime: {err}"));
        let socket_name = socket.to_path_buf();
        let socket = socket.to_path_buf();
        let channel = runtime
            .block_on(async move {
                // The URI is a placeholder: the connector dials the unix socket.
                Endpoint::from_static("http://localhost")
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let socket = socket.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(socket).await?;
                            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                        }
                    }))
                    .await
            })
            .unwrap_or_else(|err| {
                panic!(
                    "CRI client: cannot connect to {}: {err}",
                    socket_name.display()
                )
            });
        Cri {
            runtime,
            client: RuntimeServiceClient::new(channel),
        }
    }

    /// RunPodSandbox, on the node's network (no CNI here), as kubelet sends it by default:
    /// a PID namespace per container (CRI `CONTAINER`).
    pub fn run_pod(&mut self, spec: &PodSpec) -> Pod {
        self.run_pod_sharing_pids(spec, false)
    }

    /// RunPodSandbox; `share_process_namespace` is the pod's `shareProcessNamespace: true`:
    /// one PID namespace for the pod (CRI `POD`).
    pub fn run_pod_sharing_pids(&mut self, spec: &PodSpec, share_process_namespace: bool) -> Pod {
        self.run_pod_with(
            spec,
            pid_mode(share_process_namespace),
            NamespaceMode::Node,
            "",
        )
    }

    /// RunPodSandbox as kubelet sends it with the systemd cgroup driver: the pod's cgroup
    /// parent is a slice (`kubepods-burstable-pod<uid>.slice`), which systemd creates.
    pub fn run_pod_in_slice(&mut self, spec: &PodSpec, slice: &str) -> Pod {
        self.run_pod_with(spec, pid_mode(false), NamespaceMode::Node, slice)
    }

    /// RunPodSandbox of a pod with a network namespace of its own (`hostNetwork: false`,
    /// kubelet's default), which containerd gets from its CNI network; a PID namespace per
    /// container.
    pub fn run_pod_on_pod_network(&mut self, spec: &PodSpec) -> Pod {
        self.run_pod_with(spec, NamespaceMode::Container, NamespaceMode::Pod, "")
    }

    fn run_pod_with(
        &mut self,
        spec: &PodSpec,
        pid: NamespaceMode,
        network: NamespaceMode,
        cgroup_parent: &str,
    ) -> Pod {
        let annotations: HashMap<String, String> = spec
            .annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: spec.name.to_owned(),
                uid: format!("{}-uid", spec.name),
                namespace: "default".into(),
                attempt: 0,
            }),
            // kubelet leaves the hostname empty for pods on the node's network: they share
            // the node's UTS namespace, where a runtime must not set one. Other pods are
            // named after themselves.
            hostname: match network {
                NamespaceMode::Node => String::new(),
                _ => spec.name.to_owned(),
            },
            log_directory: spec.log_dir.to_string_lossy().into_owned(),
            annotations,
            linux: Some(LinuxPodSandboxConfig {
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: network as i32,
                        pid: pid as i32,
                        ipc: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                cgroup_parent: cgroup_parent.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        };
        let response = self
            .runtime
            .block_on(self.client.run_pod_sandbox(request))
            .unwrap_or_else(failed("RunPodSandbox"));
        Pod {
            id: response.into_inner().pod_sandbox_id,
            config,
        }
    }

    /// CreateContainer + StartContainer of `image` in `pod`; `command` overrides the
    /// entrypoint when given. Returns the container id; its log is `pod log dir/NAME.log`.
    pub fn start_container(
        &mut self,
        pod: &Pod,
        name: &str,
        image: &str,
        command: &[&str],
    ) -> String {
        self.start_container_with(pod, name, image, command, None)
    }

    /// [`Cri::start_container`] with a memory limit of `memory_bytes`, as kubelet sends a
    /// container's `resources.limits.memory`.
    pub fn start_container_limited(
        &mut self,
        pod: &Pod,
        name: &str,
        image: &str,
        command: &[&str],
        memory_bytes: i64,
    ) -> String {
        let resources = LinuxContainerResources {
            memory_limit_in_bytes: memory_bytes,
            ..Default::default()
        };
        self.start_container_with(pod, name, image, command, Some(resources))
    }

    /// [`Cri::start_container`] with the resources kubelet derives from the container's
    /// limits (`memory_limit_in_bytes`, `cpu_quota`, `cpu_period`, ...).
    pub fn start_container_with(
        &mut self,
        pod: &Pod,
        name: &str,
        image: &str,
        command: &[&str],
        resources: Option<LinuxContainerResources>,
    ) -> String {
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.to_owned(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image.to_owned(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}.log"),
            // kubelet gives each container the pod's namespace options.
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: pod.namespace_options(),
                    ..Default::default()
                }),
                resources,
            }),
            ..Default::default()
        };
        let request = CreateContainerRequest {
            pod_sandbox_id: pod.id.clone(),
            config: Some(config),
            sandbox_config: Some(pod.config.clone()),
        };
        let created = self.runtime.block_on(self.client.create_container(request));
        let id = created
            .unwrap_or_else(failed("CreateContainer"))
            .into_inner()
            .container_id;
        let start = StartContainerRequest {
            container_id: id.clone(),
        };
        self.runtime
            .block_on(self.client.start_container(start))
            .unwrap_or_else(failed("StartContainer"));
        id
    }

    pub fn status(&mut self, id: &str) -> ContainerStatus {
        let request = ContainerStatusRequest {
            container_id: id.to_owned(),
            verbose: false,
        };
        let response = self
            .runtime
            .block_on(self.client.container_status(request))
            .unwrap_or_else(failed("ContainerStatus"));
        response
            .into_inner()
            .status
            .unwrap_or_else(|| panic!("ContainerStatus of {id}: no status in the reply"))
    }

    /// Waits (up to `seconds`, a guard against hangs) for the container to exit.
    pub fn wait_exited(&mut self, id: &str, seconds: u64) -> ContainerStatus {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let status = self.status(id);
            if status.state == ContainerState::ContainerExited as i32 {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "container {id} still {:?} after {seconds}s",
                status.state
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pod's IP address on its CNI network (PodSandboxStatus).
    pub fn pod_ip(&mut self, pod: &Pod) -> String {
        let request = PodSandboxStatusRequest {
            pod_sandbox_id: pod.id.clone(),
            verbose: false,
        };
        let response = self
            .runtime
            .block_on(self.client.pod_sandbox_status(request))
            .unwrap_or_else(failed("PodSandboxStatus"));
        let status = response.into_inner().status;
        let ip = status.and_then(|s| s.network).map(|n| n.ip);
        ip.filter(|ip| !ip.is_empty())
            .unwrap_or_else(|| panic!("pod {} has no IP", pod.id))
    }

    pub fn stop_pod(&mut self, pod: &Pod) {
        let request = StopPodSandboxRequest {
            pod_sandbox_id: pod.id.clone(),
        };
        self.runtime
            .block_on(self.client.stop_pod_sandbox(request))
            .unwrap_or_else(failed("StopPodSandbox"));
    }

    pub fn remove_pod(&mut self, pod: &Pod) {
        let request = RemovePodSandboxRequest {
            pod_sandbox_id: pod.id.clone(),
        };
        self.runtime
            .block_on(self.client.remove_pod_sandbox(request))
            .unwrap_or_else(failed("RemovePodSandbox"));
    }
}

/// kubelet's PID namespace mode for a pod.
fn pid_mode(share_process_namespace: bool) -> NamespaceMode {
    match share_process_namespace {
        true => NamespaceMode::Pod,
        false => NamespaceMode::Container,
    }
}

impl Pod {
    fn namespace_options(&self) -> Option<NamespaceOption> {
        let linux = self.config.linux.as_ref()?;
        linux.security_context.as_ref()?.namespace_options.clone()
    }
}

/// A failed CRI call, as one line naming the call and containerd's message.
fn failed<T>(call: &'static str) -> impl FnOnce(tonic::Status) -> T {
    move |status| panic!("{call} failed: {}", status.message())
}

/// The lines of a CRI log file (`TIME STREAM P|F TEXT`) without the prefix.
pub fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3).map(str::to_owned))
        .collect()
}

pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}
