//! Writing a snapshot's tables: each view's winners split by shard
//! ([`shard_of`]) and copied column by column into one [`SnapshotBuilder`] per
//! shard, and the choice of how many shards to try.

use anyhow::{Context as _, Result, bail};
use rayon::prelude::*;
use verge_core::artifact::{CellRef, ColumnSlot, SnapshotBuilder, ViewBuilder, shard_of};
use verge_core::{ContentId, Timestamp};

use super::Sharding;
use super::columns::{Pick, key_of};
use super::tables::Table;

/// The most shards one snapshot may be split into.
pub(super) const MAX_SHARDS: u32 = 65_536;

/// The shard counts to try, in order: one for [`Sharding::None`] and
/// [`Sharding::Count`]; for [`Sharding::MaxBytes`], a first guess from the
/// estimated row bytes and seven larger ones, in case a shard comes out too big.
pub(super) fn shard_counts(sharding: Sharding, tables: &[Table<'_>]) -> Result<Vec<u32>> {
    Ok(match sharding {
        Sharding::None => vec![1],
        Sharding::Count(0) => bail!("--shards must be at least 1"),
        Sharding::Count(n) => {
            // More shards than keys only makes empty shards (and a file and a
            // ref each): 100,000 shards of 3 keys is a typo, not a plan.
            let keys = tables
                .iter()
                .map(|t| t.picks.len())
                .max()
                .unwrap_or(0)
                .max(1);
            if u64::from(n) > keys as u64 || n > MAX_SHARDS {
                bail!(
                    "--shards {n} is more than the snapshot's {keys} keys (or the limit of {MAX_SHARDS}); give at most {}, or --max-shard-bytes to size shards by bytes",
                    keys.min(MAX_SHARDS as usize)
                );
            }
            vec![n]
        }
        Sharding::MaxBytes(max) => {
            let total: u64 = tables
                .iter()
                .map(|t| {
                    t.picks
                        .iter()
                        .map(|p| {
                            t.segments
                                .get(p.seg as usize)
                                .map_or(0, |s| s.bytes_at(p.row as usize))
                                as u64
                        })
                        .sum::<u64>()
                })
                .sum();
            // Leave 10% for metadata, padding and an uneven hash split.
            let budget = max.saturating_mul(9) / 10;
            if budget < 4096 {
                bail!("--max-shard-bytes {max} is too small; give at least 8192");
            }
            let first = u32::try_from(total.div_ceil(budget).max(1))
                .context("the snapshot would need more than 2^32 shards")?;
            (0..8u32)
                .map(|i| first.saturating_add(first.div_ceil(4).max(1) * i))
                .collect()
        }
    })
}

/// Writes every table into `count` snapshots. With `consume`, each input column
/// is released as soon as it is copied (and the tables are left empty), so the
/// input and the snapshot are never both whole in memory.
pub(super) fn build_shards(
    registry_id: ContentId,
    window: (Timestamp, Timestamp),
    tables: &mut [Table<'_>],
    count: u32,
    consume: bool,
) -> Result<Vec<Vec<u8>>> {
    let mut builders: Vec<SnapshotBuilder> = (0..count)
        .map(|i| {
            let b = SnapshotBuilder::new(registry_id, window.0, window.1);
            if count > 1 { b.shard(i, count) } else { b }
        })
        .collect();
    for t in tables.iter_mut() {
        // Split the (key-sorted) winners by shard, keeping their order.
        let per_shard: Vec<Vec<Pick>> = if count == 1 {
            vec![if consume {
                std::mem::take(&mut t.picks)
            } else {
                t.picks.clone()
            }]
        } else {
            let mut split = vec![Vec::new(); count as usize];
            for &p in &t.picks {
                let key = key_of(&t.segments, p).context("internal: a winner lost its key")?;
                if let Some(list) = split.get_mut(shard_of(&key, count) as usize) {
                    list.push(p);
                }
            }
            split
        };
        let context = || format!("writing feature view `{}`", t.view.name);
        let mut views = Vec::with_capacity(per_shard.len());
        for picks in &per_shard {
            let mut view = ViewBuilder::new(
                &t.view.name,
                t.join_keys.clone(),
                t.view.fields.clone(),
                t.view.ttl,
                t.has_created,
            );
            let segs = &t.segments;
            view.push_times(picks.len(), |r| {
                let (event, created) = picks
                    .get(r)
                    .and_then(|p| segs.get(p.seg as usize).map(|s| s.times(p.row as usize)))
                    .unwrap_or((i64::MIN, i64::MIN));
                (Timestamp(event), Some(Timestamp(created)))
            })
            .with_context(context)?;
            views.push(view);
        }
        fill_columns(t, &mut views, &per_shard, consume)?;
        if consume {
            t.segments = Vec::new();
        }
        drop(per_shard);
        builders = builders
            .into_iter()
            .zip(views)
            .map(|(b, v)| b.with_view(v))
            .collect();
    }
    builders
        .into_iter()
        .map(|b| b.finish().context("encoding the snapshot"))
        .collect()
}

/// The positions of `picks` in the order of the source rows they name.
///
/// Winners come in key order, which is random over a source written in time
/// order, so gathering them in that order costs a cache miss or two per cell
/// (on 1M source rows, 100k winners × 20 features, the gather was 40% of a
/// whole `materialize`). Visiting them in source order turns the reads into a
/// forward sweep, and the writes land in the batch's column, small enough to
/// stay in cache.
fn source_order(picks: &[Pick]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..u32::try_from(picks.len()).unwrap_or(u32::MAX)).collect();
    order.sort_unstable_by_key(|&i| picks.get(i as usize).map(|p| (p.seg, p.row)));
    order
}

/// Fills every column of `views` (one per shard, each started with its
/// times) from the winners `per_shard` picked out of `t`'s segments.
///
/// Each column is a gather of the winners' cells, visited in source order
/// ([`source_order`]), and independent of the others: a group of columns (four per
/// thread) is filled at once, for the same bytes on any thread count. Then,
/// with `consume`, the group's field columns are freed, so the peak stays one
/// group above the snapshot rather than every column.
fn fill_columns(
    t: &mut Table<'_>,
    views: &mut [ViewBuilder],
    per_shard: &[Vec<Pick>],
    consume: bool,
) -> Result<()> {
    let columns: Vec<ColumnSlot> = (0..t.join_keys.len())
        .map(ColumnSlot::Key)
        .chain((0..t.view.fields.len()).map(ColumnSlot::Field))
        .collect();
    // Four columns a thread per group: with one, a group waits on its slowest
    // column (1M source rows x 20 columns on 2 threads: 37 ms to fill, against
    // 30 with four), and the peak grows by only the few columns kept longer.
    let group = 4 * rayon::current_num_threads().max(1);
    let orders: Vec<Vec<u32>> = per_shard.iter().map(|picks| source_order(picks)).collect();
    for slots in columns.chunks(group) {
        for ((view, picks), order) in views.iter_mut().zip(per_shard).zip(&orders) {
            let segs = &t.segments;
            let mut fills: Vec<_> = view
                .column_fills()
                .into_iter()
                .filter(|f| slots.contains(&f.slot()))
                .collect();
            let filled: Vec<verge_core::Result<()>> = fills
                .par_iter_mut()
                .map(|fill| {
                    let slot = fill.slot();
                    fill.fill_in_order(order, |r| {
                        let Some(p) = picks.get(r) else {
                            return CellRef::Null;
                        };
                        let col = segs.get(p.seg as usize).and_then(|s| match slot {
                            ColumnSlot::Key(i) => s.keys.get(i),
                            ColumnSlot::Field(i) => s.fields.get(i).and_then(Option::as_ref),
                        });
                        col.map_or(CellRef::Null, |c| c.cell(p.row as usize))
                    })
                })
                .collect();
            // The first failing column in column order, whatever the
            // thread count: the same error on every run.
            filled
                .into_iter()
                .collect::<verge_core::Result<()>>()
                .with_context(|| format!("writing feature view `{}`", t.view.name))?;
        }
        if consume {
            for slot in slots {
                if let ColumnSlot::Field(i) = *slot {
                    for s in &mut t.segments {
                        if let Some(f) = s.fields.get_mut(i) {
                            *f = None;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
