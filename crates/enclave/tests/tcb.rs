//! Issue 20: what the enclave measures is the worker and nothing else, and
//! the architecture's dependency invariants hold (ARCHITECTURE.md,
//! "Architecture invariants"). Read from `cargo tree` of the locked
//! workspace (no network), so a new dependency that breaks a rule fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Distinct `name version` of `package`'s normal dependency tree (itself included).
fn tree(package: &str, features: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = cmd.output().expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            // "name v1.2.3 (/path)" or "name v1.2.3 (*)": keep name and version.
            let mut f = l.split_whitespace();
            Some(format!("{} {}", f.next()?, f.next()?))
        })
        .collect()
}

fn names(t: &BTreeSet<String>) -> BTreeSet<&str> {
    t.iter().filter_map(|p| p.split(' ').next()).collect()
}

/// What the enclave must not link: web framework and dashboard, MQTT, the
/// key broker's server, the vendor evidence verifiers, report generation,
/// benchmarks, the other roles.
const NOT_IN_THE_ENCLAVE: &[&str] = &[
    "axum",
    "hyper",
    "tower",
    "argon2",
    "rumqttc",
    "aorta-clinic",
    "aorta-gateway",
    "aorta-kbs",
    "aorta-attest-verify",
    "aorta-attest-dcap",
    "aorta-attest-snp",
    "aorta-attest-nitro",
    "dcap-qvl",
    "sev",
    "rsa",
    "x509-cert",
    "aorta-validation",
    "criterion",
    "indicatif",
    "aorta-cli",
    "aorta-testkit",
];

#[test]
fn the_enclave_binary_links_only_the_worker() {
    let t = tree("aorta-enclave", &[]);
    let n = names(&t);
    let found: Vec<&&str> = NOT_IN_THE_ENCLAVE
        .iter()
        .filter(|x| n.contains(**x))
        .collect();
    assert!(found.is_empty(), "the enclave links {found:?}");
    for needed in [
        "aorta-worker",
        "aorta-runtime",
        "aorta-analytics",
        "aorta-envelope",
        "aorta-wire",
        "aorta-spool",
        "aorta-nats",
        "aorta-attest",
        "aorta-kbs-client",
        "aorta-metrics",
    ] {
        assert!(n.contains(needed), "the enclave lacks {needed}");
    }
    assert!(
        t.len() <= 180,
        "{} distinct packages in aorta-worker's tree (at most 180)",
        t.len()
    );
    // The Nitro build adds only the NSM driver.
    let nitro = tree("aorta-enclave", &["nitro"]);
    let extra: Vec<&String> = nitro.difference(&t).collect();
    assert!(
        names(&nitro)
            .iter()
            .all(|x| !NOT_IN_THE_ENCLAVE.contains(x)),
        "{extra:?}"
    );
}

#[test]
fn core_crates_do_no_io_and_gateways_link_no_broker_server() {
    let io = [
        "tokio",
        "mio",
        "socket2",
        "async-nats",
        "rumqttc",
        "axum",
        "aorta-spool",
        "aorta-nats",
        "aorta-transport",
        "aorta-kbs",
        "aorta-kbs-client",
        "aorta-metrics",
    ];
    for core in [
        "aorta-wire",
        "aorta-hrv",
        "aorta-analytics",
        "aorta-runtime",
        "aorta-envelope",
    ] {
        let t = tree(core, &[]);
        let n = names(&t);
        let found: Vec<&&str> = io.iter().filter(|x| n.contains(**x)).collect();
        assert!(found.is_empty(), "{core} depends on {found:?}");
    }
    // Verifiers are pure: no network, no transports.
    for v in [
        "aorta-attest-verify",
        "aorta-attest-dcap",
        "aorta-attest-snp",
        "aorta-attest-nitro",
    ] {
        let n = tree(v, &[]);
        let n = names(&n);
        for bad in ["tokio", "async-nats", "rumqttc", "axum", "aorta-transport"] {
            assert!(!n.contains(bad), "{v} depends on {bad}");
        }
    }
    // The clinic knows no transport's internals; gateways link the key
    // broker's client, not its server.
    let clinic = tree("aorta-clinic", &[]);
    let clinic = names(&clinic);
    for bad in ["aorta-spool", "aorta-nats"] {
        assert!(!clinic.contains(bad), "aorta-clinic depends on {bad}");
    }
    let gateway = tree("aorta-gateway", &[]);
    assert!(
        !names(&gateway).contains("aorta-kbs"),
        "the gateway links the broker's server"
    );
}

fn manifest_list(text: &str, key: &str) -> Vec<String> {
    let start = text
        .find(&format!("{key} = ["))
        .unwrap_or_else(|| panic!("no {key}"));
    let end = start + text[start..].find(']').expect("list ends");
    text[start..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_gramine_manifest_measures_this_binary_and_trusts_no_untrusted_file() {
    let path = root().join("deploy/gramine/aorta-worker.manifest.template");
    let m = std::fs::read_to_string(&path).unwrap();
    assert!(
        m.contains("libos.entrypoint = \"/aorta-worker\""),
        "entrypoint"
    );
    let argv = manifest_list(&m, "loader.argv");
    assert_eq!(argv.first().map(String::as_str), Some("aorta-worker"));
    assert!(argv.windows(2).any(|w| w == ["--tee", "sgx"]), "{argv:?}");
    let trusted = manifest_list(&m, "sgx.trusted_files");
    let allowed = manifest_list(&m, "sgx.allowed_files");
    assert!(
        trusted.contains(&"file:aorta-worker".to_string()),
        "{trusted:?}"
    );
    assert!(
        !trusted
            .iter()
            .any(|t| t.contains("aorta\"") || t == "file:aorta"),
        "the product binary is measured: {trusted:?}"
    );
    // Nothing the host writes is trusted: not the spool, not the collateral,
    // no secret of the controller.
    for t in &trusted {
        assert!(
            !allowed.iter().any(|a| t.starts_with(a.as_str())),
            "{t} is both trusted and allowed"
        );
        for bad in ["spool", "collateral", ".key", "policy", "patients"] {
            assert!(!t.contains(bad), "{t} is trusted");
        }
    }
    assert!(allowed.iter().any(|a| a.contains("spool")), "{allowed:?}");
    let sgx = std::fs::read_to_string(root().join("docs/deploy-sgx.md")).unwrap();
    assert!(
        sgx.contains("deploy/gramine/aorta-worker.manifest.template"),
        "docs/deploy-sgx.md points to the manifest"
    );
    let cvm = std::fs::read_to_string(root().join("docs/deploy-cvm.md")).unwrap();
    assert!(
        cvm.contains("aorta-worker --tee"),
        "the CVM guide runs aorta-worker"
    );
}

#[test]
fn the_kubernetes_image_is_built_by_a_recipe_in_this_repository() {
    let c = std::fs::read_to_string(root().join("deploy/container/Containerfile")).unwrap();
    assert!(c.contains("RUN scripts/reproducible-build"), "{c}");
    assert!(c.contains("target/enclave/aorta-worker "), "{c}");
    assert!(c.contains("aorta-worker.cdx.json"), "{c}");
    let k = std::fs::read_to_string(root().join("deploy/k8s/aorta-worker.yaml")).unwrap();
    assert!(k.contains("image: REGISTRY/aorta-worker:"), "{k}");
    assert!(
        k.contains("command: [\"/usr/local/bin/aorta-worker\"]"),
        "{k}"
    );
    assert!(c.contains("/usr/local/bin/aorta-worker"), "{c}");
    assert!(root().join("scripts/reproducible-build").exists());
}
