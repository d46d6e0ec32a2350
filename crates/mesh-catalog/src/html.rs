//! HTML text: escaping (every piece of repo text goes through [`esc`] or [`attr`]), links that
//! are only ever made from safe schemes, and the page shell every page shares.

/// Escapes text for an element's content.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a double-quoted attribute value.
pub fn attr(s: &str) -> String {
    esc(s)
}

/// A contact as a link when its scheme is one a browser can safely follow (`mailto:`,
/// `https:`, `http:` — validation already insists on these), else as plain text.
pub fn contact(c: &str) -> String {
    let lower = c.to_ascii_lowercase();
    let safe = ["mailto:", "https://", "http://"]
        .iter()
        .any(|s| lower.starts_with(s));
    if !safe {
        return format!("<span class=\"contact\">{}</span>", esc(c));
    }
    let (kind, label) = match lower.strip_prefix("mailto:") {
        Some(_) => ("e-mail", &c["mailto:".len()..]),
        None if lower.contains("oncall")
            || lower.contains("on-call")
            || lower.contains("pager") =>
        {
            ("on-call", c)
        }
        None if lower.contains("chat") || lower.contains("slack") || lower.contains("teams") => {
            ("chat", c)
        }
        None => ("link", c),
    };
    format!(
        "<a class=\"contact\" data-kind=\"{kind}\" href=\"{}\">{}</a> <span class=\"muted\">({kind})</span>",
        attr(c),
        esc(label)
    )
}

/// The file name of a product's page (ids are `[a-z0-9.-]`, safe as file names).
pub fn product_file(id: &str) -> String {
    format!("products/{id}.html")
}

pub fn domain_file(name: &str) -> String {
    format!("domains/{name}.html")
}

/// Where a page sits: the prefix that leads back to the site's root from it.
#[derive(Clone, Copy)]
pub enum Depth {
    Root,
    Sub,
}

impl Depth {
    pub fn root(self) -> &'static str {
        match self {
            Depth::Root => "",
            Depth::Sub => "../",
        }
    }
}

/// A link to a product's page, from a page at `depth`.
pub fn product_link(depth: Depth, id: &str) -> String {
    format!(
        "<a href=\"{}{}\">{}</a>",
        depth.root(),
        attr(&product_file(id)),
        esc(id)
    )
}

pub fn domain_link(depth: Depth, name: &str) -> String {
    format!(
        "<a href=\"{}{}\">{}</a>",
        depth.root(),
        attr(&domain_file(name)),
        esc(name)
    )
}

/// A badge: `kind` picks the colour class (`quality-authoritative`, `status-deprecated`, …).
pub fn badge(kind: &str, value: &str) -> String {
    format!(
        "<span class=\"badge {kind}-{v}\" title=\"{kind}\">{}</span>",
        esc(value),
        v = attr(value)
    )
}

/// The whole page: head, navigation, `body`, and the scripts it needs (paths from the root).
pub fn page(depth: Depth, title: &str, mesh: &str, body: &str, scripts: &[&str]) -> String {
    let root = depth.root();
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>{} · {} data catalog</title>\n",
        esc(title),
        esc(mesh)
    ));
    out.push_str(&format!(
        "<link rel=\"stylesheet\" href=\"{root}assets/catalog.css\">\n</head>\n<body>\n"
    ));
    out.push_str(&format!(
        "<header class=\"top\"><a class=\"brand\" href=\"{root}index.html\">{} data catalog</a>\
         <nav><a href=\"{root}index.html\">Products</a> <a href=\"{root}domains.html\">Domains</a> \
         <a href=\"{root}lineage.html\">Lineage</a> <a href=\"{root}policies.html\">Policies</a></nav></header>\n<main>\n",
        esc(mesh)
    ));
    out.push_str(body);
    out.push_str("</main>\n");
    for s in scripts {
        out.push_str(&format!("<script src=\"{root}{s}\"></script>\n"));
    }
    out.push_str("</body>\n</html>\n");
    out
}
