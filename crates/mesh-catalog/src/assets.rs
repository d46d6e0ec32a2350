//! The site's hand-written script and style sheet, compiled into the binary so a site never
//! depends on anything fetched at view time.

/// Relative path → contents.
pub fn files() -> [(&'static str, &'static str); 2] {
    [
        ("assets/catalog.css", include_str!("../assets/catalog.css")),
        ("assets/catalog.js", include_str!("../assets/catalog.js")),
    ]
}
