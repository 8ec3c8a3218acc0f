//! Checks on a parsed request's rows that need the request's features: its
//! size in cells, and the request data its on-demand features read.

use alloc::format;

use super::Rows;
use crate::api::{ApiError, Limits};
use crate::artifact::{BundleContents, InputSource, ServiceFeature};

impl Rows {
    /// Refuses with 413 a request whose cells (entity rows × the columns it makes
    /// verge hold per row: the join keys, the features answered and the model's
    /// inputs read for them) pass `limits.max_cells`. The row limit alone lets a
    /// wide service or many features ask for more memory than an instance has,
    /// and the answer's JSON grows with cells, not rows.
    pub(super) fn check_cells(&self, features: usize, limits: Limits) -> Result<(), ApiError> {
        let width = features.saturating_add(self.keys.len());
        let cells = self.len.saturating_mul(width);
        if cells > limits.max_cells {
            return Err(ApiError {
                status: 413,
                message: format!(
                    "{} entity rows × {width} columns = {cells} cells; the limit is {} per request: split the request, or raise the limit (`verge serve --max-cells`)",
                    self.len, limits.max_cells
                ),
            });
        }
        Ok(())
    }

    /// Refuses a request for an on-demand feature (among the service's
    /// features `wanted`) whose request data the caller did not send at all:
    /// Feast raises for it, and computing from a null the caller never chose
    /// would answer a silent null (or a prediction from an imputed value). A
    /// null sent for a row is the caller's choice and is kept.
    pub(super) fn check_request_data(
        &self,
        contents: &BundleContents,
        wanted: impl IntoIterator<Item = usize>,
    ) -> Result<(), ApiError> {
        for i in wanted {
            let Some(ServiceFeature::OnDemand { name, inputs, .. }) = contents.features.get(i)
            else {
                continue;
            };
            for input in inputs {
                let InputSource::Request(r) = *input else {
                    continue;
                };
                let r = r as usize;
                if !self.request_sent.get(r).copied().unwrap_or(false) {
                    let field = contents.request.get(r).map_or("?", |f| f.name.as_str());
                    return Err(ApiError::bad_request(format!(
                        "on-demand feature `{name}` needs request field `{field}`: send it in `entities` (as Feast's client does) or in `request_context`, one value per entity row"
                    )));
                }
            }
        }
        Ok(())
    }
}
