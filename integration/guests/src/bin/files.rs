//! `files read PATH`: prints the file. `files write PATH TEXT`: writes TEXT, then reads it
//! back. Exits 1 with the error on stderr when the operation fails.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("read") => std::fs::read_to_string(&args[2]).map(|text| print!("{text}")),
        Some("write") => std::fs::write(&args[2], &args[3])
            .and_then(|()| std::fs::read_to_string(&args[2]))
            .map(|text| println!("wrote {text}")),
        _ => {
            eprintln!("usage: files read PATH | files write PATH TEXT");
            Ok(())
        }
    };
    if let Err(err) = result {
        eprintln!("files: {err}");
        std::process::exit(1);
    }
}
