//! The spool as a whole deployment's transport ([`Deployment`]), and the
//! clinician's view of its committed results ([`SpoolResults`]).

use std::collections::BTreeMap;

use aorta_transport::{
    CommitLog, CommittedRecords, Consumer, Deployment, PartitionId, Producer, TransportError,
};

use crate::{io_err, LogReader, Spool};

impl Deployment for Spool {
    fn describe(&self) -> String {
        format!("spool {}", self.root().display())
    }

    fn label(&self) -> String {
        "spool".into()
    }

    fn prepare(&self, _partitions: u32) -> Result<(), TransportError> {
        // Logs are created as they are first written.
        Spool::open(self.root()).map(|_| ())
    }

    fn dangerous_reset(&self, partitions: u32) -> Result<(), TransportError> {
        for t in ["ingest", "results", "control"] {
            let p = self.root().join(t);
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
            }
        }
        self.prepare(partitions)
    }

    fn dangerous_delete_outputs(&self) -> Result<(), TransportError> {
        let p = self.root().join("results");
        std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
        std::fs::create_dir(&p).map_err(io_err(&p))
    }

    fn producer(&self, p: PartitionId) -> Result<Box<dyn Producer + Send>, TransportError> {
        Ok(Box::new(self.ingest_appender(p)?))
    }

    fn control_producer(&self) -> Result<Box<dyn Producer + Send>, TransportError> {
        Ok(Box::new(self.control_appender()?))
    }

    fn worker_input(&self, p: PartitionId) -> Result<Box<dyn Consumer + Send>, TransportError> {
        Ok(Box::new(self.ingest_reader(p)?))
    }

    fn control_input(&self) -> Result<Box<dyn Consumer + Send>, TransportError> {
        Ok(Box::new(self.control_reader()?))
    }

    fn commit_log(
        &self,
        p: PartitionId,
        _owner: &str,
    ) -> Result<Box<dyn CommitLog + Send>, TransportError> {
        Ok(Box::new(self.results_owner(p)?))
    }

    fn committed_results(&self) -> Box<dyn CommittedRecords + Send> {
        Box::new(SpoolResults::new(self.clone()))
    }
}

/// The results logs of a spool, followed incrementally (new partitions are
/// picked up as workers create them).
#[derive(Debug)]
pub struct SpoolResults {
    spool: Spool,
    logs: BTreeMap<u32, Follow>,
    /// Corrupt regions skipped and discontinuities seen.
    pub corrupt: u64,
}

#[derive(Debug)]
struct Follow {
    reader: LogReader,
    pending: Vec<Vec<u8>>,
}

impl SpoolResults {
    pub fn new(spool: Spool) -> Self {
        Self {
            spool,
            logs: BTreeMap::new(),
            corrupt: 0,
        }
    }
}

impl CommittedRecords for SpoolResults {
    fn poll_committed(&mut self, out: &mut Vec<(u32, Vec<u8>)>) -> Result<usize, TransportError> {
        for p in self.spool.result_partitions()? {
            if let std::collections::btree_map::Entry::Vacant(v) = self.logs.entry(p.0) {
                v.insert(Follow {
                    reader: self.spool.results_reader(PartitionId(p.0))?,
                    pending: Vec::new(),
                });
            }
        }
        let before = out.len();
        let mut first_error = None;
        let mut committed = Vec::new();
        for (p, f) in &mut self.logs {
            // One unreadable partition must not hold back the others.
            match f.reader.follow_committed(&mut f.pending, &mut committed) {
                Ok(c) => self.corrupt += c,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            out.extend(committed.drain(..).map(|r| (*p, r)));
        }
        match first_error {
            Some(e) if out.len() == before => Err(e),
            _ => Ok(out.len() - before),
        }
    }
}
