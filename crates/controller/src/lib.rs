//! The data controller's side (trusted: hospital premises): its key
//! directory, enrolment and revocation of devices, and the attestation
//! policy. `aorta keys` and the demo call it; gateways and the clinician
//! read the directory through it.
//!
//! ```text
//! KEYS/controller.key  controller.pub   Ed25519: signs enrolments and the attestation policy
//! KEYS/fleet/<epoch>.key|.pub           X25519 by epoch: gateways encrypt to the current one;
//!                                       only the key broker reads the secrets (see aorta-kbs)
//! KEYS/policy.json     policy.sig       the attestation policy, signed by the controller
//! KEYS/audit.log                        the key broker's hash-chained decisions
//! KEYS/clinician.key   clinician.pub    X25519: results are encrypted to it
//! KEYS/sim-tee-root.key                 the simulated TEE's throwaway platform root (development only)
//! KEYS/patients.tsv                     name <TAB> stream pseudonym <TAB> serial <TAB> algorithms
//! KEYS/devices/<stream>.key             each device's X25519 identity key (lives on its gateway)
//! ```
//!
//! Secret files are written with mode 0600 and hex-encoded.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aorta_envelope::enrolment::sign_enrolment;
use aorta_envelope::{KemKeypair, KemPublic, KemSecret, SigningKey, VerifyingKey};
use aorta_gateway::GatewayError;
use aorta_gateway::Profile;
use aorta_wire::{AlertThresholds, AlgorithmSet, Enrolment, EnrolmentStatus, StreamId};
use rand::RngCore;
use zeroize::Zeroizing;

/// Why the controller could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControllerError {
    /// The directory or a request is not usable as it stands (the message
    /// says what to do).
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error(transparent)]
    Kbs(#[from] aorta_kbs::KbsError),
    #[error(transparent)]
    Crypto(#[from] aorta_envelope::CryptoError),
    #[error(transparent)]
    KeyFile(#[from] aorta_deploy::keydir::KeyFileError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Wire(#[from] aorta_wire::WireError),
    #[error(transparent)]
    Evidence(#[from] aorta_attest::providers::ProviderError),
}

impl From<std::io::Error> for ControllerError {
    fn from(e: std::io::Error) -> Self {
        Self::Io {
            path: "key directory".into(),
            reason: e.to_string(),
        }
    }
}

impl From<std::num::ParseIntError> for ControllerError {
    fn from(e: std::num::ParseIntError) -> Self {
        Self::Refused(format!("patients.tsv: {e}"))
    }
}

impl From<std::num::ParseFloatError> for ControllerError {
    fn from(e: std::num::ParseFloatError) -> Self {
        Self::Refused(format!("patients.tsv: {e}"))
    }
}

pub type Result<T, E = ControllerError> = std::result::Result<T, E>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(ControllerError::Refused(format!($($t)*))) };
}

macro_rules! refused {
    ($($t:tt)*) => { ControllerError::Refused(format!($($t)*)) };
}

pub struct KeyStore {
    dir: PathBuf,
}

/// One enrolled patient, as the controller knows them.
#[derive(Debug, Clone)]
pub struct Patient {
    pub name: String,
    pub stream: StreamId,
    pub serial: u32,
    pub algorithms: AlgorithmSet,
    pub profile: Profile,
    pub max_rate: f64,
    pub revoked: bool,
    pub alerts: AlertThresholds,
}

/// A secret key file: hex, mode 0600, written atomically (as the key broker's).
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let hexed = Zeroizing::new(hex::encode(bytes));
    Ok(aorta_kbs::store::write_atomic(
        path,
        hexed.as_bytes(),
        0o600,
    )?)
}

fn read_32(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    Ok(aorta_deploy::keydir::read_secret(path)?)
}

