"""The horse-colic pipeline (examples/horse-colic) as a Flyte workflow over verge.

One task per step of `verge run` -- apply, historical, train, materialize, build,
verify -- each calling the `verge` CLI with `--json` and returning typed outputs
that carry verge's content ids. Every step task is cached by Flyte (`cache=True`,
CACHE_VERSION), and its cache key depends on content only: the repository path is
passed to each task but left out of the key (`cache_ignore_input_vars`), and the
content enters as hashes computed by `fingerprint`, the one uncached task.

    pyflyte run workflow.py horse_colic --repo ../horse-colic

Needs `verge` on PATH (or VERGE_BIN) and the example's SQLite source prepared
(`horse-colic-prepare`, see examples/horse-colic/README.md). README.md here says
why the cache keys are built this way and what this replaces from Feast's example.
"""

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flytekit import task, workflow

# Bump to invalidate every cached step at once (e.g. after upgrading verge: a
# new verge may compute other ids from the same content).
CACHE_VERSION = "1"
# The repository's location differs between copies, pods and machines; it says
# where to work, not what the result is, so no cache key may contain it.
WHERE = ("repo",)

MODEL = "surgical_lesion"
SERVICE = "surgical_lesion_v1"
TRAIN_ENTITIES = "train_entities.csv"
HOLDOUT_ENTITIES = "holdout_entities.csv"
SOURCE = "data/horse_colic.db"
# The example's pinned clock ([run] now in verge.toml) and the view's 1-day ttl.
WINDOW = ("2021-06-24T12:00:00Z", "2021-06-25T12:00:00Z")
# The bundle's trained_at, pinned like verge run's clock: the same inputs then
# give the same bundle id on every pod.
TRAINED_AT = WINDOW[1]
BUILD_DIR = "dist"


@dataclass
class Fingerprint:
    """sha256 of each file the pipeline reads: what the cache keys are made of."""

    definitions: str
    source: str
    train_entities: str
    holdout_entities: str


@dataclass
class Applied:
    """The definitions as applied: the hash they were keyed on, and the registry
    version apply left at the head (which covers the apply time, like a commit:
    reported, never part of a downstream key)."""

    definitions_sha256: str
    registry_version: str


@dataclass
class TrainingSet:
    """The point-in-time training set: sha256 of the table `verge historical` wrote."""

    training_set_id: str
    rows: int


@dataclass
class Model:
    """The trained bundle and the definitions id it names."""

    bundle_id: str
    definitions_id: str
    holdout_accuracy: float


@dataclass
class Snapshot:
    """The online snapshot of the window and the definitions id it names."""

    snapshot_id: str
    definitions_id: str
    keys: int


@dataclass
class Build:
    """The edge pair `verge build` wrote into BUILD_DIR, named by its ids."""

    bundle_id: str
    snapshot_id: str
    definitions_id: str


@dataclass
class Verified:
    """The pair, checked: the Wasm module answered exactly as the native core."""

    bundle_id: str
    snapshot_id: str
    requests: int


