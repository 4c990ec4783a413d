//! `runw cache info|clear`: look at or empty the compile cache (see `compile_cache`).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::compile_cache::settings::DEFAULT_DIR;
use crate::compile_cache::CompileCache;

#[derive(Args, Debug)]
pub struct Cache {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// Print where the cache is, how many compiled modules it holds and their size
    Info,
    /// Remove every compiled module (they are rebuilt on the next start)
    Clear,
}

pub fn cache(args: Cache) -> Result<()> {
    let Some(cache) = CompileCache::from_env()? else {
        println!("compile cache: off (RUNW_CACHE=off)");
        return Ok(());
    };
    let dir = cache.dir().display();
    match args.action {
        CacheAction::Info => {
            let usage = cache.usage().with_context(|| {
                format!("cannot read the compile cache (default {DEFAULT_DIR})")
            })?;
            println!("dir:     {dir}");
            println!("entries: {}", usage.entries);
            println!("bytes:   {}", usage.bytes);
            println!("max:     {}", cache.max_bytes());
        }
        CacheAction::Clear => {
            let removed = cache.clear()?;
            println!(
                "removed {} entries ({} bytes) from {dir}",
                removed.entries, removed.bytes
            );
        }
    }
    Ok(())
}
