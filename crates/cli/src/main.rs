//! `aorta`: confidential stream processing for medical sensor data.

mod attest_cmd;
mod bench;
mod bench_latency;
mod bench_scale;
mod demo;
mod fleet;
mod kbs_cmd;
mod metrics;
mod pipeline;
mod roles;
mod tee;
mod transport;
mod validate_cmd;

/// The controller's key directory (a library: `aorta-controller`).
use aorta_controller as keystore;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aorta",
    version,
    about = "Confidential stream processing for medical sensor data"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the whole pipeline on one machine: keys, simulated TEE worker, gateway, results.
    Demo(demo::DemoArgs),
    /// Data controller: create keys, enrol and revoke devices.
    #[command(subcommand)]
    Keys(roles::KeysCmd),
    /// Gateway: read samples, batch, pad, encrypt, append to the spool.
    Gateway(roles::GatewayArgs),
    /// Key broker: release fleet keys to attested workers; rotate, retire, revoke, audit.
    #[command(subcommand)]
    Kbs(kbs_cmd::KbsCmd),
    /// Worker: attest, obtain the fleet key, process partitions (the
    /// arguments of `aorta-worker`, the enclave's binary: `aorta worker --help`).
    #[command(disable_help_flag = true)]
    Worker {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Clinician: decrypt results, print a summary, write CSV.
    Results(roles::ResultsArgs),
    /// Remote attestation: verify TEE evidence offline.
    #[command(subcommand)]
    Attest(attest_cmd::AttestCmd),
    /// Detect R peaks in a WFDB ECG record; print their sample indices, one per line.
    Detect(validate_cmd::DetectArgs),
    /// Heart rate variability (time, frequency, non-linear) of an RR-interval file.
    Hrv(validate_cmd::HrvArgs),
    /// Atrial fibrillation episodes in a recording's beats: one `onset_s,offset_s` line each.
    Af(validate_cmd::AfArgs),
    /// Run the analytics over the shared recordings and write docs/validation.md.
    Validate(validate_cmd::ValidateArgs),
    /// Throughput of plain vs secure vs secure+simulated-TEE on the paper's big load.
    Bench(bench::BenchArgs),
    /// One bench mode in a fresh process (used by `aorta bench`).
    #[command(hide = true)]
    BenchRun(bench::BenchRunArgs),
    /// Worker throughput against worker processes, spool and NATS.
    BenchScale(bench_scale::ScaleArgs),
    /// One worker process of `bench-scale`.
    #[command(hide = true)]
    BenchScaleWorker(bench_scale::ScaleWorkerArgs),
    /// End-to-end latency of a live, paced gateway with following workers.
    BenchLatency(bench_latency::LatencyArgs),
    /// One worker process of `bench-latency`.
    #[command(hide = true)]
    BenchLatencyWorker(bench_latency::LatencyWorkerArgs),
}

/// Errors print as one message chain (`error: a: b: c`), whatever
/// `RUST_BACKTRACE` says; `AORTA_BACKTRACE=1` adds the backtrace.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if std::env::var_os("AORTA_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("{}", e.backtrace());
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Demo(a) => demo::run(a),
        Cmd::Keys(k) => roles::keys(k),
        Cmd::Gateway(a) => roles::gateway(a),
        Cmd::Kbs(k) => kbs_cmd::run(k),
        Cmd::Worker { args } => aorta_enclave::main_with(args).map_err(|e| anyhow::anyhow!(e)),
        Cmd::Results(a) => roles::results(a),
        Cmd::Attest(a) => attest_cmd::run(a),
        Cmd::Detect(a) => validate_cmd::detect_cmd(a),
        Cmd::Validate(a) => validate_cmd::validate(a),
        Cmd::Hrv(a) => validate_cmd::hrv_cmd(a),
        Cmd::Af(a) => validate_cmd::af_cmd(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::BenchRun(a) => bench::run_one(a),
        Cmd::BenchScale(a) => bench_scale::run(a),
        Cmd::BenchScaleWorker(a) => bench_scale::worker(a),
        Cmd::BenchLatency(a) => bench_latency::run(a),
        Cmd::BenchLatencyWorker(a) => bench_latency::worker(a),
    }
}

/// Default output directory of the demo.
pub fn default_out() -> PathBuf {
    PathBuf::from("aorta-demo")
}
