//! A program of a few megabytes: parses Rust source with syn, matches it with regex,
//! round-trips a TOML document through serde_json, and assembles and validates a wasm module
//! from text. Prints one line. With the argument `exit` it returns at once: a start of a
//! multi-MB module (loaded and instantiated whole) and nothing else.
use std::collections::BTreeMap;

const SOURCE: &str = r#"
    #[derive(Debug, Clone)]
    pub struct Point<T: Copy> { x: T, y: T }
    impl<T: Copy + std::ops::Add<Output = T>> Point<T> {
        pub fn sum(&self) -> T { self.x + self.y }
    }
    fn main() { let p = Point { x: 1, y: 2 }; println!("{}", p.sum()); }
"#;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("exit") {
        return;
    }
    let file: syn::File = match syn::parse_str(SOURCE) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("parse: {err}");
            std::process::exit(1);
        }
    };
    // Debug, PartialEq, Hash, fold and visit over the whole syntax tree keep most of syn.
    let debug = format!("{file:#?}").len();
    let folded = syn::fold::fold_file(&mut Renamer, file.clone());
    let same = folded == file;
    let mut counter = Counter(0);
    syn::visit::visit_file(&mut counter, &folded);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&folded, &mut hasher);
    let printed = quote::quote!(#folded).to_string();
    let idents = regex::Regex::new(r"\b[A-Za-z_][A-Za-z0-9_]*\b").map(|re| re.find_iter(&printed).count()).unwrap_or(0);
    let doc: BTreeMap<String, toml::Value> =
        toml::from_str("name = \"big\"\nitems = [1, 2, 3]\n").unwrap_or_default();
    let json = serde_json::to_string(&doc).unwrap_or_default();
    let wasm = wat::parse_str("(module (func (export \"f\") (result i32) i32.const 42))").unwrap_or_default();
    let valid = wasmparser::Validator::new().validate_all(&wasm).is_ok();
    println!(
        "wasm={}:{valid} items={} idents={} json={} debug={} same={} visited={} hash={:x}",
        wasm.len(),
        file.items.len(),
        idents,
        json,
        debug,
        same,
        counter.0,
        std::hash::Hasher::finish(&hasher)
    );
}

struct Renamer;

impl syn::fold::Fold for Renamer {
    fn fold_ident(&mut self, ident: proc_macro2::Ident) -> proc_macro2::Ident {
        proc_macro2::Ident::new(&ident.to_string().to_uppercase(), ident.span())
    }
}

struct Counter(usize);

impl<'ast> syn::visit::Visit<'ast> for Counter {
    fn visit_ident(&mut self, _ident: &'ast proc_macro2::Ident) {
        self.0 += 1;
    }
}
