//! NATS JetStream as a whole deployment's transport.

use std::time::Duration;

use aorta_transport::{
    AnyMembership, CommitLog, CommittedRecords, Consumer, Deployment, PartitionId, Producer,
    TransportError,
};

use crate::lease::{Group, Leases};
use crate::Nats;

impl Deployment for Nats {
    fn describe(&self) -> String {
        format!(
            "NATS {} (server {})",
            self.config().redacted(),
            self.server_version()
        )
    }

    fn label(&self) -> String {
        format!("NATS {}", self.server_version())
    }

    fn prepare(&self, partitions: u32) -> Result<(), TransportError> {
        self.ensure_layout(partitions)
    }

    fn dangerous_reset(&self, partitions: u32) -> Result<(), TransportError> {
        self.delete_layout()?;
        self.ensure_layout(partitions)
    }

    fn dangerous_delete_outputs(&self) -> Result<(), TransportError> {
        self.delete_outputs()
    }

    fn producer(&self, p: PartitionId) -> Result<Box<dyn Producer + Send>, TransportError> {
        Ok(Box::new(Nats::producer(self, p)))
    }

    fn control_producer(&self) -> Result<Box<dyn Producer + Send>, TransportError> {
        Ok(Box::new(Nats::control_producer(self)))
    }

    fn worker_input(&self, p: PartitionId) -> Result<Box<dyn Consumer + Send>, TransportError> {
        Ok(Box::new(self.input(p)?))
    }

    fn control_input(&self) -> Result<Box<dyn Consumer + Send>, TransportError> {
        let mut control = Nats::control_input(self)?;
        // The worker reads enrolments to their end between envelopes.
        control.idle_wait = Duration::ZERO;
        Ok(Box::new(control))
    }

    fn commit_log(
        &self,
        p: PartitionId,
        owner: &str,
    ) -> Result<Box<dyn CommitLog + Send>, TransportError> {
        Ok(Box::new(self.output(p, owner)?))
    }

    fn committed_results(&self) -> Box<dyn CommittedRecords + Send> {
        Box::new(self.results())
    }

    fn holds_leases(&self) -> bool {
        true
    }

    fn membership(
        &self,
        me: &str,
        lease: Duration,
        partitions: u32,
    ) -> Result<AnyMembership, TransportError> {
        Ok(Box::new(Group {
            leases: Leases::open(self, me, lease)?,
            partitions,
        }))
    }
}
