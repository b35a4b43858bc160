//! Parsing and checking single values: sizes, modes, hostnames, names, paths inside the
//! container. Pure functions; each error is a sentence that ends up in a diagnostic label.

/// `"64MiB"`, `"1G"`, `"512k"`, `"100"` → bytes. Units k/K/KiB, M/MiB, G/GiB, T/TiB are powers
/// of 1024; KB, MB, GB, TB are powers of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!("\"{text}\" does not start with a number"));
    }
    let number: f64 = number
        .parse()
        .map_err(|_| format!("\"{number}\" is not a number"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "k" | "K" | "KiB" | "kiB" => 1 << 10,
        "m" | "M" | "MiB" => 1 << 20,
        "g" | "G" | "GiB" => 1 << 30,
        "t" | "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit \"{other}\"; use B, KiB, MiB, GiB, TiB (or k, M, G, T; KB, MB, GB, TB)"
            ));
        }
    };
    let bytes = number * multiplier as f64;
    if bytes < 1.0 {
        return Err("a size must be at least 1 byte".into());
    }
    if bytes >= u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(bytes as u64)
}

/// `"1777"`, `"0755"`, `"0o700"` → permission bits.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    if digits.is_empty() || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!(
            "\"{text}\" is not an octal mode such as \"1777\" or \"0755\""
        ));
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|_| format!("\"{text}\" is too large"))?;
    if mode > 0o7777 {
        return Err(format!("\"{text}\" is above 7777"));
    }
    Ok(mode)
}

/// RFC 1123: labels of letters, digits and `-`, not starting or ending with `-`, separated by
/// dots, each at most 63 bytes; at most 64 bytes in all (the kernel's limit).
pub fn check_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a hostname cannot be empty".into());
    }
    if name.len() > 64 {
        return Err(format!("{} bytes long; the limit is 64", name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return Err("has a label longer than 63 bytes".into());
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "contains {bad:?}; only letters, digits, '-' and '.' are allowed"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label cannot start or end with '-'".into());
        }
    }
    Ok(())
}

/// Container names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 128 bytes.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("a name cannot be empty".into()),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(format!("starts with {c:?}; start with a letter or digit"));
        }
        _ => {}
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "contains {bad:?}; use letters, digits, '.', '_' and '-'"
        ));
    }
    if name.len() > 128 {
        return Err(format!("{} bytes long; the limit is 128", name.len()));
    }
    Ok(())
}

/// An absolute path inside the container, normalised (`//` and `.` removed). `..` is refused:
/// a path inside the container never climbs out of it.
pub fn container_path(path: &str) -> Result<String, String> {
    if path.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    if !path.starts_with('/') {
        return Err(format!(
            "\"{path}\" is relative; paths inside the container start with /"
        ));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "\"{path}\" uses \"..\", which could point outside the container"
                ));
            }
            other => parts.push(other),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("1777"), Ok(0o1777));
        assert_eq!(parse_mode("0755"), Ok(0o755));
        assert!(parse_mode("999").is_err());
        assert!(parse_mode("17777").is_err());
        assert!(parse_mode("").is_err());
    }

    #[test]
    fn hostnames() {
        assert!(check_hostname("web-1.example").is_ok());
        assert!(check_hostname("-web").is_err());
        assert!(check_hostname("we_b").is_err());
        assert!(check_hostname("a..b").is_err());
        assert!(check_hostname(&"a".repeat(65)).is_err());
        assert!(check_hostname(&format!("{}.{}", "a".repeat(40), "b".repeat(23))).is_ok());
    }

    #[test]
    fn names() {
        assert!(check_name("web_1.test-x").is_ok());
        assert!(check_name(".hidden").is_err());
        assert!(check_name("a b").is_err());
    }

    #[test]
    fn container_paths() {
        assert_eq!(container_path("/data//x/./y/").as_deref(), Ok("/data/x/y"));
        assert_eq!(container_path("/").as_deref(), Ok("/"));
        assert!(container_path("data").is_err());
        assert!(container_path("/data/../../etc").is_err());
    }
}
