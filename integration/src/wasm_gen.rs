//! Modules made to measure for the security suite: large enough that compiling them takes
//! real memory and time, optionally invalid in their very last function, optionally padded
//! with a large custom section (bytes an engine must read but never compiles).
//!
//! Each module imports WASI's `proc_exit` (engines judge the WASI version by the imports) and
//! exports `_start`, which returns at once (exit 0), and a memory, plus `n` functions of `ops` arithmetic
//! steps each.

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub functions: usize,
    pub ops: usize,
    /// The last function leaves an i64 where its type says i32: a validation error that a
    /// compiler meets only after compiling everything before it.
    pub invalid_last: bool,
    /// Bytes of a custom section.
    pub padding: usize,
    /// Makes modules of equal shape differ (so that each is a cache miss of its own).
    pub seed: u32,
}

pub fn module(shape: Shape) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    // Types: 0 = (i32) -> i32, 1 = () -> (), 2 = (i32) -> ().
    section(
        &mut out,
        1,
        &[
            &[3][..],
            &[0x60, 1, 0x7f, 1, 0x7f],
            &[0x60, 0, 0],
            &[0x60, 1, 0x7f, 0],
        ]
        .concat(),
    );
    // Imports: function 0 = wasi_snapshot_preview1.proc_exit.
    let mut imports = leb(1);
    imports.extend(name("wasi_snapshot_preview1"));
    imports.extend(name("proc_exit"));
    imports.extend([0, 2]);
    section(&mut out, 2, &imports);
    // Functions: `functions` of type 0, then _start of type 1.
    let mut funcs = leb(shape.functions as u32 + 1);
    funcs.extend(std::iter::repeat_n(0u8, shape.functions));
    funcs.push(1);
    section(&mut out, 3, &funcs);
    // One page of memory (WASI engines want an exported memory).
    section(&mut out, 5, &[1, 0, 1]);
    // Exports: _start, memory.
    let mut exports = leb(2);
    exports.extend(name("_start"));
    exports.push(0);
    exports.extend(leb(shape.functions as u32 + 1));
    exports.extend(name("memory"));
    exports.extend([2, 0]);
    section(&mut out, 7, &exports);
    // Code.
    let mut code = leb(shape.functions as u32 + 1);
    for f in 0..shape.functions {
        let mut body = vec![0u8]; // no locals
        body.extend([0x20, 0]); // local.get 0
        for op in 0..shape.ops {
            body.push(0x41); // i32.const
            body.extend(sleb(
                (op as u32 ^ shape.seed).wrapping_mul(2654435761) as i32 & 0xfffff,
            ));
            body.push(if op % 3 == 0 { 0x6c } else { 0x6a }); // i32.mul / i32.add
            body.extend([0x20, 0, 0x73]); // local.get 0, i32.xor
        }
        if shape.invalid_last && f + 1 == shape.functions {
            body.extend([0x1a, 0x42, 0]); // drop, i64.const 0: returns an i64
        }
        body.push(0x0b);
        code.extend(leb(body.len() as u32));
        code.extend(body);
    }
    code.extend([2, 0, 0x0b]); // _start: no locals, end
    section(&mut out, 10, &code);
    if shape.padding > 0 {
        let mut custom = name("padding");
        custom.resize(custom.len() + shape.padding, 0);
        section(&mut out, 0, &custom);
    }
    out
}

fn section(out: &mut Vec<u8>, id: u8, content: &[u8]) {
    out.push(id);
    out.extend(leb(content.len() as u32));
    out.extend_from_slice(content);
}

fn name(s: &str) -> Vec<u8> {
    let mut out = leb(s.len() as u32);
    out.extend_from_slice(s.as_bytes());
    out
}

fn leb(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(mut n: i32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return out;
        }
    }
}
