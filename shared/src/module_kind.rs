//! What a file holds, judged by its content: a core wasm module, a component, WebAssembly
//! text, or something else. The runtime uses it to decide wasm or Linux; executors to pick
//! the core or component path.

use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// `\0asm` version 1: a core module (WASI preview 1).
    Core,
    /// `\0asm` with the component layer: a component (WASI preview 2).
    Component,
    /// WebAssembly text (`.wat`), a module or a component.
    Text,
}

const MAGIC: &[u8; 4] = b"\0asm";

/// Judges the first bytes of a file (at least 8 for binaries); `name` is its path, whose
/// `.wat` suffix marks text (text has no magic number).
pub fn classify(head: &[u8], name: &Path) -> Option<ModuleKind> {
    if head.len() >= 8 && &head[..4] == MAGIC {
        // Bytes 4..8: a version (u16) and a layer (u16); layer 1 is a component.
        return Some(if head[6] == 1 && head[7] == 0 {
            ModuleKind::Component
        } else {
            ModuleKind::Core
        });
    }
    let is_wat_name = name.extension().is_some_and(|ext| ext == "wat");
    if is_wat_name && looks_like_text(head) {
        return Some(ModuleKind::Text);
    }
    None
}

/// Text that opens, after whitespace and comments, with `(module` or `(component`.
fn looks_like_text(head: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(head) else {
        // A read may end inside a multi-byte character: judge the valid prefix.
        let valid = std::str::from_utf8(&head[..head.len().saturating_sub(3)]).unwrap_or("");
        return starts_like_wat(valid);
    };
    starts_like_wat(text)
}

fn starts_like_wat(text: &str) -> bool {
    let text = skip_comments(text);
    text.starts_with("(module") || text.starts_with("(component") || text.is_empty()
}

/// The text after leading whitespace and comments (`;; line` and `(; block ;)`).
fn skip_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix(";;") {
            text = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = text.strip_prefix("(;") {
            text = rest.split_once(";)").map_or("", |(_, after)| after);
        } else {
            return text;
        }
    }
}

/// Whether WebAssembly text holds a component: it opens, after whitespace and comments,
/// with `(component`. Text that is not UTF-8 is no component (nor valid text).
pub fn text_is_component(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(|text| skip_comments(text).starts_with("(component"))
}

/// What an engine loads: a core module or a component, in binary or text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub component: bool,
    pub text: bool,
}

impl Program {
    /// The program `bytes` hold (a whole module, binary or text), or `None` for neither.
    pub fn of_bytes(bytes: &[u8]) -> Option<Program> {
        Some(match of_bytes(bytes)? {
            ModuleKind::Core => Program::binary(false),
            ModuleKind::Component => Program::binary(true),
            ModuleKind::Text => Program {
                component: text_is_component(bytes),
                text: true,
            },
        })
    }

    /// The program in the file at `path`: its head judges binaries, text is read whole.
    pub fn of_file(path: &Path) -> std::io::Result<Option<Program>> {
        Ok(match of_file(path)? {
            None => None,
            Some(ModuleKind::Core) => Some(Program::binary(false)),
            Some(ModuleKind::Component) => Some(Program::binary(true)),
            Some(ModuleKind::Text) => Some(Program {
                component: text_is_component(&std::fs::read(path)?),
                text: true,
            }),
        })
    }

    fn binary(component: bool) -> Program {
        Program {
            component,
            text: false,
        }
    }
}

/// Classifies a whole module read from somewhere nameless (an executor's stdin): text
/// counts as text whatever its file was called, since the runtime already judged the file.
pub fn of_bytes(bytes: &[u8]) -> Option<ModuleKind> {
    classify(&bytes[..bytes.len().min(512)], Path::new("module.wat"))
}

/// Reads the head of `path` and classifies it; `Ok(None)` for a file that is not wasm.
/// Opens without blocking and reads only a regular file (a FIFO swapped in must not hang
/// the caller).
pub fn of_file(path: &Path) -> std::io::Result<Option<ModuleKind>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut head = [0u8; 512];
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(classify(&head[..filled], path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_by_magic_whatever_the_name() {
        let core = b"\0asm\x01\0\0\0rest";
        let component = b"\0asm\x0d\0\x01\0rest";
        assert_eq!(classify(core, Path::new("/app")), Some(ModuleKind::Core));
        assert_eq!(
            classify(component, Path::new("x.bin")),
            Some(ModuleKind::Component)
        );
    }

    #[test]
    fn text_needs_the_suffix_and_a_module_form() {
        let wat = b";; hello\n(module (func))";
        assert_eq!(classify(wat, Path::new("/a.wat")), Some(ModuleKind::Text));
        assert_eq!(
            classify(b"(component)", Path::new("c.wat")),
            Some(ModuleKind::Text)
        );
        assert_eq!(classify(wat, Path::new("/a.txt")), None);
        assert_eq!(classify(b"#!/bin/sh\necho", Path::new("/x.wat")), None);
    }

    #[test]
    fn elf_and_scripts_and_short_files_are_not_wasm() {
        assert_eq!(
            classify(b"\x7fELF\x02\x01\x01\0", Path::new("/bin/sh")),
            None
        );
        assert_eq!(classify(b"#!/bin/sh", Path::new("/x.wasm")), None);
        assert_eq!(classify(b"\0asm", Path::new("/x.wasm")), None);
    }

    #[test]
    fn text_components_are_found_behind_any_comment() {
        let component = |text: &str| Program::of_bytes(text.as_bytes()).map(|p| p.component);
        assert_eq!(component("(component)"), Some(true));
        assert_eq!(component(";; a\n\n(component)"), Some(true));
        // A block comment, even one spanning lines and holding `(module`, hides nothing.
        assert_eq!(component("(; a\n(module ;)\n(component)"), Some(true));
        assert_eq!(component("(; one ;) (; two ;) (component)"), Some(true));
        assert_eq!(component("(; (component) ;)\n(module)"), Some(false));
        assert_eq!(component(";; (component)\n(module)"), Some(false));
        assert_eq!(
            Program::of_bytes(b"\0asm\x0d\0\x01\0"),
            Some(Program {
                component: true,
                text: false
            })
        );
        assert_eq!(Program::of_bytes(b"#!/bin/sh"), None);
    }
}