impl KeyStore {
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.join("controller.key").exists() {
            bail!(
                "{} is not a key directory (no controller.key); create one with `aorta keys init --dir {}`",
                dir.display(),
                dir.display()
            );
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// A directory holding at least the controller's *public* key: what a
    /// worker (controller.pub; sim-tee-root.key for the simulated TEE only)
    /// or a gateway (plus policy, patients.tsv, devices/) is given. The
    /// controller's secret key need not be there.
    pub fn open_shared(dir: &Path) -> Result<Self> {
        aorta_deploy::keydir::SharedKeys::open(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Creates a fresh deployment's keys. Refuses to overwrite.
    pub fn init(dir: &Path) -> Result<Self> {
        if dir.join("controller.key").exists() {
            bail!(
                "{} already holds keys; refusing to overwrite",
                dir.display()
            );
        }
        fs::create_dir_all(dir.join("devices"))?;
        let mut rng = rand_core::UnwrapErr(rand_core::OsRng);
        let controller = SigningKey::generate(&mut rng);
        write_secret(&dir.join("controller.key"), &controller.expose_secret())?;
        fs::write(
            dir.join("controller.pub"),
            controller.verifying_key().to_hex(),
        )?;
        let kp = KemKeypair::generate(&mut rng);
        write_secret(&dir.join("clinician.key"), kp.secret.expose_secret())?;
        fs::write(dir.join("clinician.pub"), kp.public.to_hex())?;
        aorta_kbs::Store::init(dir, &mut rng)?;
        let sim = SigningKey::generate(&mut rng);
        write_secret(&dir.join("sim-tee-root.key"), &sim.expose_secret())?;
        // The name ↔ pseudonym link is as sensitive as a secret key.
        aorta_kbs::store::write_atomic(&dir.join("patients.tsv"), b"", 0o600)?;
        let ks = Self {
            dir: dir.to_path_buf(),
        };
        ks.install_policy(default_policy(&sim.verifying_key())?.as_bytes())?;
        Ok(ks)
    }

    /// Signs `json` with the controller key and installs it as the policy.
    pub fn install_policy(&self, json: &[u8]) -> Result<aorta_kbs::SignedPolicy> {
        Ok(aorta_kbs::store::install_policy(
            &self.dir,
            json,
            &self.controller()?,
        )?)
    }

    /// The installed policy, its signature checked.
    pub fn policy(&self) -> Result<aorta_kbs::SignedPolicy> {
        Ok(aorta_kbs::SignedPolicy::load(
            &self.dir,
            &self.controller_pub()?,
        )?)
    }

    /// The key broker's view of this directory.
    pub fn store(&self) -> Result<aorta_kbs::Store> {
        Ok(aorta_kbs::Store::open(&self.dir)?)
    }

    fn secret(&self, file: &str) -> Result<Zeroizing<[u8; 32]>> {
        read_32(&self.dir.join(file))
    }

    fn public_hex(&self, file: &str) -> Result<String> {
        Ok(aorta_deploy::keydir::read_public(&self.dir.join(file))?)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn controller(&self) -> Result<SigningKey> {
        Ok(SigningKey::from_bytes(&*self.secret("controller.key")?))
    }
    pub fn controller_pub(&self) -> Result<VerifyingKey> {
        Ok(VerifyingKey::from_hex(&self.public_hex("controller.pub")?)?)
    }
    /// Every epoch's fleet public key (results name the epoch that authenticates them).
    pub fn fleet_publics(&self) -> Result<Vec<(u32, KemPublic)>> {
        Ok(self.store()?.publics()?)
    }
    pub fn clinician_pub(&self) -> Result<KemPublic> {
        Ok(KemPublic::from_hex(&self.public_hex("clinician.pub")?)?)
    }
    pub fn clinician_secret(&self) -> Result<KemSecret> {
        Ok(KemSecret::from_bytes(*self.secret("clinician.key")?))
    }
    pub fn device_secret(&self, stream: StreamId) -> Result<KemSecret> {
        Ok(KemSecret::from_bytes(
            *self.secret(&format!("devices/{stream}.key"))?,
        ))
    }

    /// A gateway sender for an enrolled patient: one HPKE session with the
    /// verified fleet key, authenticated by the patient's device key.
    pub fn stream_sender<R: rand_core::CryptoRng + rand_core::RngCore>(
        &self,
        p: &Patient,
        session: aorta_wire::SessionId,
        fleet: &aorta_kbs::VerifiedFleet,
        rng: &mut R,
    ) -> Result<aorta_gateway::StreamSender> {
        Ok(aorta_gateway::StreamSender::new(
            p.stream,
            session,
            p.profile,
            fleet,
            &self.device_secret(p.stream)?,
            rng,
        )?)
    }

    pub fn patients(&self) -> Result<Vec<Patient>> {
        let text = fs::read_to_string(self.dir.join("patients.tsv"))?;
        let mut latest: BTreeMap<String, Patient> = BTreeMap::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let f: Vec<&str> = line.split('\t').collect();
            let (name, stream, serial, algos, rate, cadence, status, alerts) = match f[..] {
                [a, b, c, d, e, g, h] => (a, b, c, d, e, g, h, None),
                [a, b, c, d, e, g, h, k] => (a, b, c, d, e, g, h, Some(k)),
                _ => bail!(
                    "patients.tsv line {}: expected 7 or 8 tab-separated fields",
                    i + 1
                ),
            };
            let alerts = match alerts {
                None => AlertThresholds::default(),
                Some(a) => {
                    let v: Vec<u8> = a.split('/').filter_map(|x| x.parse().ok()).collect();
                    let [brady_bpm, tachy_bpm, pause_ds, signal_loss_s] = v[..] else {
                        bail!("patients.tsv line {}: bad alert thresholds '{a}'", i + 1);
                    };
                    AlertThresholds {
                        brady_bpm,
                        tachy_bpm,
                        pause_ds,
                        signal_loss_s,
                    }
                }
            };
            let stream = StreamId::from_hex(stream)
                .ok_or_else(|| refused!("patients.tsv line {}: bad stream id", i + 1))?;
            let p = Patient {
                name: name.to_string(),
                stream,
                serial: serial.parse()?,
                algorithms: AlgorithmSet::parse(algos).map_err(ControllerError::Refused)?,
                profile: Profile::for_rate(rate.parse()?, cadence.parse()?)?,
                max_rate: rate.parse()?,
                revoked: status == "revoked",
                alerts,
            };
            latest.insert(name.to_string(), p);
        }
        Ok(latest.into_values().collect())
    }

    pub fn patient(&self, name: &str) -> Result<Patient> {
        self.patients()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                refused!(
                    "no enrolled patient named '{name}' in {}",
                    self.dir.display()
                )
            })
    }

    /// Enrols a new device for `name` with the default alert thresholds.
    pub fn enrol(
        &self,
        name: &str,
        algorithms: AlgorithmSet,
        max_rate: f64,
        cadence_ms: u32,
        effective_from_us: i64,
    ) -> Result<(Patient, Vec<u8>)> {
        self.enrol_with_alerts(
            name,
            algorithms,
            max_rate,
            cadence_ms,
            effective_from_us,
            AlertThresholds::default(),
        )
    }

    /// Enrols `name`, which the caller knows is not enrolled yet (a fresh
    /// key directory filled in bulk: the demo, benchmarks), without looking
    /// it up: enrolling n patients costs O(n), not O(n²).
    pub fn enrol_new(
        &self,
        name: &str,
        algorithms: AlgorithmSet,
        max_rate: f64,
        cadence_ms: u32,
    ) -> Result<(Patient, Vec<u8>)> {
        self.enrol_inner(
            name,
            algorithms,
            (max_rate, cadence_ms, 0),
            AlertThresholds::default(),
            false,
        )
    }

    /// Enrols a new device for `name` (or re-enrols with a higher serial),
    /// returning the signed record to publish on the control topic.
    pub fn enrol_with_alerts(
        &self,
        name: &str,
        algorithms: AlgorithmSet,
        max_rate: f64,
        cadence_ms: u32,
        effective_from_us: i64,
        alerts: AlertThresholds,
    ) -> Result<(Patient, Vec<u8>)> {
        self.enrol_inner(
            name,
            algorithms,
            (max_rate, cadence_ms, effective_from_us),
            alerts,
            true,
        )
    }

    fn enrol_inner(
        &self,
        name: &str,
        algorithms: AlgorithmSet,
        (max_rate, cadence_ms, effective_from_us): (f64, u32, i64),
        alerts: AlertThresholds,
        look_up: bool,
    ) -> Result<(Patient, Vec<u8>)> {
        alerts
            .validate()
            .map_err(|e| ControllerError::Refused(e.to_string()))?;
        if name.is_empty() || name.contains(['\t', '\n']) {
            bail!("patient name must be non-empty and contain no tabs or newlines");
        }
        let mut rng = rand_core::UnwrapErr(rand_core::OsRng);
        let existing = if look_up {
            self.patient(name).ok()
        } else {
            None
        };
        let (stream, serial) = match &existing {
            Some(p) => (p.stream, p.serial + 1),
            None => {
                let mut id = [0u8; 16];
                rng.fill_bytes(&mut id);
                (StreamId(id), 1)
            }
        };
        let device = match &existing {
            Some(_) => KemKeypair::from_secret(self.device_secret(stream)?)?,
            None => {
                let kp = KemKeypair::generate(&mut rng);
                write_secret(
                    &self.dir.join("devices").join(format!("{stream}.key")),
                    kp.secret.expose_secret(),
                )?;
                kp
            }
        };
        let patient = Patient {
            name: name.to_string(),
            stream,
            serial,
            algorithms,
            profile: Profile::for_rate(max_rate, cadence_ms)?,
            max_rate,
            revoked: false,
            alerts,
        };
        let signed = self.sign_and_record(&patient, &device.public, effective_from_us)?;
        Ok((patient, signed))
    }

    /// Signs the enrolment record of `p` (status from `p.revoked`) and
    /// appends the matching row to `patients.tsv`.
    fn sign_and_record(
        &self,
        p: &Patient,
        device: &KemPublic,
        effective_from_us: i64,
    ) -> Result<Vec<u8>> {
        let e = Enrolment {
            status: if p.revoked {
                EnrolmentStatus::Revoked
            } else {
                EnrolmentStatus::Active
            },
            bucket: p.profile.bucket,
            serial: p.serial,
            algorithms: p.algorithms,
            cadence_ms: p.profile.cadence_ms,
            effective_from_us,
            stream: p.stream,
            device_key: device.0,
            recipients: vec![self.clinician_pub()?.0],
            alerts: p.alerts,
        };
        let signed = sign_enrolment(&self.controller()?, &e);
        let mut f = {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let f = fs::OpenOptions::new()
                .append(true)
                .mode(0o600)
                .open(self.dir.join("patients.tsv"))?;
            // Directories made by older versions had it world-readable.
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            f
        };
        let a = p.alerts;
        writeln!(
            f,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}/{}/{}/{}",
            p.name,
            p.stream,
            p.serial,
            p.algorithms.names(),
            p.max_rate,
            p.profile.cadence_ms,
            if p.revoked { "revoked" } else { "active" },
            a.brady_bpm,
            a.tachy_bpm,
            a.pause_ds,
            a.signal_loss_s
        )?;
        Ok(signed)
    }

    /// Revokes a patient's enrolment; returns the signed revocation record.
    pub fn revoke(&self, name: &str) -> Result<Vec<u8>> {
        let p = self.patient(name)?;
        let device = KemKeypair::from_secret(self.device_secret(p.stream)?)?;
        let revoked = Patient {
            serial: p.serial + 1,
            revoked: true,
            ..p
        };
        self.sign_and_record(&revoked, &device.public, 0)
    }
}

/// The policy `aorta keys init` installs: only the simulated TEE, only this
/// binary's measurement, evidence at most 5 minutes old. Production
/// deployments replace it (`aorta keys policy`) with their SGX, TDX, SNP or
/// Nitro measurements (see docs/deploy-sgx.md and docs/deploy-cvm.md).
pub fn default_policy(sim_root: &VerifyingKey) -> Result<String> {
    Ok(format!(
        r#"{{
  "simulated": {{
    "root": "{}",
    "measurements": ["{}"]
  }},
  "allow_tcb_status": ["UpToDate"],
  "max_age_secs": 300
}}
"#,
        sim_root.to_hex(),
        hex::encode(aorta_attest::select::self_measurement()?)
    ))
}
