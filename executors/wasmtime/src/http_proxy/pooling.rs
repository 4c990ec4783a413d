//! The engine that serves: wasmtime's pooling instance allocator, as `wasmtime serve` uses
//! by default. A request's instance then takes a slot (memory, tables, stack) reserved once
//! and reset after use, instead of mapping and unmapping its own, which costs every request
//! system calls and, the runtime being multi-threaded, TLB shootdowns.
//! Commands keep the on-demand allocator: the pool's reservation would be paid at every
//! start.

use wasmtime::component::Component;
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Instances the pool holds, hence requests served at once; more wait for a slot
/// ([`crate::http_proxy`]'s handler holds one permit per request). `wasmtime serve` admits
/// as many requests at once by default.
pub const INSTANCES: u32 = 1000;

/// `component`, loaded again into an engine of the same configuration with the pooling
/// allocator; `None` when that engine cannot be made (its virtual reservation refused, by
/// `ulimit -v` say), and the component is served as it is.
pub fn reload(component: &Component) -> Option<(Engine, Component)> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(INSTANCES)
        .total_core_instances(INSTANCES)
        .total_memories(INSTANCES)
        .total_tables(INSTANCES)
        .total_stacks(INSTANCES);
    let mut config = crate::engine::config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).ok()?;
    let bytes = component.serialize().ok()?;
    // SAFETY: `bytes` were serialized just now, by this wasmtime, from a component it had
    // loaded (and which runw had authenticated, or which it compiled itself); the engine
    // differs from the one that made them only in its instance allocator, and wasmtime
    // checks their compatibility anyway.
    let component = unsafe { Component::deserialize(&engine, &bytes) }.ok()?;
    Some((engine, component))
}
