//! The apply run: the plan's phases through the writers (`mesh_plan::apply`, which also writes
//! the catalog records), then a bounded wait until the ACL changes are visible, so that a plan
//! right after an apply shows no changes.

use std::collections::BTreeSet;

use mesh_plan::apply::{ApplyReport, Target, Tick};
use mesh_plan::{Action, ClusterReader, LiveState, Plan};

/// Where and how a plan is applied.
pub struct ApplyRun<'a> {
    /// The writers (the registry's when the plan has schema actions).
    pub target: Target<'a>,
    /// The reader the ACLs are watched through while they settle.
    pub reader: &'a dyn ClusterReader,
    /// What the plan was made from: the ACLs before it.
    pub live: &'a LiveState,
    /// The principals whose ACLs the plan manages.
    pub principals: &'a BTreeSet<String>,
    pub catalog_topic: &'a str,
    /// When, in RFC 3339: recorded in the catalog records.
    pub now: &'a str,
    /// Asked before each batch: true stops the run after the running batch (Ctrl-C, SIGTERM).
    pub stop: &'a (dyn Fn() -> bool + Sync),
}

/// How an apply went.
#[derive(Clone, Debug)]
pub struct Applied {
    pub report: ApplyReport,
    /// False when the ACL changes were not all visible before the caller stopped waiting (a
    /// plan made now may show them once more).
    pub acls_settled: bool,
}

/// Applies `plan` (which must have no errors): phase by phase in SPEC order, stopping at the
/// first failed phase; `progress` hears about each finished phase (name, done, failed). When
/// everything went through and ACLs changed, waits until the reader shows them, calling `pause`
/// between two looks; `pause` returns false when the caller stops waiting.
pub fn apply(
    plan: &Plan,
    run: &ApplyRun<'_>,
    progress: &mut dyn FnMut(&str, usize, usize),
    pause: &mut dyn FnMut() -> bool,
) -> Applied {
    apply_watched(plan, run, progress, pause, &|_| {})
}

/// [`apply`], telling `tick` how far each phase has got while it runs (after each batch and
/// each registry request; called from the threads that send them).
pub fn apply_watched(
    plan: &Plan,
    run: &ApplyRun<'_>,
    progress: &mut dyn FnMut(&str, usize, usize),
    pause: &mut dyn FnMut() -> bool,
    tick: &(dyn Fn(Tick<'_>) + Sync),
) -> Applied {
    let pause = std::cell::RefCell::new(pause);
    // Connectors start only once the ACLs they need are visible (a sink task the broker
    // refuses fails for good).
    let wait = || {
        let mut pause = pause.borrow_mut();
        settle_acls(plan, run.live, run.principals, run.reader, &mut **pause);
    };
    let target = Target {
        cluster: run.target.cluster,
        registry: run.target.registry,
        connect: run.target.connect,
        before_connectors: Some(run.target.before_connectors.unwrap_or(&wait)),
    };
    let report = mesh_plan::apply::apply_watched(
        plan,
        &target,
        run.catalog_topic,
        run.now,
        progress,
        run.stop,
        tick,
    );
    let pause = pause.into_inner();
    let acls_changed = plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateAcl { .. } | Action::DeleteAcl { .. }));
    let acls_settled = if report.failed() == 0 && !report.interrupted && acls_changed {
        settle_acls(plan, run.live, run.principals, run.reader, pause)
    } else {
        true
    };
    Applied {
        report,
        acls_settled,
    }
}

/// ACL changes reach every broker through the metadata log a moment after the request returns,
/// and a broker applies that log in order: a change committed after new topics shows only once
/// their partition logs exist. ACL creates go before the topics (so the first look usually sees
/// them); ACL deletes come after, and may wait for the broker.
/// Looks until the reader shows the ACLs read before the apply with the plan's changes made,
/// calling `pause` between looks. A transient read failure is looked past (the read may be sent
/// again); any other gives up waiting without a complaint: the apply itself went through.
/// Returns whether the ACLs were seen settled (or the reader could not say).
pub fn settle_acls(
    plan: &Plan,
    before: &LiveState,
    principals: &BTreeSet<String>,
    reader: &dyn ClusterReader,
    pause: &mut dyn FnMut() -> bool,
) -> bool {
    let mut expected = before.acls.clone();
    for a in &plan.actions {
        match a {
            Action::CreateAcl { binding } => {
                expected.insert(binding.clone());
            }
            Action::DeleteAcl { binding } => {
                expected.remove(binding);
            }
            _ => {}
        }
    }
    loop {
        match reader.acls_of(principals) {
            Ok(acls) if acls == expected => return true,
            Ok(_) => {}
            Err(e) if e.retryable(true) => {}
            Err(_) => return true,
        }
        if !pause() {
            return false;
        }
    }
}
