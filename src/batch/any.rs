//! A batch on either journal: the SQLite file of one process ([`Batch`]) or the PostgreSQL
//! journal many workers share ([`SharedBatch`]). The C surface and the command hold this, so
//! that adding inputs, running and reading them work the same on both.

use super::shared::SharedBatch;
use super::{Batch, Item, RunOptions};
use crate::error::Result;
use crate::operations::Operation;
use std::path::Path;

pub enum AnyBatch<'c> {
    Local(Box<Batch<'c>>),
    Shared(Box<SharedBatch<'c>>),
}

impl AnyBatch<'_> {
    pub fn output_dir(&self) -> &Path {
        match self {
            AnyBatch::Local(b) => b.output_dir(),
            AnyBatch::Shared(b) => b.output_dir(),
        }
    }

    pub fn items(&self) -> &[Item] {
        match self {
            AnyBatch::Local(b) => b.items(),
            AnyBatch::Shared(b) => b.items(),
        }
    }

    pub fn add_file(
        &mut self,
        path: &Path,
        root: Option<&Path>,
        operation: Option<Operation>,
        settings: Option<&str>,
    ) -> Result<()> {
        match self {
            AnyBatch::Local(b) => b.add_file(path, root, operation, settings),
            AnyBatch::Shared(b) => b.add_file(path, root, operation, settings),
        }
    }

    pub fn add_folder(
        &mut self,
        folder: &Path,
        operation: Option<Operation>,
        settings: Option<&str>,
        note: &mut dyn FnMut(String),
    ) -> Result<usize> {
        match self {
            AnyBatch::Local(b) => b.add_folder(folder, operation, settings, note),
            AnyBatch::Shared(b) => b.add_folder(folder, operation, settings, note),
        }
    }

    pub fn run(
        &mut self,
        options: &RunOptions,
        progress: &mut dyn FnMut(usize, &Item),
    ) -> Result<()> {
        options.validate()?;
        match self {
            AnyBatch::Local(b) => b.run(options, progress),
            AnyBatch::Shared(b) => b.run(options, progress),
        }
    }
}