def verge(repo: str, *args: str) -> dict:
    """Runs `verge -C REPO ARGS --json` and returns its report; a failure raises with verge's message."""
    cmd = [os.environ.get("VERGE_BIN", "verge"), "-C", repo, *args, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    return json.loads(done.stdout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def executed(repo: str, step: str) -> None:
    """Appends STEP to REPO/.verge/flyte-executed: a trace, outside Flyte, that a
    task body ran (a task served from Flyte's cache leaves none)."""
    log = Path(repo) / ".verge" / "flyte-executed"
    log.parent.mkdir(exist_ok=True)
    with log.open("a") as f:
        f.write(step + "\n")


@task(cache=False)
def fingerprint(repo: str) -> Fingerprint:
    """Hashes the files the steps read. Uncached on purpose: it is what notices an edit."""
    root = Path(repo)
    return Fingerprint(
        definitions=sha256(root / "verge.toml"),
        source=sha256(root / SOURCE),
        train_entities=sha256(root / TRAIN_ENTITIES),
        holdout_entities=sha256(root / HOLDOUT_ENTITIES),
    )


@task(cache=True, cache_version=CACHE_VERSION, cache_ignore_input_vars=WHERE)
def apply(repo: str, definitions: str) -> Applied:
    """`verge apply`: record verge.toml; keyed on its content alone."""
    executed(repo, "apply")
    out = verge(repo, "apply", "-m", f"flyte: verge.toml {definitions[:12]}")
    return Applied(definitions_sha256=definitions, registry_version=out["id"])


@task(cache=True, cache_version=CACHE_VERSION, cache_ignore_input_vars=WHERE)
def historical(repo: str, definitions: str, source: str, train_entities: str) -> TrainingSet:
    """`verge historical`: the point-in-time training set; keyed on definitions, source and entities."""
    executed(repo, "historical")
    out = Path(repo) / ".verge" / "flyte-train.csv"
    cmd = [os.environ.get("VERGE_BIN", "verge"), "-C", repo, "historical"]
    cmd += ["--entities", TRAIN_ENTITIES, "--service", SERVICE, "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # `historical` has no --json: its report is the table it writes
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    rows = len(out.read_text().splitlines()) - 1
    return TrainingSet(training_set_id=sha256(out), rows=rows)


@task(cache=True, cache_version=CACHE_VERSION, cache_ignore_input_vars=WHERE)
def train(repo: str, training_set: TrainingSet, holdout_entities: str) -> Model:
    """`verge train`: fit the model; keyed on the training set's id and the holdout table."""
    executed(repo, "train")
    out = verge(
        repo, "train", MODEL, "--entities", TRAIN_ENTITIES, "--holdout", HOLDOUT_ENTITIES,
        "--now", TRAINED_AT,
    )
    return Model(
        bundle_id=out["bundle"],
        definitions_id=out["registry"],
        holdout_accuracy=out["metrics"]["holdout_accuracy"],
    )


@task(cache=True, cache_version=CACHE_VERSION, cache_ignore_input_vars=WHERE)
def materialize(repo: str, definitions: str, source: str) -> Snapshot:
    """`verge materialize`: the online snapshot of WINDOW; keyed on definitions and source."""
    executed(repo, "materialize")
    out = verge(repo, "materialize", *WINDOW)
    (snapshot,) = out["snapshot_ids"]
    keys = sum(v["rows"] for v in out["views"])
    # The definitions id the snapshot names, from verge's own view of it.
    meta = verge(repo, "inspect", snapshot)
    return Snapshot(snapshot_id=snapshot, definitions_id=meta["registry_id"], keys=keys)


@task(cache=True, cache_version=CACHE_VERSION, cache_ignore_input_vars=WHERE)
def build(repo: str, model: Model, snapshot: Snapshot) -> Build:
    """`verge build`: the edge pair of exactly these two ids; keyed on them."""
    executed(repo, "build")
    out = verge(repo, "build", MODEL, "--snapshot", snapshot.snapshot_id, "-o", BUILD_DIR)
    if out["bundle"]["id"] != model.bundle_id:
        raise RuntimeError(f"built bundle {out['bundle']['id']}, trained {model.bundle_id}")
    return Build(
        bundle_id=out["bundle"]["id"],
        snapshot_id=out["snapshot"]["id"],
        definitions_id=out["bundle"]["registry_id"],
    )


@task(cache=True, cache_version=CACHE_VERSION, cache_ignore_input_vars=WHERE)
def verify(repo: str, pair: Build) -> Verified:
    """`verge verify`: the Wasm module against the native core, on the built pair's ids."""
    executed(repo, "verify")
    out = verge(repo, "verify", "--bundle", pair.bundle_id, "--snapshot", pair.snapshot_id)
    if out["mismatches"] != 0:
        raise RuntimeError(f"Wasm and native differ: {out['first_difference']}")
    return Verified(bundle_id=pair.bundle_id, snapshot_id=pair.snapshot_id, requests=out["requests"])


@workflow
def horse_colic(repo: str) -> Verified:
    """apply -> historical -> train, materialize -> build -> verify, as `verge run` orders them."""
    fp = fingerprint(repo=repo)
    applied = apply(repo=repo, definitions=fp.definitions)
    # Downstream keys take the definitions' content hash, never the registry
    # version (which covers apply time); `applied` is passed for the ordering.
    sets = historical(
        repo=repo,
        definitions=applied.definitions_sha256,
        source=fp.source,
        train_entities=fp.train_entities,
    )
    model = train(repo=repo, training_set=sets, holdout_entities=fp.holdout_entities)
    snap = materialize(repo=repo, definitions=applied.definitions_sha256, source=fp.source)
    pair = build(repo=repo, model=model, snapshot=snap)
    return verify(repo=repo, pair=pair)
