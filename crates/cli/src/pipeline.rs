//! The pieces the role commands, the demo and the bench share: replaying
//! sources through gateway senders (`aorta_gateway::driver`), and the
//! clinician's side read through the controller's key directory (what is
//! printed and written is `aorta_clinic::report`'s).

use std::path::Path;

use anyhow::{Context, Result};

use crate::keystore::KeyStore;

pub use aorta_gateway::driver::{replay, Chunks, ReplayStream};

pub use aorta_clinic::{ResultRow, ResultStats};

pub use aorta_clinic::report::{summary_table, HRV_BANDS_NOTE};

/// Decrypts every committed result envelope in the spool with the
/// clinician's key, authenticating the sender as the fleet (an attested worker).
pub fn read_results(
    keys: &KeyStore,
    source: &mut Box<dyn aorta_transport::CommittedRecords + Send>,
) -> Result<(Vec<ResultRow>, ResultStats)> {
    let mut d = decryptor(keys)?;
    let rows = aorta_clinic::feed::read_all(source, &mut d)?;
    Ok((rows, d.stats))
}

/// The clinician's decryptor for the deployment in `keys`.
pub fn decryptor(keys: &KeyStore) -> Result<aorta_clinic::Decryptor> {
    Ok(aorta_clinic::Decryptor::new(
        keys.clinician_secret()?,
        keys.fleet_publics()?.into_iter().collect(),
        keys.patients()?
            .into_iter()
            .map(|p| (p.stream, p.name))
            .collect(),
    ))
}

/// Writes the tidy CSV: `patient,window_start,algorithm,metric,value,quality`.
pub fn write_csv(rows: &[ResultRow], path: &Path) -> Result<()> {
    std::fs::write(path, aorta_clinic::report::csv(rows))
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes the trend plot of up to `max` patients (`aorta_clinic::report::trends_svg`).
pub fn write_trends_svg(rows: &[ResultRow], path: &Path, max: usize) -> Result<()> {
    std::fs::write(path, aorta_clinic::report::trends_svg(rows, max))
        .with_context(|| format!("writing {}", path.display()))
}

/// Spool-only helpers for the unit tests.
#[cfg(test)]
pub mod testing {
    use anyhow::Result;

    use aorta_spool::Spool;

    use super::{decryptor, ResultRow, ResultStats};
    use crate::keystore::KeyStore;

    /// [`read_results`] of a spool.
    pub fn read_spool_results(
        keys: &KeyStore,
        spool: &Spool,
    ) -> Result<(Vec<ResultRow>, ResultStats)> {
        let mut d = decryptor(keys)?;
        let mut source = aorta_spool::SpoolResults::new(spool.clone());
        let rows = aorta_clinic::feed::read_all(&mut source, &mut d)?;
        let mut stats = d.stats;
        stats.corrupt += source.corrupt;
        Ok((rows, stats))
    }
}
