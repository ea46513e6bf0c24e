//! `aorta-worker`: the binary a TEE measures (Gramine manifest in
//! `deploy/gramine/`, the confidential-VM image in `deploy/container/`). It
//! runs the worker role and nothing else; `aorta worker` takes the same
//! arguments.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "aorta-worker",
    version,
    about = "Aorta's worker for a TEE: attest, obtain the fleet key, process partitions"
)]
struct Cli {
    #[command(flatten)]
    worker: aorta_enclave::WorkerArgs,
}

fn main() -> std::process::ExitCode {
    match aorta_enclave::worker(Cli::parse().worker) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
